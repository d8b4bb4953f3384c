"""Prompt expansion, the text half: the vocabulary, few-shot examples, filtering and joining.

A language model (see `engine.prompt_expansion`) continues a prompt with descriptive terms. This
module owns everything that is plain text: which terms are allowed (`assets/expansion/`), the
few-shot prefix the model reads, keeping only whole vocabulary terms from what it wrote, and
appending them to the prompt as their own visible segment. It imports no torch or transformers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prompts.assets import asset_path

VOCABULARY_PATH = asset_path("expansion", "vocabulary.txt")
EXAMPLES_PATH = asset_path("expansion", "examples.json")

DEFAULT_MAX_TERMS = 6

# A word: letters and digits, optionally joined by an apostrophe or a hyphen ("bird's-eye").
_WORD_RE = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
# Characters that end a term in generated text.
_TERM_BREAK_RE = re.compile(r"[,.;:!?|/\\()\[\]{}<>\"\n\r\t]+")
_TRAILING_SEPARATORS_RE = re.compile(r"[\s,]+$")


class ExpansionDataError(ValueError):
    """The vocabulary or examples file is malformed."""


@dataclass(frozen=True)
class ExpansionExample:
    """One few-shot example: a short prompt and the terms an artist appended to it."""

    prompt: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class ExpansionResult:
    """What expansion did: the prompt as given, the terms it added, and the prompt to use.

    `final` always starts with `original` (trailing commas and spaces trimmed) and shows the
    added terms as their own segment, so nothing is rewritten out of sight.
    """

    original: str
    added_terms: list[str]
    final: str
    seed: int | None = None
    model: str | None = None

    @property
    def added_text(self) -> str:
        """The added segment, as it appears at the end of `final` ("" when nothing was added)."""
        return ", ".join(self.added_terms)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe record, for provenance and the gallery."""
        return {
            "original": self.original,
            "added_terms": list(self.added_terms),
            "final": self.final,
            "seed": self.seed,
            "model": self.model,
        }


def words_of(text: str) -> list[str]:
    """The lowercase words of `text`, as the vocabulary matching sees them."""
    return _WORD_RE.findall(text.lower().replace("’", "'"))


def normalize_term(text: str) -> str:
    """A term in canonical form: lowercase words joined by single spaces."""
    return " ".join(words_of(text))


def load_expansion_vocabulary(path: str | Path | None = None) -> tuple[str, ...]:
    """Read the vocabulary file (one term a line, `#` comments) and return its terms in order.

    Raises ExpansionDataError naming the line of a malformed or repeated term.
    """
    path = Path(path) if path is not None else VOCABULARY_PATH
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ExpansionDataError(f"Cannot read the expansion vocabulary {path}: {exc}.") from exc
    terms: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if normalize_term(line) != line:
            raise ExpansionDataError(
                f"{path.name} line {number}: {line!r} must be lowercase words separated by "
                "single spaces (letters, digits, hyphens, apostrophes)."
            )
        if line in seen:
            raise ExpansionDataError(f"{path.name} line {number}: {line!r} is listed twice.")
        seen.add(line)
        terms.append(line)
    if not terms:
        raise ExpansionDataError(f"The expansion vocabulary {path} has no terms.")
    return tuple(terms)


def load_expansion_examples(
    path: str | Path | None = None, vocabulary: Collection[str] | None = None
) -> tuple[ExpansionExample, ...]:
    """Read the few-shot examples (JSON: {"examples": [{"prompt", "terms"}]}).

    When `vocabulary` is given, every example term must be in it, so the examples never teach
    the model a term it may not write. Raises ExpansionDataError on a malformed file.
    """
    path = Path(path) if path is not None else EXAMPLES_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ExpansionDataError(f"Cannot read the expansion examples {path}: {exc}.") from exc
    items = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ExpansionDataError(f"{path.name} must hold an object with an 'examples' list.")
    allowed = set(vocabulary) if vocabulary is not None else None
    examples: list[ExpansionExample] = []
    for index, item in enumerate(items):
        prompt = item.get("prompt") if isinstance(item, dict) else None
        terms = item.get("terms") if isinstance(item, dict) else None
        if (
            not isinstance(prompt, str)
            or not prompt.strip()
            or not isinstance(terms, list)
            or not terms
            or not all(isinstance(term, str) for term in terms)
        ):
            raise ExpansionDataError(
                f"{path.name} example {index + 1} needs a non-empty 'prompt' text and a "
                "non-empty 'terms' list of texts."
            )
        if allowed is not None:
            unknown = [term for term in terms if term not in allowed]
            if unknown:
                raise ExpansionDataError(
                    f"{path.name} example {index + 1} uses {unknown[0]!r}, which is not in the "
                    "expansion vocabulary."
                )
        examples.append(ExpansionExample(prompt=prompt.strip(), terms=tuple(terms)))
    return tuple(examples)


def _trim_prompt(prompt: str) -> str:
    """The prompt without trailing spaces and commas, so a new segment joins cleanly."""
    return _TRAILING_SEPARATORS_RE.sub("", prompt)


def build_fewshot_prefix(examples: Sequence[ExpansionExample], prompt: str) -> str:
    """The text the language model continues: one line per example, then the prompt and a comma.

    Each example line reads like a finished prompt ("prompt, term, term"); the last line is the
    user's prompt ending in ", " minus the space, so the model's next words are new terms.
    """
    lines = [f"{_trim_prompt(ex.prompt)}, {', '.join(ex.terms)}" for ex in examples]
    lines.append(f"{_trim_prompt(prompt.strip())},")
    return "\n".join(lines)


def _max_term_words(vocabulary: Iterable[str]) -> int:
    return max((len(term.split(" ")) for term in vocabulary), default=1)


def terms_in_text(text: str, vocabulary: Collection[str]) -> set[str]:
    """Every vocabulary term that occurs in `text` as whole words (case-insensitive)."""
    vocab = vocabulary if isinstance(vocabulary, (set, frozenset)) else set(vocabulary)
    return _terms_in_words(words_of(text), vocab, _max_term_words(vocab))


def _terms_in_words(words: Sequence[str], vocab: Collection[str], longest: int) -> set[str]:
    found: set[str] = set()
    for start in range(len(words)):
        for length in range(1, min(longest, len(words) - start) + 1):
            phrase = " ".join(words[start : start + length])
            if phrase in vocab:
                found.add(phrase)
    return found


def filter_to_vocabulary(
    generated_text: str,
    vocabulary: Collection[str],
    existing_prompt: str,
    max_terms: int = DEFAULT_MAX_TERMS,
) -> list[str]:
    """Keep only whole vocabulary terms from model output, new to the prompt, at most `max_terms`.

    The text is split at commas and other punctuation; inside each piece the longest vocabulary
    terms are taken left to right and anything else is dropped. A term is skipped when it
    already occurs in the prompt or inside a term kept before it ("golden" after "golden hour").
    """
    if max_terms < 0:
        raise ValueError(f"max_terms must be 0 or more, got {max_terms}.")
    vocab = set(vocabulary)
    longest = _max_term_words(vocab)
    covered = _terms_in_words(words_of(existing_prompt), vocab, longest)
    kept: list[str] = []
    for piece in _TERM_BREAK_RE.split(generated_text):
        words = words_of(piece)
        start = 0
        while start < len(words) and len(kept) < max_terms:
            for length in range(min(longest, len(words) - start), 0, -1):
                phrase = " ".join(words[start : start + length])
                if phrase in vocab:
                    if phrase not in covered:
                        kept.append(phrase)
                        covered |= _terms_in_words(phrase.split(" "), vocab, longest)
                    start += length
                    break
            else:
                start += 1
    return kept


def join_expansion(prompt: str, terms: Sequence[str]) -> str:
    """Append `terms` to `prompt` as their own segment: "prompt, term, term".

    Trailing commas and spaces of the prompt are trimmed so no empty segment appears; with no
    terms the prompt comes back unchanged. A term containing a comma is refused.
    """
    cleaned = [term.strip() for term in terms if term.strip()]
    for term in cleaned:
        if "," in term:
            raise ValueError(f"An expansion term cannot contain a comma: {term!r}.")
    if not cleaned:
        return prompt
    base = _trim_prompt(prompt)
    segment = ", ".join(cleaned)
    return f"{base}, {segment}" if base.strip() else segment
