r"""AUTOMATIC1111's attention parsing, as a reference for the tests (not used by the app).

The reference is `parse_prompt_attention` in `modules/prompt_parser.py` of
AUTOMATIC1111/stable-diffusion-webui (licence AGPL-3.0). This module restates what that function
returns, written for these tests from its behaviour rather than copied, so that no AGPL code
enters this MIT project; `test_weighting.py` pins it to the examples of A1111's own docstring.

What A1111 does, quirks included:

- it reads the text as a sequence of tokens, each the first of these that matches: the escapes
  `\(` `\)` `\[` `\]` `\\`; a lone backslash; `(`; `[`; a colon, optional spaces, a number
  `[+-]?[.\d]+`, optional spaces and `)` (a weighted close); `)`; `]`; a run of characters other
  than `\ ( ) [ ] :`; a lone colon;
- an escape adds its character as text; a lone backslash adds nothing;
- `(` and `[` remember where they opened, on two separate stacks; a close multiplies every piece
  added since its opener by 1.1 (round), 1/1.1 (square) or the number (`float()`, which raises on
  `1.2.3`); a close with nothing open, and every other token, is text;
- text is split at `\s*\bBREAK\b\s*`, each BREAK a piece ["BREAK", -1] that enclosing groups
  multiply like any other;
- at the end, brackets still open multiply what follows them, round ones first;
- an empty result is [["", 1.0]]; neighbours with exactly equal weights are then joined.
"""

from __future__ import annotations

import re

LEXER = re.compile(
    r"""
    (?P<escape>\\[()\[\]\\])
    | (?P<backslash>\\)
    | (?P<open>[(\[])
    | :\s*(?P<weight>[+-]?[.\d]+)\s*\)
    | (?P<close>[)\]])
    | (?P<text>[^\\()\[\]:]+)
    | (?P<colon>:)
    """,
    re.VERBOSE,
)
BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)
FACTORS = {"(": 1.1, "[": 1 / 1.1}


def parse_prompt_attention(text: str) -> list[list]:
    """[[text, weight], ...] as A1111 returns it."""
    pieces = attention_pieces(text)
    joined = [pieces[0]]
    for piece in pieces[1:]:
        if piece[1] == joined[-1][1]:
            joined[-1][0] += piece[0]
        else:
            joined.append(piece)
    return joined


def attention_pieces(text: str) -> list[list]:
    """The pieces before neighbours of equal weight are joined."""
    pieces: list[list] = []
    opened: dict[str, list[int]] = {"(": [], "[": []}

    def scale_since(start: int, factor: float) -> None:
        for piece in pieces[start:]:
            piece[1] *= factor

    for match in LEXER.finditer(text):
        kind, written = match.lastgroup, match.group(0)
        if kind == "escape":
            pieces.append([written[1], 1.0])
        elif kind == "backslash":
            pieces.append(["", 1.0])
        elif kind == "open":
            opened[written].append(len(pieces))
        elif match.group("weight") is not None and opened["("]:
            scale_since(opened["("].pop(), float(match.group("weight")))
        elif kind == "close" and opened["(" if written == ")" else "["]:
            bracket = "(" if written == ")" else "["
            scale_since(opened[bracket].pop(), FACTORS[bracket])
        else:
            for index, part in enumerate(BREAK.split(written)):
                if index:
                    pieces.append(["BREAK", -1])
                pieces.append([part, 1.0])

    for bracket in "([":
        for start in opened[bracket]:
            scale_since(start, FACTORS[bracket])
    return pieces or [["", 1.0]]
