"""The demo language model: a tiny random GPT-2 for prompt expansion without any download.

`ensure_demo_lm(cache_dir)` builds it once, deterministically, and returns a folder that loads
with `from_pretrained` like any real model. The tokenizer is a byte-level BPE trained offline
on the expansion vocabulary and examples; the weights are random from a fixed seed. It writes
random allowed words, which the vocabulary restriction still turns into sensible terms, and
the UI says plainly that it is the demo model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from prompts.expansion import (
    ExpansionExample,
    load_expansion_examples,
    load_expansion_vocabulary,
)

DEMO_LM_DIRNAME = "demo-lm"
DEMO_LM_MARKER = "atelier_demo_lm.json"
EOS_TOKEN = "<|endoftext|>"

# Everything that decides the bytes of the demo model. Change `version` when the recipe changes.
DEMO_LM_RECIPE: dict[str, int] = {
    "version": 1,
    "seed": 1234,
    "vocab_size": 2048,
    "n_positions": 512,
    "n_embd": 64,
    "n_layer": 2,
    "n_head": 2,
}


def demo_lm_corpus(
    vocabulary: Sequence[str] | None = None, examples: Sequence[ExpansionExample] | None = None
) -> list[str]:
    """The text the demo tokenizer is trained on: every term (bare and after ", ") and examples."""
    vocabulary = load_expansion_vocabulary() if vocabulary is None else vocabulary
    if examples is None:
        examples = load_expansion_examples(vocabulary=vocabulary)
    lines = [f"{term}, {term}," for term in vocabulary]
    lines += [f"{ex.prompt}, {', '.join(ex.terms)}" for ex in examples]
    return lines


def _corpus_digest(corpus: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(corpus).encode("utf-8")).hexdigest()


def _train_tokenizer(corpus: Sequence[str]):
    """A GPT-2 style byte-level BPE tokenizer trained on `corpus` (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=DEMO_LM_RECIPE["vocab_size"],
        min_frequency=1,
        special_tokens=[EOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(list(corpus), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=EOS_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        model_max_length=DEMO_LM_RECIPE["n_positions"],
    )


def _build_model(vocab_size: int, eos_token_id: int):
    """A GPT2LMHeadModel with random weights from the recipe's seed (global RNG left as it was)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=DEMO_LM_RECIPE["n_positions"],
        n_embd=DEMO_LM_RECIPE["n_embd"],
        n_layer=DEMO_LM_RECIPE["n_layer"],
        n_head=DEMO_LM_RECIPE["n_head"],
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(DEMO_LM_RECIPE["seed"])
        model = GPT2LMHeadModel(config)
    return model.eval()


def _marker_for(corpus_digest: str) -> dict[str, object]:
    return {"recipe": dict(DEMO_LM_RECIPE), "corpus_sha256": corpus_digest}


def _is_complete(folder: Path, marker: dict[str, object]) -> bool:
    """True when `folder` holds a finished build of exactly this recipe and corpus."""
    try:
        stored = json.loads((folder / DEMO_LM_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        stored.get("recipe") == marker["recipe"]
        and stored.get("corpus_sha256") == marker["corpus_sha256"]
        and (folder / "config.json").is_file()
        and (folder / "model.safetensors").is_file()
        and (folder / "tokenizer.json").is_file()
    )


def is_demo_lm(path: str | os.PathLike[str]) -> bool:
    """True when `path` is a folder built by `ensure_demo_lm`."""
    return (Path(path) / DEMO_LM_MARKER).is_file()


def ensure_demo_lm(
    cache_dir: str | os.PathLike[str],
    vocabulary: Sequence[str] | None = None,
    examples: Sequence[ExpansionExample] | None = None,
) -> Path:
    """Return `cache_dir/demo-lm`, building it first when it is missing or from another recipe.

    The build goes to a temporary folder that is renamed into place only when complete, so an
    interrupted build leaves no half folder; a finished build is reused. The same recipe and
    corpus give the same tokenizer and the same weights on every machine.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / DEMO_LM_DIRNAME
    corpus = demo_lm_corpus(vocabulary, examples)
    marker = _marker_for(_corpus_digest(corpus))
    if _is_complete(target, marker):
        return target

    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{DEMO_LM_DIRNAME}-", dir=cache_dir))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the finished model is an ordinary folder
        tokenizer = _train_tokenizer(corpus)
        model = _build_model(len(tokenizer), tokenizer.eos_token_id)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / DEMO_LM_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        _move_into_place(staging, target, marker)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _move_into_place(staging: Path, target: Path, marker: dict[str, object]) -> None:
    """Rename the finished build to `target`, replacing a stale build; keep a racing winner's."""
    stale: Path | None = None
    if target.exists():
        if _is_complete(target, marker):  # another process finished first
            return
        stale = target.with_name(f".{target.name}-stale-{os.getpid()}-{staging.name[-8:]}")
        target.rename(stale)
    try:
        staging.rename(target)
    except OSError:
        if not _is_complete(target, marker):
            raise
    finally:
        if stale is not None:
            shutil.rmtree(stale, ignore_errors=True)
