"""The words that mean something to the sketch model and its CLIP: those its captions describe
a picture with. A term made of other words means nothing to them (its embedding was never
trained, or, for the quality words the world mixes in and ignores, trained to change nothing),
so interrogation and refinement on the sketch CLIP keep to terms made of these words."""

from __future__ import annotations

import re
from functools import lru_cache

from engine.sketch.world import (
    COLOURS,
    LIGHTING_WORDS,
    POSITION_WORDS,
    SHAPES,
    SIZES,
    STYLE_PREFIXES,
    STYLE_WORDS,
    builder_style_templates,
)

ARTICLES = ("a", "an")
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def words_of(text: str) -> list[str]:
    """Lower-case words of `text` (hyphenated words kept whole, punctuation dropped)."""
    return _WORD.findall(text.casefold())


@lru_cache(maxsize=1)
def caption_words() -> frozenset[str]:
    """Every word a sketch-world caption describes its picture with (not the ignored ones)."""
    phrases: list[str] = [*COLOURS, *SHAPES, *SIZES, *ARTICLES]
    for table in (LIGHTING_WORDS, POSITION_WORDS, STYLE_WORDS):
        for key, words in table.items():
            phrases.extend([key, *words])
    phrases.extend(STYLE_PREFIXES.values())
    phrases.extend(t.replace("{prompt}", " ") for t in builder_style_templates().values())
    return frozenset(word for phrase in phrases for word in words_of(phrase))


def knows(text: str) -> bool:
    """Whether every word of `text` is a sketch-world word."""
    words = words_of(text)
    return bool(words) and all(word in caption_words() for word in words)
