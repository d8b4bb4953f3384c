r"""Wildcards: `{red|green|blue}` options and `__name__` lists, resolved from the image seed.

Syntax (the common part of the sd-dynamic-prompts extension):

- `{a|b|c}` picks one option; options may nest: `{a {big|small} dog|a cat}`.
- `{0.5::a|2::b}` weights options; `{2$$a|b|c}` picks two different options joined by ", ";
  `{1-3$$a|b|c}` picks one to three; `{2$$ and $$a|b|c}` joins them with " and ".
- `__animal__` picks one line of `animal.txt` from `assets/wildcards/` or the user's folder
  (the user's file wins; `#` starts a comment line). Names may use sub-folders: `__places/eu__`.
  Picked text is resolved again, up to `DEFAULT_MAX_DEPTH` levels.

Braces without a top-level `|` are left as they are, so a style's `{prompt}` placeholder and other
literal braces are never mistaken for wildcards; A1111's `[a|b]` alternation is not touched
either. Escapes follow `prompts.scanner`'s one rule: an escaped character is never wildcard
syntax; `\{`, `\}` and `\|` are written without their backslash, other escapes are kept for
the weighting parser. Brackets pair as the scanner pairs them, and a `|` inside a matched
bracket of an option (`{[cat|dog]|fox}`) belongs to that bracket. Resolve on the composed
prompt (after styles are applied), once per image.

The choice depends only on the seed and the text: a `random.Random` is seeded from a SHA-256 of
both and only its `random()` is used, whose sequence Python guarantees across versions and
machines.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prompts.assets import asset_path
from prompts.scanner import Kind, Scan, scan_prompt

DEFAULT_MAX_DEPTH = 10
USER_WILDCARDS_DIRNAME = "wildcards"

_COUNT = re.compile(r"\s*(?:(\d+)\s*(?:-\s*(\d*))?|-\s*(\d+))\s*\$\$")
_OPTION_WEIGHT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)::", re.ASCII)
_OWN_ESCAPES = frozenset("{}|")


class WildcardError(ValueError):
    """A wildcard cannot be resolved (unknown list, empty list, nesting too deep)."""


class UnknownWildcardError(WildcardError):
    """A `__name__` has no list file; `name` is the missing name."""

    def __init__(self, name: str, folders: Sequence[Path]) -> None:
        # Folder paths stay out of the message: a hosted page shows it to strangers.
        super().__init__(
            f"Unknown wildcard __{name}__: no wildcard list is called {name} "
            f"(add {name}.txt to your wildcards folder)."
        )
        self.name = name
        self.folders = tuple(folders)


@dataclass(frozen=True)
class WildcardChoice:
    """One pick: the wildcard as written (`{a|b}` or `__animal__`) and the option chosen."""

    source: str
    chosen: str


@dataclass(frozen=True)
class ResolvedPrompt:
    """The prompt with every wildcard replaced, and the picks in the order they were made."""

    text: str
    choices: tuple[WildcardChoice, ...] = ()


class WildcardLists:
    """The `__name__` lists found in some folders; later folders override earlier ones."""

    def __init__(self, folders: Sequence[str | os.PathLike[str]]) -> None:
        self.folders = [Path(folder) for folder in folders]
        self._paths: dict[str, Path] = {}
        for folder in self.folders:
            if folder.is_dir():
                for path in sorted(folder.rglob("*.txt")):
                    name = path.relative_to(folder).with_suffix("").as_posix()
                    self._paths[name.casefold()] = path

    def names(self) -> list[str]:
        """Every list name, sorted."""
        return sorted(self._paths)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.casefold() in self._paths

    def options(self, name: str) -> list[str]:
        """The options of list `name`: its non-empty lines that are not `#` comments."""
        path = self._paths.get(name.casefold())
        if path is None:
            raise UnknownWildcardError(name, self.folders)
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except UnicodeDecodeError:
            raise WildcardError(f"Wildcard file {path.name} is not UTF-8 text.") from None
        options = [line.strip() for line in lines]
        return [option for option in options if option and not option.startswith("#")]


def user_wildcards_dir(data_dir: str | os.PathLike[str]) -> Path:
    """The folder for the user's own wildcard lists inside the app's data folder."""
    return Path(data_dir) / USER_WILDCARDS_DIRNAME


def load_wildcard_lists(user_folder: str | os.PathLike[str] | None = None) -> WildcardLists:
    """The built-in lists (`assets/wildcards/`) plus, overriding them, the user's folder."""
    folders: list[str | os.PathLike[str]] = [asset_path("wildcards")]
    if user_folder is not None:
        folders.append(user_folder)
    return WildcardLists(folders)


def wildcard_rng(seed: int, text: str) -> random.Random:
    """The random source for one prompt and seed: stable on every machine and Python."""
    digest = hashlib.sha256(f"{int(seed)}\x00{text}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def has_wildcards(text: str) -> bool:
    """Whether the text holds a `{a|b}` group or a `__name__` list."""
    groups = _Groups(scan_prompt(text))
    return any(token.kind is Kind.WILDCARD for token in groups.scan.tokens) or bool(groups.bars)


class _Groups:
    """A scanned text and the `|` tokens that split each matched `{…}` group into options."""

    def __init__(self, scan: Scan) -> None:
        self.scan = scan
        self.bars: dict[int, list[int]] = {}
        for index, token in enumerate(scan.tokens):
            owner = token.owner
            if (
                owner is not None
                and token.kind is Kind.SEPARATOR
                and scan.text[token.start] == "|"
                and scan.text[scan.tokens[owner].start] == "{"
            ):
                self.bars.setdefault(owner, []).append(index)


def resolve_wildcards(
    text: str,
    seed: int,
    lists: WildcardLists | None = None,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> ResolvedPrompt:
    """Replace every wildcard in `text`, choosing from `seed`; the same seed gives the same text.

    Raises `UnknownWildcardError` naming a missing list and `WildcardError` when picks nest
    deeper than `max_depth` (usually a list that names itself).
    """
    resolver = _Resolver(lists or load_wildcard_lists(), wildcard_rng(seed, text), max_depth)
    resolved = resolver.resolve(text, depth=0, chain=())
    return ResolvedPrompt(text=resolved, choices=tuple(resolver.choices))


class _Resolver:
    def __init__(self, lists: WildcardLists, rng: random.Random, max_depth: int) -> None:
        self.lists = lists
        self.rng = rng
        self.max_depth = max_depth
        self.choices: list[WildcardChoice] = []

    def resolve(self, text: str, depth: int, chain: tuple[str, ...]) -> str:
        groups = _Groups(scan_prompt(text))
        whole = _Span(0, len(text), 0, len(groups.scan.tokens))
        return self._resolve_span(groups, whole, depth, chain)

    def _resolve_span(
        self, groups: _Groups, span: _Span, depth: int, chain: tuple[str, ...]
    ) -> str:
        """Resolve the text `span` covers. Options are spans of the text scanned once, so
        nested groups cost no second scan."""
        scan = groups.scan
        if depth > self.max_depth:
            path = " -> ".join(f"__{name}__" for name in dict.fromkeys(chain))
            raise WildcardError(
                f"Wildcards nest deeper than {self.max_depth} levels "
                f"({path or scan.text[span.start : span.end]}); does a list pick itself?"
            )
        out: list[str] = []
        index = span.first
        while index < span.last and scan.tokens[index].end <= span.start:
            index += 1  # the option's count, separator or weight
        while index < span.last:
            token = scan.tokens[index]
            if token.start < span.start:  # an option's count or weight took the first part
                out.append(scan.text[span.start : token.end])
            elif token.kind is Kind.ESCAPE:
                escaped = scan.escaped(token)
                out.append(escaped if escaped in _OWN_ESCAPES else scan.source(token))
            elif token.kind is Kind.WILDCARD:
                name = scan.source(token)[2:-2]
                out.append(self._pick_from_list(name, depth, chain))
            elif index in groups.bars and token.partner is not None and token.partner < span.last:
                source = scan.text[token.start : scan.tokens[token.partner].end]
                options = _options(groups, index)
                out.append(self._pick_options(groups, source, options, depth, chain))
                index = token.partner
            else:
                out.append(scan.source(token))
            index += 1
        return "".join(out)

    def _pick_options(
        self, groups: _Groups, source: str, options: list[_Span], depth: int, chain: tuple[str, ...]
    ) -> str:
        text = groups.scan.text
        low, high, separator = 1, 1, ", "
        first = options[0]
        header = _COUNT.match(text, first.start, first.end)
        if header:
            first.start = header.end()
            lowest, second, upper_only = header.groups()
            if upper_only is not None:
                high = int(upper_only)
            else:
                low = int(lowest)
                high = len(options) if second == "" else int(second) if second else low
            split = text.find("$$", first.start, first.end)
            if split != -1:
                separator, first.start = text[first.start : split], split + 2
        weights: list[float] = []
        for option in options:
            weight = _OPTION_WEIGHT.match(text, option.start, option.end)
            weights.append(float(weight.group(1)) if weight else 1.0)
            if weight:
                option.start = weight.end()
        low, high = max(0, min(low, len(options))), max(0, min(high, len(options)))
        low, high = min(low, high), max(low, high)
        count = low if low == high else low + int(self.rng.random() * (high - low + 1))
        picked: list[_Span] = []
        for _ in range(count):
            at = self._weighted_index(weights, source)
            picked.append(options.pop(at))
            weights.pop(at)
        chosen = separator.join(text[option.start : option.end] for option in picked)
        self.choices.append(WildcardChoice(source=source, chosen=chosen))
        return separator.join(self._resolve_span(groups, p, depth + 1, chain) for p in picked)

    def _pick_from_list(self, name: str, depth: int, chain: tuple[str, ...]) -> str:
        options = self.lists.options(name)
        if not options:
            raise WildcardError(f"Wildcard __{name}__ has no options.")
        chosen = options[int(self.rng.random() * len(options))]
        self.choices.append(WildcardChoice(source=f"__{name}__", chosen=chosen))
        return self.resolve(chosen, depth + 1, (*chain, name))

    def _weighted_index(self, weights: list[float], source: str) -> int:
        total = sum(weights)
        if total <= 0:
            raise WildcardError(f"Wildcard {source} has no option with a weight above zero.")
        target = self.rng.random() * total
        for index, weight in enumerate(weights):
            target -= weight
            if target < 0:
                return index
        return max(i for i, w in enumerate(weights) if w > 0)


@dataclass
class _Span:
    """Characters `[start, end)` of a scanned text, inside tokens `[first, last)`."""

    start: int
    end: int
    first: int
    last: int


def _options(groups: _Groups, opener: int) -> list[_Span]:
    """The options of the `{…}` group opened by token `opener`, split at its own bars."""
    tokens = groups.scan.tokens
    edges = [opener, *groups.bars[opener], tokens[opener].partner]
    return [
        _Span(tokens[before].end, tokens[after].start, before + 1, after)
        for before, after in itertools.pairwise(edges)
    ]
