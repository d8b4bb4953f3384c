"""The scoring CLIP's own small vocabulary: the CLIP BPE tokens the sketch world's captions
use, so that its token table is a few hundred rows and not 49,408 (9.49 MB, which the text
encoder already ships).

Every word a caption may hold (the world's words, the quality words it mixes in, the Builder
style templates that wrap it) is run through CLIP's byte-pair merges; the tokens it passes
through on the way, the 512 byte symbols and the two special tokens make the vocabulary, and
the merges it used, in CLIP's order, the merge list. A text of those words tokenizes exactly
as with the whole tokenizer (the ids renumbered); any other word falls apart into smaller
pieces the vocabulary has, at worst single bytes, and means as little as it did before.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.sketch.vocabulary import caption_words
from engine.sketch.world import IGNORED_WORDS, STYLE_PREFIXES, builder_style_templates
from engine.tokenizer import _bytes_to_unicode, clip_vocab_and_merges, save_clip_tokenizer

SPECIALS = ("<|startoftext|>", "<|endoftext|>")


@dataclass(frozen=True)
class ReducedVocabulary:
    """Tokens in the new id order, each with its id in the whole CLIP vocabulary."""

    tokens: tuple[str, ...]
    full_ids: tuple[int, ...]
    merges: tuple[str, ...]  # "a b", in CLIP's rank order

    @property
    def vocab(self) -> dict[str, int]:
        return {token: index for index, token in enumerate(self.tokens)}

    def save_tokenizer(self, folder: Path) -> None:
        """`vocab.json`, `merges.txt` and `tokenizer_config.json`, as the SD 1.x layout."""
        save_clip_tokenizer(Path(folder), self.vocab, list(self.merges))


def world_texts() -> list[str]:
    """Every text whose words the scoring CLIP must tokenize as the text encoder does."""
    texts = [*caption_words(), *IGNORED_WORDS, *STYLE_PREFIXES.values()]
    texts += [t.replace("{prompt}", " ") for t in builder_style_templates().values()]
    return texts


def _words(texts: Iterable[str]) -> set[str]:
    """The pre-tokenized, byte-encoded words of `texts`, as CLIP's tokenizer splits them."""
    from engine.tokenizer import load_clip_tokenizer

    backend = load_clip_tokenizer().backend_tokenizer
    words: set[str] = set()
    for text in texts:
        normal = backend.normalizer.normalize_str(text)
        words.update(piece for piece, _ in backend.pre_tokenizer.pre_tokenize_str(normal))
    return words


def _merge_path(word: str, ranks: dict[tuple[str, str], int]) -> list[int]:
    """The ranks of the merges CLIP's BPE applies to `word`, in order."""
    symbols = [*word[:-1], word[-1] + "</w>"]
    used: list[int] = []
    while len(symbols) > 1:
        rank, first = min(
            (ranks.get(pair, len(ranks)), i) for i, pair in enumerate(itertools.pairwise(symbols))
        )
        if rank == len(ranks):
            break
        pair = (symbols[first], symbols[first + 1])
        merged: list[str] = []
        i = 0
        while i < len(symbols):
            if i < len(symbols) - 1 and (symbols[i], symbols[i + 1]) == pair:
                merged.append(symbols[i] + symbols[i + 1])
                i += 2
            else:
                merged.append(symbols[i])
                i += 1
        symbols = merged
        used.append(rank)
    return used


@lru_cache(maxsize=1)
def reduced_vocabulary() -> ReducedVocabulary:
    """The scoring CLIP's vocabulary for `world_texts()`."""
    vocab, merges = clip_vocab_and_merges()
    ranks = {tuple(m.split()): rank for rank, m in enumerate(merges)}
    used = sorted({rank for word in _words(world_texts()) for rank in _merge_path(word, ranks)})
    symbols = list(_bytes_to_unicode().values())
    base = [*symbols, *(s + "</w>" for s in symbols)]
    kept = [*base, *("".join(merges[r].split()) for r in used), *SPECIALS]
    return ReducedVocabulary(
        tokens=tuple(kept),
        full_ids=tuple(vocab[token] for token in kept),
        merges=tuple(merges[r] for r in used),
    )
