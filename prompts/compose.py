"""Turn a `Recipe` into the final positive and negative prompts.

The positive prompt is built as follows, always in this order:

1. the recipe's fields, in `POSITIVE_FIELD_ORDER` (subject first, quality terms last);
2. each chosen style in turn, through its `{prompt}` placeholder (a template without the
   placeholder is joined after the prompt with a comma, as AUTOMATIC1111 does);
3. clean-up: the text is split into comma-separated terms (commas inside matched `()`, `[]`,
   `{}` or a `<lora:…>` tag, and escaped ones, do not split; see `prompts.scanner`), spaces
   are collapsed, empty terms dropped and repeated terms removed, keeping the first. Terms
   compare case- and space-insensitively, but exactly as written otherwise, so `(red:1.3)`
   and `red` are different terms. `BREAK` is never removed.

The negative prompt is the recipe's negative terms, then each style's negative prompt merged
in turn exactly like the positive one (AUTOMATIC1111's `apply_negative_styles_to_prompt`: a
`{prompt}` in a style's negative takes the negative so far, otherwise the style's negative is
joined after it), cleaned the same way. Weighting (`(red:1.3)`), wildcards (`{a|b}`,
`__animal__`) and BREAK pass through untouched; wildcards are resolved later, per image seed,
by `prompts.wildcards`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from prompts.recipe import Recipe
from prompts.scanner import Kind, scan_prompt
from prompts.styles import Style, StyleError, apply_style_template

POSITIVE_FIELD_ORDER: tuple[str, ...] = (
    "subject",
    "details",
    "medium",
    "lighting",
    "camera",
    "composition",
    "mood",
    "colour",
    "free_text",
    "quality",
)

_SPACES = re.compile(r"\s+")


class StyleLookup(Protocol):
    """Anything that finds a style by name (a `StyleLibrary`)."""

    def get(self, name: str) -> Style: ...


@dataclass(frozen=True)
class ComposedPrompt:
    """The prompts sent to the model, and how they were made: the styles applied (their
    canonical names, in order) and the repeated terms that were dropped."""

    positive: str
    negative: str
    styles: tuple[str, ...] = ()
    removed_duplicates: tuple[str, ...] = ()


def split_terms(text: str) -> list[str]:
    """Split at top-level commas: not inside a matched (), [], {} or tag, and not escaped (`\\,`).

    Terms are returned unstripped. A bracket that is never closed protects nothing.
    """
    terms: list[str] = []
    start = 0
    scan = scan_prompt(text)
    for token in scan.tokens:
        if token.kind is Kind.SEPARATOR and token.owner is None and text[token.start] == ",":
            terms.append(text[start : token.start])
            start = token.end
    terms.append(text[start:])
    return terms


def term_key(term: str) -> str:
    """What makes two terms the same: case-folded, spaces collapsed."""
    return _SPACES.sub(" ", term).strip().casefold()


def clean_terms(parts: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split every part into terms, tidy spaces, drop empties and repeats (first one wins).

    Returns the kept terms and the removed repeats.
    """
    kept: list[str] = []
    removed: list[str] = []
    seen: set[str] = set()
    for part in parts:
        for raw in split_terms(part):
            term = _SPACES.sub(" ", raw).strip()
            if not term:
                continue
            key = term_key(term)
            if term != "BREAK" and key in seen:
                removed.append(term)
                continue
            seen.add(key)
            kept.append(term)
    return kept, removed


def clean_prompt(text: str) -> str:
    """Tidy a prompt: one `, ` between terms, single spaces, no empty or repeated terms."""
    return ", ".join(clean_terms([text])[0])


def compose_prompt(recipe: Recipe, library: StyleLookup | None = None) -> ComposedPrompt:
    """Compose a recipe into its final prompts; the same recipe always gives the same text.

    Raises `StyleError` (a `ValueError`) when a style is unknown or no library is given.
    """
    base_parts: list[str] = []
    for name in POSITIVE_FIELD_ORDER:
        value = getattr(recipe, name)
        base_parts.extend([value] if isinstance(value, str) else value)
    base_terms, removed = clean_terms(base_parts)
    positive = ", ".join(base_terms)

    styles = _lookup_styles(recipe.styles, library)
    negative = ", ".join(recipe.negative)
    for style in styles:
        positive = style.apply(positive)
        negative = apply_style_template(style.negative_prompt, negative)

    positive_terms, removed_after_styles = clean_terms([positive])
    negative_terms, removed_negative = clean_terms([negative])
    return ComposedPrompt(
        positive=", ".join(positive_terms),
        negative=", ".join(negative_terms),
        styles=tuple(style.name for style in styles),
        removed_duplicates=tuple(removed + removed_after_styles + removed_negative),
    )


def _lookup_styles(names: Iterable[str], library: StyleLookup | None) -> list[Style]:
    styles: list[Style] = []
    seen: set[str] = set()
    for name in names:
        if not name.strip():
            continue
        if library is None:
            raise StyleError(f"Style '{name}' was chosen but no style library was given.")
        style = library.get(name)
        if style.name.casefold() not in seen:
            seen.add(style.name.casefold())
            styles.append(style)
    return styles
