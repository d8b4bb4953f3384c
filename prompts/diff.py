"""What changed between two prompts, term by term and, inside a changed term, word by word.

Terms are the comma-separated parts (commas inside brackets do not split). Two terms are the
same when their words match ignoring case and weighting syntax; if the weights differ the term
is "reweighted" (`(red:1.2)` -> `(red:1.5)`, `red` -> `(red)`). Terms that differ but share at
least half their words are "changed" and get a word diff; the rest are "added" or "removed".

`PromptDiff.highlighted()` renders the result as `(text, tag)` pairs for `gr.HighlightedText`,
with tags "+" (added), "-" (removed), "~" (reweighted) and None (unchanged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from prompts.compose import split_terms
from prompts.weighting import PromptSyntaxError, parse_weighted

ChangeKind = Literal["unchanged", "added", "removed", "reweighted", "changed"]
DiffTag = Literal["+", "-", "~"]
Highlight = tuple[str, str | None]

DIFF_COLOR_MAP: dict[str, str] = {"+": "green", "-": "red", "~": "orange"}
SIMILARITY_FOR_CHANGED = 0.5

_WORDS = re.compile(r"\S+")


@dataclass(frozen=True)
class WeightedWord:
    """A word of a term and the attention weight it carries."""

    text: str
    weight: float = 1.0

    def render(self) -> str:
        """The word in A1111 syntax: bare at weight 1, else `(word:1.2)`."""
        return self.text if self.weight == 1.0 else f"({self.text}:{self.weight:g})"


@dataclass(frozen=True)
class TermChange:
    """One term's fate; `words` holds the word diff of "changed" and "reweighted" terms."""

    kind: ChangeKind
    old: str | None
    new: str | None
    old_weight: float | None = None
    new_weight: float | None = None
    words: tuple[tuple[str, DiffTag | None], ...] = ()


@dataclass(frozen=True)
class PromptDiff:
    """All term changes, in the order of the new prompt with removed terms where they were."""

    changes: tuple[TermChange, ...]

    def terms(self, kind: ChangeKind) -> list[str]:
        """Terms of one kind, as written (the new text, or the old one for removed terms)."""
        return [c.new if c.new is not None else c.old or "" for c in self.changes if c.kind == kind]

    @property
    def added(self) -> list[str]:
        return self.terms("added")

    @property
    def removed(self) -> list[str]:
        return self.terms("removed")

    @property
    def reweighted(self) -> list[str]:
        return self.terms("reweighted")

    @property
    def changed(self) -> list[str]:
        return self.terms("changed")

    @property
    def unchanged(self) -> list[str]:
        return self.terms("unchanged")

    @property
    def is_same(self) -> bool:
        """Whether every term is unchanged."""
        return all(change.kind == "unchanged" for change in self.changes)

    def highlighted(self) -> list[Highlight]:
        """`(text, tag)` pairs for `gr.HighlightedText` (tags "+", "-", "~" or None)."""
        pieces: list[Highlight] = []
        for change in self.changes:
            if pieces:
                pieces.append((", ", None))
            if change.kind == "changed":
                for index, (word, tag) in enumerate(change.words):
                    if index:
                        pieces.append((" ", None))
                    pieces.append((word, tag))
            elif change.kind == "removed":
                pieces.append((change.old or "", "-"))
            else:
                tag = {"added": "+", "reweighted": "~"}.get(change.kind)
                pieces.append((change.new or "", tag))
        return pieces


def diff_prompts(old: str, new: str) -> PromptDiff:
    """Compare two prompts term-wise (and word-wise inside changed terms)."""
    old_terms = [_Term.parse(t) for t in _terms(old)]
    new_terms = [_Term.parse(t) for t in _terms(new)]
    matcher = SequenceMatcher(
        None, [t.key for t in old_terms], [t.key for t in new_terms], autojunk=False
    )
    changes: list[TermChange] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            changes.extend(
                _same_words(a, b) for a, b in zip(old_terms[i1:i2], new_terms[j1:j2], strict=True)
            )
        else:
            changes.extend(_pair_block(old_terms[i1:i2], new_terms[j1:j2]))
    return PromptDiff(tuple(changes))


def highlight_diff(old: str, new: str) -> list[Highlight]:
    """Shortcut: `diff_prompts(old, new).highlighted()`."""
    return diff_prompts(old, new).highlighted()


@dataclass(frozen=True)
class _Term:
    text: str
    words: tuple[WeightedWord, ...]

    @classmethod
    def parse(cls, text: str) -> _Term:
        try:
            segments = parse_weighted(text)
        except PromptSyntaxError:  # a half-typed prompt still diffs, as plain words
            return cls(text, tuple(WeightedWord(w) for w in _WORDS.findall(text)))
        words = []
        for segment in segments:
            if segment.is_break:
                words.append(WeightedWord("BREAK"))
            else:
                words.extend(WeightedWord(w, segment.weight) for w in _WORDS.findall(segment.text))
        return cls(text, tuple(words))

    @property
    def key(self) -> str:
        return " ".join(word.text.casefold() for word in self.words)

    @property
    def weight(self) -> float | None:
        """The term's weight when all its words share one, else None."""
        weights = {word.weight for word in self.words}
        return weights.pop() if len(weights) == 1 else None


def _terms(prompt: str) -> list[str]:
    return [term.strip() for term in split_terms(prompt) if term.strip()]


def _same_words(old: _Term, new: _Term) -> TermChange:
    weights_differ = [a.weight != b.weight for a, b in zip(old.words, new.words, strict=True)]
    if not any(weights_differ):
        return TermChange("unchanged", old.text, new.text, old.weight, new.weight)
    words = tuple(
        (word.render(), "~" if differs else None)
        for word, differs in zip(new.words, weights_differ, strict=True)
    )
    return TermChange("reweighted", old.text, new.text, old.weight, new.weight, words)


def _pair_block(old_terms: list[_Term], new_terms: list[_Term]) -> list[TermChange]:
    """Match removed and added terms of one block in order; similar pairs become "changed"."""
    changes: list[TermChange] = []
    added: list[TermChange] = []  # shown after the removed terms of the same gap
    pointer = 0
    for new in new_terms:
        match = next(
            (
                index
                for index in range(pointer, len(old_terms))
                if _similarity(old_terms[index], new) >= SIMILARITY_FOR_CHANGED
            ),
            None,
        )
        if match is None:
            added.append(TermChange("added", None, new.text, None, new.weight))
            continue
        changes.extend(_removed(old_terms[pointer:match]) + added)
        changes.append(_word_diff(old_terms[match], new))
        added, pointer = [], match + 1
    changes.extend(_removed(old_terms[pointer:]) + added)
    return changes


def _removed(terms: list[_Term]) -> list[TermChange]:
    return [TermChange("removed", term.text, None, term.weight, None) for term in terms]


def _similarity(old: _Term, new: _Term) -> float:
    return SequenceMatcher(
        None, [w.text.casefold() for w in old.words], [w.text.casefold() for w in new.words]
    ).ratio()


def _word_diff(old: _Term, new: _Term) -> TermChange:
    old_keys = [w.text.casefold() for w in old.words]
    new_keys = [w.text.casefold() for w in new.words]
    words: list[tuple[str, DiffTag | None]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, old_keys, new_keys).get_opcodes():
        if op == "equal":
            for a, b in zip(old.words[i1:i2], new.words[j1:j2], strict=True):
                words.append((b.render(), "~" if a.weight != b.weight else None))
            continue
        words.extend((word.render(), "-") for word in old.words[i1:i2])
        words.extend((word.render(), "+") for word in new.words[j1:j2])
    return TermChange("changed", old.text, new.text, old.weight, new.weight, tuple(words))
