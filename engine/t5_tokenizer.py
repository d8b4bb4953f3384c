"""A T5-style tokenizer made offline: a Unigram (SentencePiece-like) vocabulary shipped in
`assets/t5_spiece/`, framed as T5's own tokenizer is.

Real T5 (the text encoder of SD3 and FLUX) uses a 32,000-piece SentencePiece Unigram model:
`<pad>` is id 0, `</s>` id 1, `<unk>` id 2, then the pieces, then 100 sentinel tokens
`<extra_id_99>` ... `<extra_id_0>`; words are split on whitespace and marked with `▁`, and
`</s>` ends every sequence (there is no start token). The tiny models here have the same
structure with a smaller vocabulary, trained with the `tokenizers` library on the words of this
repository's assets and of CLIP's BPE table (`train_t5_vocab`; `scripts/build_t5_vocab.py`
writes the shipped file, as the training is not bit-for-bit repeatable).
"""

from __future__ import annotations

import gzip
import json
import string
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from transformers import T5Tokenizer

ASSETS = Path(__file__).resolve().parent.parent / "assets"
T5_VOCAB_PATH = ASSETS / "t5_spiece" / "unigram_vocab.json.gz"
SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")  # ids 0, 1 and 2, as in T5
EXTRA_IDS = 100
MODEL_MAX_LENGTH = 512  # what T5's own tokenizer config says


def t5_pieces(path: Path = T5_VOCAB_PATH) -> list[tuple[str, float]]:
    """The shipped Unigram pieces with their log-probabilities (special tokens excluded)."""
    data = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    return [(str(piece), float(score)) for piece, score in data if piece not in SPECIAL_TOKENS]


@lru_cache(maxsize=1)
def load_t5_tokenizer() -> T5Tokenizer:
    """The tiny models' T5 tokenizer: `<pad>`=0, `</s>`=1, `<unk>`=2, pieces, sentinels."""
    vocab = [(token, 0.0) for token in SPECIAL_TOKENS]
    vocab += t5_pieces()
    vocab += [(f"<extra_id_{i}>", 0.0) for i in reversed(range(EXTRA_IDS))]
    return T5Tokenizer(vocab=vocab, extra_ids=EXTRA_IDS, model_max_length=MODEL_MAX_LENGTH)


def train_t5_vocab(texts: Iterable[str], vocab_size: int = 8000) -> list[tuple[str, float]]:
    """Train a Unigram vocabulary as SentencePiece would for T5 (whitespace split, `▁` marks)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        ]
    )
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        unk_token="<unk>",
        initial_alphabet=list(string.ascii_letters + string.digits + string.punctuation),
        max_piece_length=16,
    )
    tokenizer.train_from_iterator(texts, trainer)
    vocab = json.loads(tokenizer.to_str())["model"]["vocab"]
    return [(piece, score) for piece, score in vocab if piece not in SPECIAL_TOKENS]


def training_texts() -> Iterable[str]:
    """The words the shipped vocabulary was trained on: the assets' text files, then CLIP's
    whole-word tokens (so common English words are single pieces)."""
    from engine.tokenizer import clip_vocab_and_merges

    for path in sorted(ASSETS.rglob("*")):
        if path.suffix in (".json", ".txt", ".csv") and "models" not in path.parts:
            yield path.read_text(encoding="utf-8")
    vocab, _ = clip_vocab_and_merges()
    words = [t[:-4] for t in vocab if t.endswith("</w>") and t[:-4].isascii() and t[:-4].isalpha()]
    for start in range(0, len(words), 64):
        yield " ".join(words[start : start + 64])
