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
either. `\{`, `\}` and `\|` give literal characters. Resolve on the composed prompt (after
styles are applied), once per image.

The choice depends only on the seed and the text: a `random.Random` is seeded from a SHA-256 of
both and only its `random()` is used, whose sequence Python guarantees across versions and
machines.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prompts.assets import asset_path

DEFAULT_MAX_DEPTH = 10
USER_WILDCARDS_DIRNAME = "wildcards"

_LIST_NAME = re.compile(r"__([A-Za-z0-9][A-Za-z0-9_\-/]*?)__")
_COUNT = re.compile(r"\s*(?:(\d+)\s*(?:-\s*(\d*))?|-\s*(\d+))\s*\$\$")
_OPTION_WEIGHT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)::", re.ASCII)
_OPENERS = {"{": "}", "(": ")", "[": "]"}


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
    return _LIST_NAME.search(text) is not None or any(
        len(_split_top_level(text[start + 1 : end], "|")) > 1 for start, end in _brace_groups(text)
    )


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
        if depth > self.max_depth:
            path = " -> ".join(f"__{name}__" for name in dict.fromkeys(chain)) or text
            raise WildcardError(
                f"Wildcards nest deeper than {self.max_depth} levels ({path}); "
                "does a list pick itself?"
            )
        out: list[str] = []
        index = 0
        while index < len(text):
            char = text[index]
            if char == "\\" and index + 1 < len(text):
                following = text[index + 1]
                out.append(following if following in "{}|" else text[index : index + 2])
                index += 2
                continue
            if char == "{":
                end = _matching_close(text, index)
                if end is not None:
                    options = _split_top_level(text[index + 1 : end], "|")
                    if len(options) > 1:
                        source = text[index : end + 1]
                        out.append(self._pick_options(source, options, depth, chain))
                        index = end + 1
                        continue
            if char == "_":
                match = _LIST_NAME.match(text, index)
                if match:
                    out.append(self._pick_from_list(match.group(1), depth, chain))
                    index = match.end()
                    continue
            out.append(char)
            index += 1
        return "".join(out)

    def _pick_options(
        self, source: str, options: list[str], depth: int, chain: tuple[str, ...]
    ) -> str:
        low, high, separator = 1, 1, ", "
        header = _COUNT.match(options[0])
        if header:
            options[0] = options[0][header.end() :]
            first, second, upper_only = header.groups()
            if upper_only is not None:
                high = int(upper_only)
            else:
                low = int(first)
                high = len(options) if second == "" else int(second) if second else low
            if "$$" in options[0]:
                separator, options[0] = options[0].split("$$", 1)
        weights: list[float] = []
        texts: list[str] = []
        for option in options:
            weight = _OPTION_WEIGHT.match(option)
            weights.append(float(weight.group(1)) if weight else 1.0)
            texts.append(option[weight.end() :] if weight else option)
        low, high = max(0, min(low, len(texts))), max(0, min(high, len(texts)))
        low, high = min(low, high), max(low, high)
        count = low if low == high else low + int(self.rng.random() * (high - low + 1))
        picked: list[str] = []
        for _ in range(count):
            at = self._weighted_index(weights, source)
            picked.append(texts.pop(at))
            weights.pop(at)
        self.choices.append(WildcardChoice(source=source, chosen=separator.join(picked)))
        return separator.join(self.resolve(p, depth + 1, chain) for p in picked)

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


def _matching_close(text: str, start: int) -> int | None:
    """Index of the bracket closing the one at `start`, skipping escapes; None if unclosed."""
    stack: list[str] = []
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char in _OPENERS:
            stack.append(_OPENERS[char])
        elif stack and char == stack[-1]:
            stack.pop()
            if not stack:
                return index
        index += 1
    return None


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split at `separator` outside any (), [] or {} and not escaped."""
    parts: list[str] = []
    depth = 0
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char in _OPENERS:
            depth += 1
        elif char in _OPENERS.values():
            depth = max(0, depth - 1)
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
        index += 1
    parts.append(text[start:])
    return parts


def _brace_groups(text: str) -> list[tuple[int, int]]:
    """(start, end) of every `{...}` group, nested ones included."""
    groups = []
    for index, char in enumerate(text):
        if char == "{" and (index == 0 or text[index - 1] != "\\"):
            end = _matching_close(text, index)
            if end is not None:
                groups.append((index, end))
    return groups
