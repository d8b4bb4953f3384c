"""Loading pipelines through diffusers' own loaders, and keeping the current one cached."""

from __future__ import annotations

import gc
import hashlib
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from diffusers import AutoPipelineForText2Image, DiffusionPipeline

from engine.demo_flow_models import ensure_flow_demo, flow_demo_fingerprint, is_flow_demo
from engine.demo_model import demo_fingerprint, ensure_demo_model
from engine.devices import choose_device, choose_dtype
from engine.errors import ModelLoadError
from engine.model_ref import ModelRef, resolve_model_ref
from engine.quiet import follow_hub_progress_setting

log = logging.getLogger(__name__)

PipelineKind = Literal["sd1", "sdxl", "sd3", "flux", "other"]


@dataclass
class LoadedModel:
    """A ready pipeline with what the provenance record needs to know about it."""

    ref: ModelRef
    pipeline: DiffusionPipeline
    kind: PipelineKind
    device: torch.device
    dtype: torch.dtype
    base_scheduler_config: dict[str, Any]
    model_hash: str | None = None
    load_seconds: float = 0.0
    key: str = field(default="")


def pipeline_kind(pipeline: DiffusionPipeline) -> PipelineKind:
    """sd1 and sdxl take weighted CLIP embeddings, sd3 (CLIP-L, CLIP-G, T5 into an MMDiT) and
    flux (CLIP-L pooled, T5) weighted CLIP and T5 embeddings; any other pipeline gets plain
    text. Read from the components, not the pipeline's name."""
    components = pipeline.components
    transformer = type(components.get("transformer")).__name__
    if (
        transformer == "SD3Transformer2DModel"
        and {
            "text_encoder",
            "text_encoder_2",
            "tokenizer_3",
        }
        <= components.keys()
    ):
        return "sd3"
    if (
        transformer == "FluxTransformer2DModel"
        and type(components.get("text_encoder_2")).__name__ == "T5EncoderModel"
        and "max_sequence_length" in _call_parameters(pipeline)
    ):
        return "flux"
    if "text_encoder_2" in components and "tokenizer_2" in components and "unet" in components:
        return "sdxl"
    if {
        "text_encoder",
        "tokenizer",
        "unet",
    } <= components.keys() and "transformer" not in components:
        return "sd1"
    return "other"


def _load(ref: ModelRef, models_dir: Path, dtype: torch.dtype, single_file_config: str | None):
    common: dict[str, Any] = {"dtype": dtype}
    if ref.source == "demo" and is_flow_demo(ref.location):
        folder = ensure_flow_demo(models_dir, ref.location)
        pipe = AutoPipelineForText2Image.from_pretrained(folder, **common)
        return pipe, flow_demo_fingerprint(ref.location)[:10]
    if ref.source == "demo":
        folder = ensure_demo_model(models_dir)
        return AutoPipelineForText2Image.from_pretrained(folder, **common), demo_fingerprint()[:10]
    if ref.source == "sketch":
        return _load_sketch(Path(ref.location), common)
    if ref.source == "folder":
        return AutoPipelineForText2Image.from_pretrained(ref.location, **common), None
    if ref.source == "single_file":
        from engine.single_file import demo_checkpoint_path, load_single_file_pipeline, short_hash

        config = Path(single_file_config) if single_file_config else None
        if config is None and Path(ref.location) == demo_checkpoint_path(models_dir).resolve():
            config = ensure_demo_model(models_dir)
        pipe = load_single_file_pipeline(Path(ref.location), config, dtype)
        return pipe, short_hash(Path(ref.location))
    try:
        pipe = AutoPipelineForText2Image.from_pretrained(
            ref.location, revision=ref.revision, **common
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"Model {ref.location!r} is not in the local cache and could not be fetched from "
            f"the Hugging Face hub ({type(exc).__name__})."
        ) from exc
    return pipe, None


def _load_sketch(folder: Path, common: dict[str, Any]):
    """The shipped sketch model; its text_encoder folder also holds CLIP's image tower, which
    the text encoder leaves aside on purpose, so that load report is silenced."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        pipe = AutoPipelineForText2Image.from_pretrained(folder, **common)
    finally:
        hf_logging.set_verbosity(level)
    unet_file = folder / "unet" / "diffusion_pytorch_model.safetensors"
    return pipe, hashlib.sha256(unet_file.read_bytes()).hexdigest()[:10]


def _call_parameters(pipeline: DiffusionPipeline) -> set[str]:
    return set(inspect.signature(type(pipeline).__call__).parameters)


class ModelManager:
    """Loads models on request and keeps one cached; switching models frees the old one."""

    def __init__(
        self, models_dir: Path, device: str | None = None, dtype: str | None = None
    ) -> None:
        follow_hub_progress_setting()  # no "Loading pipeline components" bar when quiet
        self.models_dir = Path(models_dir)
        self.device = choose_device(device)
        self.dtype = choose_dtype(self.device, dtype)
        self._current: LoadedModel | None = None
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a model is loaded or unloaded (caches keyed on it clear)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    @property
    def current(self) -> LoadedModel | None:
        """The loaded model, if any."""
        return self._current

    def get(self, model: str, single_file_config: str | None = None) -> LoadedModel:
        """The pipeline for `model` (hub id, folder, checkpoint, 'sketch' or 'demo'), loading
        if needed."""
        ref = resolve_model_ref(model)
        key = f"{ref.source}:{ref.location}@{ref.revision}:{single_file_config}"
        if self._current is not None and self._current.key == key:
            return self._current
        self.unload()
        started = time.perf_counter()
        try:
            pipeline, model_hash = _load(ref, self.models_dir, self.dtype, single_file_config)
        except ModelLoadError:
            raise
        except torch.cuda.OutOfMemoryError as exc:
            raise ModelLoadError(f"Not enough GPU memory to load {ref.name}.") from exc
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelLoadError(f"Could not load {ref.name}: {exc}".split("\n")[0]) from exc
        pipeline.to(self.device)
        pipeline.set_progress_bar_config(disable=True)
        self._changed()
        self._current = LoadedModel(
            ref=ref,
            pipeline=pipeline,
            kind=pipeline_kind(pipeline),
            device=self.device,
            dtype=self.dtype,
            base_scheduler_config=dict(pipeline.scheduler.config),
            model_hash=model_hash,
            load_seconds=time.perf_counter() - started,
            key=key,
        )
        log.info("loaded %s (%s) in %.1fs", ref.name, ref.source, self._current.load_seconds)
        return self._current

    def unload(self) -> None:
        """Drop the cached pipeline and give its memory back."""
        if self._current is None:
            return
        self._current = None
        self._changed()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
