"""User text made inert before the page shows it.

Gradio renders toast messages (`gr.Error`, `gr.Warning`, `gr.Info`) and `gr.Markdown` as
HTML, so text that came from a visitor — a tag, a note, a prompt, a model name echoed in an
engine error — could inject markup (an `<img>` the browser fetches, a link). `shown` escapes a
message for a toast; `md_text` makes text literal inside Markdown as well.
"""

from __future__ import annotations

import html

_MARKDOWN_SPECIALS = set("\\`*_[]<>|&~#$")


def shown(message: object) -> str:
    """`message` as text for a toast: HTML special characters escaped."""
    return html.escape(str(message), quote=False)


def md_text(text: object) -> str:
    """`text` shown literally in Markdown (inline, e.g. a table cell): the characters that make
    HTML, links, code, emphasis, tables or math become numeric character references, and line
    breaks become spaces."""
    flat = " ".join(str(text).split())
    return "".join(f"&#{ord(ch)};" if ch in _MARKDOWN_SPECIALS else ch for ch in flat)


def error_line(message: object) -> str:
    """An error as a status line's Markdown: a warning sign and the sentence, shown literally
    (`message` may come escaped for a toast already)."""
    return f"⚠ **{md_text(html.unescape(str(message)))}**"
