"""The generate path, read top to bottom: check, load, schedule, encode, denoise, decode."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from typing import Any

import torch

from engine.devices import dtype_name
from engine.errors import GenerationCancelled, InvalidRequestError, OutOfMemoryError
from engine.loading import LoadedModel, ModelManager
from engine.preview import latents_to_preview
from engine.request import GenerationRequest, validate_request
from engine.result import GenerationResult, ProgressUpdate, library_versions
from engine.schedulers import make_scheduler
from engine.text_encoding import PromptEncoder
from prompts.weighting import PromptSyntaxError, has_weights, strip_weights

ProgressCallback = Callable[[ProgressUpdate], None]
PromptResolver = Callable[[str, int], str]


def _identity(text: str, seed: int) -> str:
    return text


class _Stop(Exception):
    """Raised inside the step callback to leave the denoising loop at once."""


class Engine:
    """Runs generation requests on the model manager's current pipeline."""

    def __init__(
        self,
        models: ModelManager,
        resolve_prompt: PromptResolver = _identity,
        preview_every: int = 1,
    ) -> None:
        self.models = models
        self.resolve_prompt = resolve_prompt
        self.preview_every = preview_every
        self.encoder = PromptEncoder()
        self._lock = threading.Lock()

    def generate(
        self,
        request: GenerationRequest,
        model: str = "demo",
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        single_file_config: str | None = None,
    ) -> GenerationResult:
        """Generate the request's images on `model`; raises EngineError subclasses only."""
        # 1. Check every setting before any work.
        validate_request(request)
        request = request.with_seed()
        seeds = request.image_seeds()
        try:
            prompts = [self.resolve_prompt(request.prompt, seed) for seed in seeds]
            negatives = [self.resolve_prompt(request.negative_prompt, seed) for seed in seeds]
        except ValueError as exc:  # an unknown wildcard list, a malformed {a|b}
            raise InvalidRequestError(str(exc)) from exc
        for text in {*prompts, *negatives}:
            try:
                has_weights(text)
            except PromptSyntaxError as exc:
                raise InvalidRequestError(f"Prompt syntax: {exc}.") from exc

        with self._lock:  # one pipeline, one denoising loop at a time
            started = time.perf_counter()
            # 2. Load (cached) and swap the scheduler without reloading the model.
            loaded = self.models.get(model, single_file_config)
            pipe = loaded.pipeline
            pipe.scheduler = make_scheduler(request.scheduler, loaded.base_scheduler_config)
            # 3. Encode prompts (cached per text), one embedding row per image.
            notes: list[str] = []
            encode_started = time.perf_counter()
            text_inputs = self._text_inputs(loaded, prompts, negatives, notes)
            encode_s = time.perf_counter() - encode_started
            # 4. One generator per image, on the CPU so seeds mean the same on every device.
            generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
            # 5. Denoise with a per-step hook for progress, preview and cancel.
            denoise_started = time.perf_counter()
            hook = self._step_hook(loaded, on_progress, cancel, denoise_started)
            try:
                output = pipe(
                    **text_inputs,
                    num_inference_steps=request.steps,
                    guidance_scale=request.guidance_scale,
                    width=request.width,
                    height=request.height,
                    generator=generators,
                    callback_on_step_end=hook,
                    output_type="pil",
                )
            except _Stop:
                raise GenerationCancelled("Generation was cancelled.") from None
            except torch.cuda.OutOfMemoryError as exc:
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                raise OutOfMemoryError(
                    f"Out of memory at {request.width}x{request.height} with "
                    f"{request.num_images} image(s); try a smaller size or batch."
                ) from exc
            total_s = time.perf_counter() - started

        return GenerationResult(
            images=list(output.images),
            seeds=seeds,
            prompts=prompts,
            negative_prompts=negatives,
            request=request,
            provenance=self._provenance(
                loaded,
                request,
                notes,
                {
                    "load_s": round(loaded.load_seconds, 4),
                    "encode_s": round(encode_s, 4),
                    "denoise_decode_s": round(time.perf_counter() - denoise_started, 4),
                    "total_s": round(total_s, 4),
                },
            ),
        )

    def _text_inputs(
        self, loaded: LoadedModel, prompts: list[str], negatives: list[str], notes: list[str]
    ) -> dict[str, Any]:
        pipe, kind = loaded.pipeline, loaded.kind
        if kind == "other":
            if any(has_weights(t) for t in (*prompts, *negatives)):
                notes.append(
                    "Weights and BREAK were removed: this model's text encoder takes plain text."
                )
            inputs: dict[str, Any] = {"prompt": [strip_weights(p) for p in prompts]}
            if "negative_prompt" in _call_parameters(pipe):
                inputs["negative_prompt"] = [strip_weights(n) for n in negatives]
            return inputs
        chunks = max(self.encoder.count_chunks(pipe, t) for t in (*prompts, *negatives))
        positive = [self.encoder.encode(pipe, kind, loaded.key, p, chunks) for p in prompts]
        negative = [self.encoder.encode(pipe, kind, loaded.key, n, chunks) for n in negatives]
        inputs = {
            "prompt_embeds": torch.cat([e.embeds for e in positive]),
            "negative_prompt_embeds": torch.cat([e.embeds for e in negative]),
        }
        if kind == "sdxl":
            inputs["pooled_prompt_embeds"] = torch.cat([e.pooled for e in positive])
            inputs["negative_pooled_prompt_embeds"] = torch.cat([e.pooled for e in negative])
            if getattr(pipe.config, "force_zeros_for_empty_prompt", False):
                # SDXL's own convention: an empty negative prompt is all zeros, not encoded "".
                for key in ("negative_prompt_embeds", "negative_pooled_prompt_embeds"):
                    rows = inputs[key].clone()
                    for row, text in enumerate(negatives):
                        if not text.strip():
                            rows[row] = 0
                    inputs[key] = rows
        return inputs

    def _step_hook(
        self,
        loaded: LoadedModel,
        on_progress: ProgressCallback | None,
        cancel: threading.Event | None,
        started: float,
    ) -> Callable[..., dict[str, Any]]:
        def hook(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if cancel is not None and cancel.is_set():
                raise _Stop
            if on_progress is not None:
                total = int(getattr(pipe, "num_timesteps", 0) or 0)
                done = step + 1
                preview = None
                if self.preview_every and (done % self.preview_every == 0 or done == total):
                    preview = latents_to_preview(tensors["latents"], loaded.kind)
                on_progress(ProgressUpdate(done, total, time.perf_counter() - started, preview))
            return tensors

        return hook

    def _provenance(
        self,
        loaded: LoadedModel,
        request: GenerationRequest,
        notes: list[str],
        timings: dict[str, float],
    ) -> dict[str, Any]:
        scheduler = loaded.pipeline.scheduler
        return {
            "model_id": loaded.ref.name,
            "model_location": loaded.ref.location
            if loaded.ref.source == "hub"
            else loaded.ref.name,
            "model_source": loaded.ref.source,
            "model_revision": loaded.ref.revision,
            "model_hash": loaded.model_hash,
            "is_demo": loaded.ref.is_demo,
            "pipeline_class": type(loaded.pipeline).__name__,
            "pipeline_kind": loaded.kind,
            "scheduler": request.scheduler,
            "scheduler_class": type(scheduler).__name__,
            "scheduler_config": _json_safe(dict(scheduler.config)),
            "dtype": dtype_name(loaded.dtype),
            "device": str(loaded.device),
            "versions": library_versions(),
            "timings": timings,
            "notes": notes,
        }


def _call_parameters(pipe: Any) -> set[str]:
    return set(inspect.signature(type(pipe).__call__).parameters)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
