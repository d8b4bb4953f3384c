"""Write the tiny models' T5 vocabulary (`assets/t5_spiece/unigram_vocab.json.gz`).

Trains a Unigram vocabulary with the `tokenizers` library on the assets' words and CLIP's
whole-word tokens (`engine.t5_tokenizer.training_texts`). The training is not bit-for-bit
repeatable, so the result is shipped; running this again changes the demo SD3/FLUX models.

    .venv/bin/python scripts/build_t5_vocab.py [--vocab-size 8000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.t5_tokenizer import SPECIAL_TOKENS, T5_VOCAB_PATH, train_t5_vocab, training_texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args()
    pieces = train_t5_vocab(training_texts(), args.vocab_size)
    rows = [[token, 0.0] for token in SPECIAL_TOKENS] + [[p, round(s, 6)] for p, s in pieces]
    blob = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    T5_VOCAB_PATH.parent.mkdir(parents=True, exist_ok=True)
    T5_VOCAB_PATH.write_bytes(gzip.compress(blob, mtime=0))
    print(f"{len(rows)} pieces -> {T5_VOCAB_PATH}")


if __name__ == "__main__":
    main()
