r"""A1111 attention syntax: `(word)`, `((word))`, `(word:1.3)`, `[word]`, `\(` escapes, BREAK.

Weights multiply as in AUTOMATIC1111: `(x)` is x1.1, `[x]` is /1.1, `(x:w)` sets factor w, and
nested groups multiply; round and square brackets pair each kind on its own, as in A1111. The
text is read from `prompts.scanner`'s tokens, so escapes follow its one rule; an escaped
character is written without its backslash.

Where A1111 guesses, this parser stops with an error naming the position: unbalanced brackets,
a weight that is not a plain decimal (`1,2`, `1e-1`, `1.2.3`), a weight beyond ±10, nested
weights beyond ±100. Otherwise it reads what A1111's `parse_prompt_attention` reads, with two
differences on purpose: `\:` is a literal colon (A1111's attention parser drops that backslash
and may then read a weight; its prompt-editing grammar escapes `\:` as we do), and BREAK stays
a BREAK under any weight (A1111 merges it into the text when an enclosing weight is 0).
Weights are rounded to 6 decimals before neighbours are merged.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from prompts.scanner import Kind, Token, scan_prompt

ROUND_FACTOR = 1.1
SQUARE_FACTOR = 1 / 1.1
MAX_WEIGHT = 10.0  # an explicit (word:w) weight; A1111 users rarely go past 2
MAX_COMBINED_WEIGHT = 100.0  # after nested groups multiply

# What may follow a colon to close a group with a weight. A1111 reads only `[+-]?[.\d]+`; the
# wider pattern catches near misses (`1,2`, `1e-1`) to report them instead of reading text.
_WEIGHT = re.compile(r":\s*(?P<weight>[-+]?[\d.,]+(?:[eE][-+]?\d+)?)\s*\)")
_PLAIN_DECIMAL = re.compile(r"[-+]?[\d.]+")
_BREAK = re.compile(r"\s*\bBREAK\b\s*")
_KEPT_IN_RUN = frozenset("()[]\\")  # A1111's own escapes; any other backslash ends a run of text
_CLOSES = {")": "(", "]": "["}


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


@dataclass(frozen=True)
class _Piece:
    text: str
    position: int
    round_group: int  # the innermost round group open when the text was read; 0 is none
    square_group: int
    is_break: bool = False


class _Groups:
    """The bracket groups of one kind, as a tree: parents come before their children, so one
    pass from the root gives every group's combined weight (linear, unlike multiplying every
    piece of a group at its close). Round and square groups are two trees because their pairs
    may cross, as in A1111."""

    def __init__(self) -> None:
        self.parent = [0]
        self.factor = [1.0]
        self.open: list[int] = []

    @property
    def innermost(self) -> int:
        return self.open[-1] if self.open else 0

    def push(self) -> None:
        self.parent.append(self.innermost)
        self.factor.append(1.0)
        self.open.append(len(self.parent) - 1)

    def close(self, factor: float) -> None:
        self.factor[self.open.pop()] = factor

    def combined(self) -> list[tuple[float, float, float]]:
        """Per group: the product of the factors down to it and, to recover when that product
        over- or underflows in an absurd nesting, the sum of their log-magnitudes and the
        product of their signs (0 when a factor is 0)."""
        out = [(1.0, 0.0, 1.0)]
        for parent, factor in zip(self.parent[1:], self.factor[1:], strict=True):
            product, log, sign = out[parent]
            log += math.log(abs(factor)) if factor else 0.0
            out.append((product * factor, log, sign * math.copysign(1.0, factor) * bool(factor)))
        return out


def parse_weighted(text: str) -> list[WeightedSegment]:
    """Parse a prompt into weighted segments, merging neighbours of equal weight."""
    scan = scan_prompt(text)
    tokens = scan.tokens
    groups = {"(": _Groups(), "[": _Groups()}
    pieces: list[_Piece] = []
    unclosed: dict[str, int] = {}  # the last bracket of each kind that is never closed
    run: list[str] = []
    run_start = 0

    def flush() -> None:
        if run:
            _add_text(pieces, "".join(run), run_start, groups)
            run.clear()

    index = 0
    while index < len(tokens):
        token = tokens[index]
        char = text[token.start]
        weight = None
        if char == ":" and token.kind is Kind.SEPARATOR:
            weight = _WEIGHT.match(text, token.start)
        if token.kind is Kind.OPEN and char in "([":
            flush()
            if token.partner is None:
                unclosed[char] = token.start
            else:
                groups[char].push()
        elif token.kind is Kind.CLOSE and char in ")]":
            flush()
            _close(groups, token, char, ROUND_FACTOR if char == ")" else SQUARE_FACTOR)
        elif weight is not None:
            flush()
            while tokens[index].end < weight.end():
                index += 1
            _close(groups, tokens[index], ")", weight)
        else:
            if not run:
                run_start = token.start
            if token.kind is not Kind.ESCAPE:
                run.append(scan.source(token))
            else:
                escaped = scan.escaped(token)
                if escaped not in _KEPT_IN_RUN:
                    flush()
                    run_start = token.start
                run.append(escaped)
        index += 1
    flush()

    for char in "([":
        if char in unclosed:
            raise PromptSyntaxError(f"'{char}' is never closed", unclosed[char])
    return _merge(_weigh(pieces, groups))


def _close(
    groups: dict[str, _Groups], token: Token, char: str, factor: float | re.Match[str]
) -> None:
    """Close the group that `token` (a `char`) ends, with a factor or a written weight."""
    if token.partner is None:
        raise PromptSyntaxError(f"'{char}' has no matching '{_CLOSES[char]}'", token.start)
    if isinstance(factor, re.Match):
        factor = _read_weight(factor)
    groups[_CLOSES[char]].close(factor)


def _read_weight(match: re.Match[str]) -> float:
    written, at = match.group("weight"), match.start("weight")
    try:
        if not _PLAIN_DECIMAL.fullmatch(written):
            raise ValueError(written)
        factor = float(written)
    except ValueError:
        raise PromptSyntaxError(f"weight {written!r} is not a number like 1.2", at) from None
    if not math.isfinite(factor) or abs(factor) > MAX_WEIGHT:
        limits = f"-{MAX_WEIGHT:g} to {MAX_WEIGHT:g}"
        raise PromptSyntaxError(f"weight {written} is outside {limits}", at)
    return factor


def _add_text(pieces: list[_Piece], text: str, position: int, groups: dict[str, _Groups]) -> None:
    """One run of text, split at BREAK, as pieces of the groups open now."""
    inside = (groups["("].innermost, groups["["].innermost)
    at = 0
    for match in _BREAK.finditer(text):
        if match.start() > at:
            pieces.append(_Piece(text[at : match.start()], position + at, *inside))
        pieces.append(_Piece("BREAK", position + match.start(), *inside, is_break=True))
        at = match.end()
    if at < len(text):
        pieces.append(_Piece(text[at:], position + at, *inside))


def _weigh(pieces: list[_Piece], groups: dict[str, _Groups]) -> list[tuple[str, float, bool]]:
    """Each piece with its weight, the product of its round and square groups' weights."""
    round_weights, square_weights = groups["("].combined(), groups["["].combined()
    weighed = []
    for piece in pieces:
        if piece.is_break:
            weighed.append((piece.text, -1.0, True))
            continue
        round_product, round_log, round_sign = round_weights[piece.round_group]
        square_product, square_log, square_sign = square_weights[piece.square_group]
        weight = round_product * square_product
        if round_sign * square_sign == 0:
            weight = 0.0
        elif weight == 0 or not math.isfinite(weight):
            magnitude = math.exp(min(round_log + square_log, 700.0))
            weight = round_sign * square_sign * magnitude
        if abs(weight) > MAX_COMBINED_WEIGHT:
            raise PromptSyntaxError(
                f"nested groups give {piece.text.strip()[:40]!r} a weight beyond "
                f"±{MAX_COMBINED_WEIGHT:g}",
                piece.position,
            )
        weighed.append((piece.text, weight, False))
    return weighed


def _merge(pieces: list[tuple[str, float, bool]]) -> list[WeightedSegment]:
    """Join neighbours of equal weight (rounded to 6 decimals); a BREAK joins nothing."""
    runs: list[tuple[list[str], float, bool]] = []
    for text, weight, is_break in pieces:
        weight = round(weight, 6)
        if runs and not is_break and not runs[-1][2] and runs[-1][1] == weight:
            runs[-1][0].append(text)
        else:
            runs.append(([text], weight, is_break))
    return [WeightedSegment("".join(texts), weight, brk) for texts, weight, brk in runs]


def strip_weights(text: str) -> str:
    """The prompt as plain text: brackets and weights removed, escapes resolved, BREAK dropped."""
    plain = " ".join(s.text.strip() for s in parse_weighted(text) if not s.is_break)
    return re.sub(r"\s+", " ", re.sub(r"\s+([,.])", r"\1", plain)).strip()


def has_weights(text: str) -> bool:
    """Whether the prompt uses any weighting or BREAK."""
    return any(s.weight != 1.0 or s.is_break for s in parse_weighted(text))
