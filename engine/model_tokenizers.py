"""A model's text encoders for the token budget, read from its tokenizers alone (no weights).

The Builder and Generate show what each encoder of the selected model reads; loading the model
for that would take seconds to minutes, so only its tokenizers are loaded, from its folder (the
built-in models', the models folder, the sketch model's) or from the Hugging Face cache, and
kept. The kind comes from the folder's files (`engine.model_catalog.pipeline_kind`), the T5
length from the model's defaults (FLUX without guidance embedding: schnell's 256).

When a model's files are not at hand (a hub id not yet downloaded, a single-file checkpoint),
the budget is counted with the CLIP tokenizer, and for an SD3 or FLUX name with the built-in
T5-framed tokenizer too, and says it is approximate.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.errors import ModelLoadError
from engine.model_catalog import flow_defaults, flow_family, pipeline_kind
from engine.model_kinds import (
    FLUX_DEV_SEQUENCE_LENGTH,
    FLUX_SCHNELL_SEQUENCE_LENGTH,
    SD3_SEQUENCE_LENGTH,
)
from engine.model_ref import resolve_model_ref
from prompts.encoder_budgets import EncoderSpec
from prompts.token_budget import HFTokenizerAdapter, Token

log = logging.getLogger(__name__)

# model_catalog's labels -> the engine's kinds
_KINDS = {"SD1": "sd1", "SD2": "sd1", "SDXL": "sdxl", "SD3": "sd3", "FLUX": "flux"}


@dataclass(frozen=True)
class ModelEncoders:
    """The encoders a model reads a prompt with; `exact` is False when they are stand-ins."""

    kind: str
    encoders: tuple[EncoderSpec, ...]
    exact: bool = True


def model_encoders(
    model: str, models_dir: Path, max_sequence_length: int | None = None
) -> ModelEncoders:
    """The encoders of the model named in the Model box (see module doc)."""
    folder = _model_folder(model, models_dir)
    if folder is None:
        return _stand_ins(model, max_sequence_length)
    kind, specs = _folder_encoders(str(folder))
    if max_sequence_length is not None:
        specs = tuple(
            EncoderSpec(s.name, s.tokenizer, s.role, max_sequence_length)
            if s.role == "sequence"
            else s
            for s in specs
        )
    return ModelEncoders(kind, specs)


def _model_folder(model: str, models_dir: Path) -> Path | None:
    """The diffusers folder of a model, building a built-in one; None when not at hand."""
    try:
        ref = resolve_model_ref(model)
    except ModelLoadError:
        return None
    if ref.source == "demo":
        from engine.demo_flow_models import ensure_flow_demo
        from engine.demo_model import ensure_demo_model
        from engine.model_names import is_flow_demo

        if is_flow_demo(ref.location):
            return ensure_flow_demo(models_dir, ref.location)
        return ensure_demo_model(models_dir)
    if ref.source in ("sketch", "folder"):
        return Path(ref.location)
    if ref.source == "hub":
        from huggingface_hub import try_to_load_from_cache

        index = try_to_load_from_cache(ref.location, "model_index.json", revision=ref.revision)
        return Path(index).parent if isinstance(index, str) else None
    return None  # a single-file checkpoint carries no tokenizer files


class LazyTokenizer:
    """A model folder's tokenizer, loaded (transformers with it, which imports torch) when it
    first counts or is asked for an attribute: the page is built without it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._adapter: HFTokenizerAdapter | None = None

    def load(self) -> HFTokenizerAdapter:
        """The tokenizer's adapter, made once."""
        with self._lock:
            if self._adapter is None:
                from transformers import AutoTokenizer

                self._adapter = HFTokenizerAdapter(AutoTokenizer.from_pretrained(self._path))
            return self._adapter

    def tokenize_with_spans(self, text: str) -> list[Token]:
        """Tokens of `text` with their spans (`prompts.token_budget.PromptTokenizer`)."""
        return self.load().tokenize_with_spans(text)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.load().tokenizer, name)


@lru_cache(maxsize=8)
def _folder_encoders(folder: str) -> tuple[str, tuple[EncoderSpec, ...]]:
    root = Path(folder)
    kind = _KINDS.get(pipeline_kind(root), "other")

    def tokenizer(name: str) -> Any:
        if not (root / name).is_dir():
            raise ModelLoadError(f"{root.name} has no {name} folder.")
        return LazyTokenizer(root / name)

    if kind == "sd1":
        return kind, (EncoderSpec("CLIP", tokenizer("tokenizer"), "chunks"),)
    if kind == "sdxl":
        return kind, (
            EncoderSpec("CLIP-L", tokenizer("tokenizer"), "chunks"),
            EncoderSpec("CLIP-G", tokenizer("tokenizer_2"), "chunks"),
        )
    if kind == "sd3":
        return kind, (
            EncoderSpec("CLIP-L", tokenizer("tokenizer"), "chunks"),
            EncoderSpec("CLIP-G", tokenizer("tokenizer_2"), "chunks"),
            EncoderSpec("T5", tokenizer("tokenizer_3"), "sequence", SD3_SEQUENCE_LENGTH),
        )
    if kind == "flux":
        length = (
            FLUX_DEV_SEQUENCE_LENGTH if _guidance_embeds(root) else FLUX_SCHNELL_SEQUENCE_LENGTH
        )
        return kind, (
            EncoderSpec("CLIP-L", tokenizer("tokenizer"), "pooled"),
            EncoderSpec("T5", tokenizer("tokenizer_2"), "sequence", length),
        )
    if (root / "tokenizer").is_dir():
        return kind, (EncoderSpec("text", tokenizer("tokenizer"), "pooled"),)
    return kind, ()


def _guidance_embeds(folder: Path) -> bool:
    try:
        config = json.loads((folder / "transformer" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return bool(isinstance(config, dict) and config.get("guidance_embeds", False))


def _stand_ins(model: str, max_sequence_length: int | None) -> ModelEncoders:
    """CLIP (and for SD3/FLUX names our T5-framed tokenizer) when the model's files are absent."""
    from engine.t5_tokenizer import load_t5_tokenizer
    from engine.tokenizer import load_clip_tokenizer

    family, defaults = flow_family(model), flow_defaults(model)
    if family is None or defaults is None:
        return ModelEncoders("sd1", (EncoderSpec("CLIP", load_clip_tokenizer(), "chunks"),), False)
    length = max_sequence_length or defaults.max_sequence_length
    t5 = EncoderSpec("T5", load_t5_tokenizer(), "sequence", length)
    if family == "FLUX":
        clip = EncoderSpec("CLIP-L", load_clip_tokenizer(), "pooled")
        return ModelEncoders("flux", (clip, t5), False)
    clip_l = EncoderSpec("CLIP-L", load_clip_tokenizer(), "chunks")
    clip_g = EncoderSpec("CLIP-G", load_clip_tokenizer("!"), "chunks")
    return ModelEncoders("sd3", (clip_l, clip_g, t5), False)
