"""A1111 attention syntax: `(word)`, `((word))`, `(word:1.3)`, `[word]`, `\\(` escapes, BREAK.

Weights multiply as in AUTOMATIC1111: `(x)` is x1.1, `[x]` is /1.1, `(x:w)` sets factor w, and
nested groups multiply. Unlike A1111, unbalanced brackets and malformed weights are errors with
the position where they occur, instead of being guessed at silently.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

ROUND_FACTOR = 1.1
SQUARE_FACTOR = 1 / 1.1
MAX_WEIGHT = 10.0  # an explicit (word:w) weight; A1111 users rarely go past 2
MAX_COMBINED_WEIGHT = 100.0  # after nested groups multiply

_TOKEN = re.compile(
    r"""
    \\[()\[\]\\:]              # escaped bracket, backslash or colon
    | \\                       # lone backslash: literal
    | \(                       # open emphasis
    | \[                       # open de-emphasis
    | :\s*(?P<weight>[-+]?[\d.,]+(?:[eE][-+]?\d+)?)\s*\)   # explicit weight, closes a group
    | \)
    | \]
    | [^\\()\[\]:]+            # plain text
    | :                        # a colon that is not a weight
    """,
    re.VERBOSE,
)
_BREAK = re.compile(r"\s*\bBREAK\b\s*")


class PromptSyntaxError(ValueError):
    """Malformed weighting syntax; `position` is the 0-based index in the prompt."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


@dataclass(frozen=True)
class WeightedSegment:
    """A run of prompt text sharing one weight; `is_break` marks a BREAK (new 75-token chunk)."""

    text: str
    weight: float
    is_break: bool = False


def parse_weighted(text: str) -> list[WeightedSegment]:
    """Parse a prompt into weighted segments, merging neighbours of equal weight."""
    pieces: list[list] = []  # [text, weight, is_break]
    open_round: list[tuple[int, int]] = []  # (index into pieces, char position)
    open_square: list[tuple[int, int]] = []

    def scale(start: int, factor: float) -> None:
        for piece in pieces[start:]:
            if not piece[2]:
                piece[1] *= factor

    for match in _TOKEN.finditer(text):
        token, at = match.group(0), match.start()
        weight = match.group("weight")
        if token.startswith("\\"):
            pieces.append([token[1:] or "\\", 1.0, False])
        elif token == "(":
            open_round.append((len(pieces), at))
        elif token == "[":
            open_square.append((len(pieces), at))
        elif weight is not None:
            if not open_round:
                raise PromptSyntaxError("')' has no matching '('", match.end() - 1)
            try:
                factor = float(weight)
            except ValueError:
                raise PromptSyntaxError(
                    f"weight {weight!r} is not a number", match.start("weight")
                ) from None
            if not math.isfinite(factor) or abs(factor) > MAX_WEIGHT:
                raise PromptSyntaxError(
                    f"weight {weight} is outside -{MAX_WEIGHT:g} to {MAX_WEIGHT:g}",
                    match.start("weight"),
                )
            scale(open_round.pop()[0], factor)
        elif token == ")":
            if not open_round:
                raise PromptSyntaxError("')' has no matching '('", at)
            scale(open_round.pop()[0], ROUND_FACTOR)
        elif token == "]":
            if not open_square:
                raise PromptSyntaxError("']' has no matching '['", at)
            scale(open_square.pop()[0], SQUARE_FACTOR)
        else:
            for index, part in enumerate(_BREAK.split(token)):
                if index:
                    pieces.append(["BREAK", -1.0, True])
                if part:
                    pieces.append([part, 1.0, False])

    if open_round:
        raise PromptSyntaxError("'(' is never closed", open_round[-1][1])
    if open_square:
        raise PromptSyntaxError("'[' is never closed", open_square[-1][1])
    for piece_text, piece_weight, _ in pieces:
        if not math.isfinite(piece_weight) or abs(piece_weight) > MAX_COMBINED_WEIGHT:
            raise PromptSyntaxError(
                f"nested groups give {piece_text.strip()[:40]!r} a weight beyond "
                f"±{MAX_COMBINED_WEIGHT:g}",
                text.find(piece_text),
            )
    return _merge(pieces)


def _merge(pieces: list[list]) -> list[WeightedSegment]:
    merged: list[WeightedSegment] = []
    for text, weight, is_break in pieces:
        weight = round(weight, 6)
        if merged and not is_break and not merged[-1].is_break and merged[-1].weight == weight:
            merged[-1] = WeightedSegment(merged[-1].text + text, weight)
        else:
            merged.append(WeightedSegment(text, weight, is_break))
    return merged


def strip_weights(text: str) -> str:
    """The prompt as plain text: brackets and weights removed, escapes resolved, BREAK dropped."""
    plain = " ".join(s.text.strip() for s in parse_weighted(text) if not s.is_break)
    return re.sub(r"\s+", " ", re.sub(r"\s+([,.])", r"\1", plain)).strip()


def has_weights(text: str) -> bool:
    """Whether the prompt uses any weighting or BREAK."""
    return any(s.weight != 1.0 or s.is_break for s in parse_weighted(text))
