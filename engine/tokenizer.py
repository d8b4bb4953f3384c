"""The real CLIP BPE tokenizer (SD1.x text encoder), built offline from the shipped BPE table.

The table is `bpe_simple_vocab_16e6.txt.gz` from OpenAI CLIP as shipped in open_clip (MIT).
Vocabulary and merges are derived exactly as CLIP does: 256 byte symbols, the same with `</w>`,
one token per merge, then the two special tokens: 49,408 in all.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

from transformers import CLIPTokenizer

BPE_PATH = (
    Path(__file__).resolve().parent.parent / "assets" / "clip_bpe" / "bpe_simple_vocab_16e6.txt.gz"
)
VOCAB_SIZE = 49408
MODEL_MAX_LENGTH = 77


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte -> printable unicode map."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def clip_vocab_and_merges(bpe_path: Path = BPE_PATH) -> tuple[dict[str, int], list[str]]:
    """Return CLIP's token->id vocabulary and its merge list from the gzipped BPE table."""
    lines = gzip.decompress(bpe_path.read_bytes()).decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]  # as in CLIP: 48,894 merges
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols]
    tokens += ["".join(merge.split()) for merge in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}, merges


@lru_cache(maxsize=2)
def load_clip_tokenizer(pad_token: str = "<|endoftext|>") -> CLIPTokenizer:
    """The SD1.x CLIP tokenizer (49,408 tokens, max length 77), made without any download.

    `pad_token="!"` gives the padding of SD 2.x (OpenCLIP) and SDXL's second tokenizer.
    """
    return clip_tokenizer_of(*clip_vocab_and_merges(), pad_token=pad_token)


def clip_tokenizer_of(
    vocab: dict[str, int], merges: list[str], pad_token: str = "<|endoftext|>"
) -> CLIPTokenizer:
    """A CLIP BPE tokenizer from a vocabulary and its merge list ("a b", in rank order)."""
    pairs = [tuple(merge.split()) for merge in merges]
    return CLIPTokenizer(
        vocab=vocab, merges=pairs, model_max_length=MODEL_MAX_LENGTH, pad_token=pad_token
    )


def save_clip_tokenizer(folder: Path, vocab: dict[str, int], merges: list[str]) -> None:
    """The tokenizer as SD 1.x models ship it: `vocab.json` and `merges.txt` (loaded by
    transformers 4 and 5 alike) with its config, and no `tokenizer.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    clip_tokenizer_of(vocab, merges).save_pretrained(folder)
    (folder / "tokenizer.json").unlink(missing_ok=True)
    vocab_json = json.dumps(vocab, ensure_ascii=False, separators=(",", ":"))
    (folder / "vocab.json").write_text(vocab_json, encoding="utf-8")
    # the header line is CLIP's own; transformers 4 skips the first line, tokenizers any "#version"
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", "utf-8")
