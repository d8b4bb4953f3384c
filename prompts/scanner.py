r"""One scanner for prompt text: escapes, brackets, tags and wildcard names, in one linear pass.

Every grammar of a prompt reads the same tokens, so they agree on what is syntax:

- **One escape rule.** A backslash takes the character after it out of every grammar: `\(`,
  `\,`, `\{`, `\|`, `\:` and `\\` are text to all of them. A backslash at the very end
  escapes nothing. (What an escape *turns into* is each grammar's business: the weighting
  drops the backslash, as AUTOMATIC1111 does; wildcards keep it for the weighting to read.)
- **Brackets** `()`, `[]` and `{}` pair as AUTOMATIC1111 pairs them: each kind on its own
  stack, so `(a [b) c]` is two crossing pairs. A bracket with no partner stays unmatched.
- **Tags** `<name:…>` (LoRA, hypernetwork) pair their `<` and `>` like brackets; a `<` or `>`
  that is not part of a tag is text.
- **Wildcard names** `__name__` (letters, digits, `_ - /`) are single tokens.
- `:`, `,` and `|` are separators; everything else is text.

Each token knows its `owner`: the innermost matched bracket or tag around it (`None` at the top
level), which is what term splitting (top-level commas) and wildcards (a group's own `|`)
need. Scanning is one pass plus one pass for owners, linear in the length of the text.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

_OPENER_OF = {")": "(", "]": "[", "}": "{"}

_LEXEME = re.compile(
    r"""
    (?P<escape>\\.?)
    | (?P<bracket>[()\[\]{}<>])
    | (?P<separator>[:,|])
    | (?P<wildcard>__[A-Za-z0-9][A-Za-z0-9_\-/]*?__)
    | (?P<text>[^\\()\[\]{}<>:,|_]+|_)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE, _SEPARATOR, _WILDCARD, _TEXT = (
    _LEXEME.groupindex[name] for name in ("escape", "separator", "wildcard", "text")
)
_TAG_HEAD = re.compile(r"<\w+:")


class Kind(enum.Enum):
    """What a token is."""

    TEXT = "text"
    ESCAPE = "escape"  # a backslash and the character it escapes (or a lone final backslash)
    OPEN = "open"  # ( [ { or the < of a tag
    CLOSE = "close"  # ) ] } or the > of a tag
    SEPARATOR = "separator"  # : , |
    WILDCARD = "wildcard"  # __name__


@dataclass(slots=True)
class Token:
    """A slice `[start, end)` of the scanned text. Brackets carry the index of their `partner`
    (None when unmatched); every token carries its `owner`, the index of the innermost matched
    opening bracket or tag around it (None at the top level)."""

    kind: Kind
    start: int
    end: int
    partner: int | None = None
    owner: int | None = None


@dataclass(frozen=True)
class Scan:
    """A scanned prompt: its text and tokens, in order, covering the text without gaps."""

    text: str
    tokens: list[Token]

    def source(self, token: Token) -> str:
        """The token as written."""
        return self.text[token.start : token.end]

    def escaped(self, token: Token) -> str:
        """The character an ESCAPE token escapes ('' for a lone final backslash)."""
        return self.text[token.start + 1 : token.end]


def scan_prompt(text: str) -> Scan:
    """Scan `text` into tokens with brackets paired and owners set (linear time)."""
    tokens: list[Token] = []
    append = tokens.append
    stacks: dict[str, list[int]] = {"(": [], "[": [], "{": []}
    tag_start: int | None = None  # the token index of the last '<' that may start a tag
    for match in _LEXEME.finditer(text):
        start, end = match.span()
        group = match.lastindex
        if group == _TEXT:
            append(Token(Kind.TEXT, start, end))
        elif group == _SEPARATOR:
            append(Token(Kind.SEPARATOR, start, end))
        elif group == _ESCAPE:
            append(Token(Kind.ESCAPE, start, end))
        elif group == _WILDCARD:
            append(Token(Kind.WILDCARD, start, end))
        elif (char := text[start]) in stacks:
            stacks[char].append(len(tokens))
            append(Token(Kind.OPEN, start, end))
        elif char == "<":
            tag_start = len(tokens) if _TAG_HEAD.match(text, start) else None
            append(Token(Kind.TEXT, start, end))
        elif char == ">":
            if tag_start is None:
                append(Token(Kind.TEXT, start, end))
            else:
                tokens[tag_start].kind = Kind.OPEN
                tokens[tag_start].partner = len(tokens)
                append(Token(Kind.CLOSE, start, end, tag_start))
                tag_start = None
        else:
            stack = stacks[_OPENER_OF[char]]
            partner = stack.pop() if stack else None
            if partner is not None:
                tokens[partner].partner = len(tokens)
            append(Token(Kind.CLOSE, start, end, partner))
    _set_owners(tokens)
    return Scan(text, tokens)


def _set_owners(tokens: list[Token]) -> None:
    """Give every token the innermost matched opener around it. Pairs may cross, so a closed
    opener can sit below the top of the stack; it is dropped when it surfaces."""
    open_pairs: list[int] = []
    closed = bytearray(len(tokens))
    for index, token in enumerate(tokens):
        if token.partner is not None and token.kind is Kind.CLOSE:
            closed[token.partner] = 1
        while open_pairs and closed[open_pairs[-1]]:
            open_pairs.pop()
        token.owner = open_pairs[-1] if open_pairs else None
        if token.partner is not None and token.kind is Kind.OPEN:
            open_pairs.append(index)
