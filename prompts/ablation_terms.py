"""The terms an ablation removes one at a time ("Which words matter?").

A prompt of comma phrases keeps them: each top-level phrase is a term, a bracketed group with
commas inside counting as one. A prompt without a top-level comma is split into what it names:

- a weighted or bracketed group (`(red:1.4)`, `[blue]`, `<lora:toy:0.8>`, `{a|b}`) or a
  wildcard (`__colour__`) stays whole;
- the longest phrase the Builder knows comes next (its picture vocabularies and the subject's
  words: "golden hour" before "golden", "old man" before "old");
- every other content word is a term of its own, and the small words (a, the, and, ...) are
  no term: they stay when a term is removed;
- a preposition with what follows it up to the next small word is one term ("on the left",
  "in a snowy forest"), since a place or a time is one thing to an artist.

So "a large red star on the left" has the terms large, red, star and "on the left", and without
"on the left" it reads "a large red star". Pure text: no torch, no gradio.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import cache

from prompts.compose import split_terms
from prompts.facets import load_subject_facets
from prompts.scanner import Kind, scan_prompt
from prompts.vocabularies import vocabulary_terms

PREPOSITIONS = frozenset((
    "about", "above", "across", "after", "against", "along", "among", "around", "at", "before",
    "behind", "below", "beneath", "beside", "between", "beyond", "by", "during", "for", "from",
    "in", "inside", "into", "near", "of", "off", "on", "onto", "out", "outside", "over",
    "through", "to", "toward", "towards", "under", "underneath", "upon", "with", "within",
    "without",
))  # fmt: skip
SMALL_WORDS = PREPOSITIONS | frozenset((
    "a", "an", "the", "this", "that", "these", "those", "some", "any", "each", "every", "its",
    "his", "her", "their", "my", "our", "your", "and", "or", "but", "nor", "as", "is", "are",
    "was", "were", "be", "very",
))  # fmt: skip
_WORD = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_MARK = re.compile(r"\s+([.;:!?|])")


@dataclass(frozen=True)
class TermSplit:
    """A prompt and the spans `[start, end)` of its terms, in order."""

    prompt: str
    spans: tuple[tuple[int, int], ...]
    by_commas: bool
    """True when the terms are the prompt's comma phrases (joined again with ", ")."""

    @property
    def terms(self) -> list[str]:
        """Each term as the prompt writes it, spaces tidied."""
        return [_tidy(self.prompt[start:end]) for start, end in self.spans]

    def full(self) -> str:
        """The whole prompt, tidied as its variants are."""
        return ", ".join(self.terms) if self.by_commas else _tidy(self.prompt)

    def without(self, index: int) -> str:
        """The prompt with term `index` left out."""
        if self.by_commas:
            return ", ".join(t for position, t in enumerate(self.terms) if position != index)
        start, end = self.spans[index]
        return _tidy(self.prompt[:start] + " " + self.prompt[end:])


def split_for_ablation(prompt: str, known: Collection[str] | None = None) -> TermSplit:
    """The prompt's terms for an ablation: its comma phrases, or, without a top-level comma,
    its groups, known phrases (`known`, default `known_phrases()`), content words and
    prepositional phrases (see the module's description)."""
    phrases = _comma_phrases(prompt)
    if len(phrases) != 1:
        return TermSplit(prompt, tuple(phrases), by_commas=True)
    vocabulary = known_phrases() if known is None else frozenset(p.casefold() for p in known)
    return TermSplit(prompt, tuple(_word_terms(prompt, vocabulary)), by_commas=False)


@cache
def known_phrases() -> frozenset[str]:
    """What the Builder knows, case-folded: every picture vocabulary and the subject's words."""
    terms = [term for words in vocabulary_terms().values() for term in words]
    terms += [term for facet in load_subject_facets() for term in facet.terms]
    return frozenset(" ".join(term.casefold().split()) for term in terms)


def _comma_phrases(prompt: str) -> list[tuple[int, int]]:
    """The spans of the non-empty top-level comma phrases (BREAK is no term)."""
    spans, start = [], 0
    for part in split_terms(prompt):
        end = start + len(part)
        if part.strip() and part.strip() != "BREAK":
            spans.append((start, end))
        start = end + 1
    return spans


@dataclass(frozen=True)
class _Unit:
    """A word or a whole group; `joined` when only spaces lie between it and the one before."""

    start: int
    end: int
    word: str | None  # case-folded; None for a group or wildcard
    joined: bool


def _units(prompt: str) -> Iterator[_Unit]:
    """The prompt's words and top-level groups, in order."""
    scan = scan_prompt(prompt)
    last_end = 0
    index = 0
    while index < len(scan.tokens):
        token = scan.tokens[index]
        if token.kind is Kind.OPEN and token.partner is not None:
            close = scan.tokens[token.partner]
            yield _Unit(token.start, close.end, None, _only_spaces(prompt[last_end : token.start]))
            last_end, index = close.end, token.partner + 1
            continue
        if token.kind is Kind.WILDCARD:
            yield _Unit(token.start, token.end, None, _only_spaces(prompt[last_end : token.start]))
            last_end = token.end
        elif token.kind is Kind.TEXT:
            for match in _WORD.finditer(prompt, token.start, token.end):
                gap = prompt[last_end : match.start()]
                yield _Unit(match.start(), match.end(), match.group().casefold(), _only_spaces(gap))
                last_end = match.end()
        index += 1


def _word_terms(prompt: str, known: frozenset[str]) -> list[tuple[int, int]]:
    """The spans of a comma-free prompt's terms."""
    chunks = _chunks(list(_units(prompt)), known)
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(chunks):
        start, end, small = chunks[index]
        if small and start.word in PREPOSITIONS:
            # A preposition, its small words, then what it governs, up to the next small word.
            last = index + 1
            while last < len(chunks) and chunks[last][0].joined and chunks[last][2]:
                last += 1  # the article after it ("on the")
            follows = last
            while follows < len(chunks) and _governed(chunks[follows]):
                follows += 1
            if follows > last:
                spans.append((start.start, chunks[follows - 1][1].end))
                index = follows
                continue
        if not small:
            spans.append((start.start, end.end))
        index += 1
    return spans


def _governed(chunk: tuple[_Unit, _Unit, bool]) -> bool:
    """Whether a chunk continues a prepositional phrase: joined to it, no small word, and not
    a known phrase of its own that starts with a preposition ("at night")."""
    first, _, small = chunk
    return first.joined and not small and first.word not in PREPOSITIONS


def _chunks(units: list[_Unit], known: frozenset[str]) -> list[tuple[_Unit, _Unit, bool]]:
    """Units grouped into (first, last, is-small-word): known phrases longest first."""
    longest = max((len(phrase.split(" ")) for phrase in known), default=1)
    chunks = []
    index = 0
    while index < len(units):
        unit = units[index]
        length = _known_length(units, index, known, longest) if unit.word else 1
        last = units[index + length - 1]
        small = length == 1 and unit.word in SMALL_WORDS and unit.word not in known
        chunks.append((unit, last, small))
        index += length
    return chunks


def _known_length(units: list[_Unit], index: int, known: frozenset[str], longest: int) -> int:
    """How many words from `index` make the longest known phrase (1 when none does)."""
    words: list[str] = []
    for unit in units[index : index + longest]:
        if unit.word is None or (words and not unit.joined):
            break
        words.append(unit.word)
    for length in range(len(words), 1, -1):
        if " ".join(words[:length]) in known:
            return length
    return 1


def _only_spaces(text: str) -> bool:
    return not text.strip()


def _tidy(text: str) -> str:
    return _SPACE_BEFORE_MARK.sub(r"\1", _SPACES.sub(" ", text)).strip()
