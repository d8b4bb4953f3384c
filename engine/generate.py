"""The generate path, read top to bottom: check, load, schedule, encode, denoise, decode.

`Engine.generate` turns a request into per-image rows (seed, seed+1, ...; wildcards resolved per
seed) and hands them to `Engine.generate_rows`, which runs one pipeline call over explicit rows,
so comparisons with a different prompt per image reuse the very same path.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from engine.devices import dtype_name
from engine.embeddings import EmbeddingFolder
from engine.errors import (
    EngineError,
    GenerationCancelled,
    GenerationFailedError,
    InvalidRequestError,
    OutOfMemoryError,
)
from engine.flow_encoding import plain_text
from engine.loading import LoadedModel, ModelManager
from engine.loras import ActiveLora, LoraFolder, strip_loras
from engine.model_kinds import (
    check_fits,
    default_max_sequence_length,
    has_guidance_embedding,
    is_flow,
    uses_negative_prompt,
)
from engine.preview import latents_to_preview
from engine.request import (
    MAX_IMAGES,
    GenerationRequest,
    ImageSpec,
    validate_request,
    validate_seed,
    validate_settings,
    validate_texts,
)
from engine.result import GenerationResult, ProgressUpdate, library_versions
from engine.schedulers import config_to_json, flow_shift_of, make_scheduler, seed_scheduler
from engine.text_encoding import PromptEncoder
from prompts.lora import LoraRef
from prompts.weighting import PromptSyntaxError, has_weights, strip_weights

log = logging.getLogger(__name__)

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
        loras_dir: Path | None = None,
        embeddings_dir: Path | None = None,
    ) -> None:
        """`loras_dir` holds the LoRA files prompts name with `<lora:name:weight>`;
        `embeddings_dir` the textual-inversion embeddings prompts name by file name."""
        self.models = models
        self.resolve_prompt = resolve_prompt
        self.preview_every = preview_every
        self.encoder = PromptEncoder()
        self.lora_folder = LoraFolder(loras_dir)
        self.embedding_folder = EmbeddingFolder(embeddings_dir)
        self._lora_signature: tuple[Any, ...] = ()
        models.on_change(self.encoder.clear)  # embeddings belong to one loaded model instance
        self._lock = threading.Lock()

    def generate(
        self,
        request: GenerationRequest,
        model: str = "demo",
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        single_file_config: str | None = None,
    ) -> GenerationResult:
        """Generate the request's images on `model`; raises EngineError subclasses only.

        Seeds seed, seed+1, ... as A1111 numbers a batch; wildcards are resolved per image seed.
        """
        # 1. Check every setting, draw the seed if none was given, resolve each image's prompts.
        request, specs = self.rows_of(request)
        # 2. One pipeline call over those rows.
        return self.generate_rows(
            specs,
            request,
            model=model,
            on_progress=on_progress,
            cancel=cancel,
            single_file_config=single_file_config,
        )

    def rows_of(self, request: GenerationRequest) -> tuple[GenerationRequest, list[ImageSpec]]:
        """The request with its seed drawn, and one row per image (seed + k, wildcards resolved
        for that seed): what `generate` hands `generate_rows`. Raises EngineError subclasses."""
        validate_request(request)
        request = request.with_seed()
        seeds = request.image_seeds()
        try:
            specs = [
                ImageSpec(
                    self.resolve_prompt(request.prompt, seed),
                    self.resolve_prompt(request.negative_prompt, seed),
                    seed,
                )
                for seed in seeds
            ]
        except ValueError as exc:  # an unknown wildcard list, a malformed {a|b}
            raise InvalidRequestError(str(exc).split("\n")[0]) from exc
        except Exception as exc:  # an unreadable wildcard file, a broken resolver
            log.exception("resolving the prompt failed")
            raise GenerationFailedError(
                f"The prompt's wildcards could not be resolved ({type(exc).__name__})."
            ) from exc
        return request, specs

    def generate_rows(
        self,
        specs: Sequence[ImageSpec],
        settings: GenerationRequest,
        model: str = "demo",
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        single_file_config: str | None = None,
    ) -> GenerationResult:
        """Run ONE pipeline call with one row per spec (its own prompts and seed).

        `settings` gives everything the rows share (steps, guidance, size, scheduler); its
        prompt, negative_prompt, seed and num_images are ignored. Image k equals a single run of
        spec k (within one level on CPU). The result's `request` is `settings` as given; the
        per-image prompts and seeds are in `result.prompts`, `negative_prompts` and `seeds`.
        Raises EngineError subclasses only.
        """
        try:
            return self._generate_rows(
                list(specs), settings, model, on_progress, cancel, single_file_config
            )
        except EngineError:
            raise
        except Exception as exc:  # a library bug or a broken model: one sentence, cause kept
            log.exception("generation failed unexpectedly")
            raise GenerationFailedError(
                f"Generation failed unexpectedly ({type(exc).__name__}); the log has details."
            ) from exc

    def _generate_rows(
        self,
        specs: list[ImageSpec],
        settings: GenerationRequest,
        model: str,
        on_progress: ProgressCallback | None,
        cancel: threading.Event | None,
        single_file_config: str | None,
    ) -> GenerationResult:
        # 1. Check the shared settings and every row before any work.
        validate_settings(settings)
        if not 1 <= len(specs) <= MAX_IMAGES:
            raise InvalidRequestError(f"Number of images must be from 1 to {MAX_IMAGES}.")
        for spec in specs:
            validate_seed(spec.seed)
            validate_texts(spec.prompt, spec.negative_prompt)
        prompts = [spec.prompt for spec in specs]
        negatives = [spec.negative_prompt for spec in specs]
        seeds = [spec.seed for spec in specs]
        for text in {*prompts, *negatives}:
            try:
                has_weights(text)
            except PromptSyntaxError as exc:
                raise InvalidRequestError(f"Prompt syntax: {exc}.") from exc
        # <lora:name:weight> tags choose adapters; the text encoder never sees them.
        encode_prompts, encode_negatives, lora_refs = strip_loras(prompts, negatives)

        with self._lock:  # one pipeline, one denoising loop at a time
            started = time.perf_counter()
            # 2. Load (cached), check what depends on the model, swap the scheduler without
            #    reloading the model.
            loaded = self.models.get(model, single_file_config)
            pipe = loaded.pipeline
            notes = check_fits(pipe, loaded.kind, settings)
            try:
                pipe.scheduler = make_scheduler(
                    settings.scheduler, loaded.base_scheduler_config, loaded.kind, settings.shift
                )
            except ValueError as exc:
                raise InvalidRequestError(str(exc)) from None
            seed_scheduler(pipe.scheduler, seeds)
            loras = self._apply_loras(pipe, lora_refs)
            if self.embedding_folder.load_named(
                pipe, loaded.kind, encode_prompts + encode_negatives
            ):
                self.encoder.clear()  # the tokenizer has new words: encode afresh
            # 3. Encode prompts (cached per text), one embedding row per image.
            encode_started = time.perf_counter()
            text_inputs = self._text_inputs(
                loaded, encode_prompts, encode_negatives, settings, notes
            )
            encode_s = time.perf_counter() - encode_started
            # 4. One generator per image, on the CPU so seeds mean the same on every device.
            generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
            # 5. Denoise with a per-step hook for progress, preview and cancel; 6. decode.
            denoise_started = time.perf_counter()
            hook = self._step_hook(loaded, settings, on_progress, cancel, denoise_started)
            try:
                output = pipe(
                    **text_inputs,
                    num_inference_steps=settings.steps,
                    guidance_scale=settings.guidance_scale,
                    width=settings.width,
                    height=settings.height,
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
                    f"Out of memory at {settings.width}x{settings.height} with "
                    f"{len(specs)} image(s); try a smaller size or batch."
                ) from exc
            total_s = time.perf_counter() - started

        # 7. Record where every pixel came from.
        return GenerationResult(
            images=list(output.images),
            seeds=seeds,
            prompts=prompts,
            negative_prompts=negatives,
            request=settings,
            provenance=self._provenance(
                loaded,
                settings,
                notes,
                {
                    "load_s": round(loaded.load_seconds, 4),
                    "encode_s": round(encode_s, 4),
                    "denoise_decode_s": round(time.perf_counter() - denoise_started, 4),
                    "total_s": round(total_s, 4),
                },
            )
            | ({"loras": [asdict(lora) for lora in loras]} if loras else {}),
        )

    def _apply_loras(self, pipe: Any, refs: tuple[LoraRef, ...]) -> list[ActiveLora]:
        """Turn on exactly the named LoRAs; a new set makes cached embeddings stale."""
        if not refs and self._lora_signature == ():
            return []
        loras = self.lora_folder.apply(pipe, refs)
        signature = tuple((lora.name, lora.weight, lora.short_hash) for lora in loras)
        if signature != self._lora_signature:
            self.encoder.clear()  # a LoRA's text-encoder part changes the embeddings
            self._lora_signature = signature
        return loras

    def _text_inputs(
        self,
        loaded: LoadedModel,
        prompts: list[str],
        negatives: list[str],
        settings: GenerationRequest,
        notes: list[str],
    ) -> dict[str, Any]:
        pipe, kind, clip_skip = loaded.pipeline, loaded.kind, settings.clip_skip
        if is_flow(kind):
            return self._flow_inputs(loaded, prompts, negatives, settings, notes)
        if kind == "other":
            if clip_skip != 1:
                notes.append("Clip skip was ignored: this model's text encoder is not CLIP.")
            if any(has_weights(t) for t in (*prompts, *negatives)):
                notes.append(
                    "Weights and BREAK were removed: this model's text encoder takes plain text."
                )
            inputs: dict[str, Any] = {"prompt": [strip_weights(p) for p in prompts]}
            if "negative_prompt" in _call_parameters(pipe):
                inputs["negative_prompt"] = [strip_weights(n) for n in negatives]
            return inputs
        chunks = max(self.encoder.count_chunks(pipe, t) for t in (*prompts, *negatives))
        positive = [self.encoder.encode(pipe, kind, p, chunks, clip_skip) for p in prompts]
        negative = [self.encoder.encode(pipe, kind, n, chunks, clip_skip) for n in negatives]
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

    def _flow_inputs(
        self,
        loaded: LoadedModel,
        prompts: list[str],
        negatives: list[str],
        settings: GenerationRequest,
        notes: list[str],
    ) -> dict[str, Any]:
        """SD3 and FLUX: CLIP and T5 embeddings for every row, the negative prompt only where
        the model uses it (SD3 with CFG above 1, FLUX with true CFG above 1)."""
        pipe, kind = loaded.pipeline, loaded.kind
        length = settings.max_sequence_length or default_max_sequence_length(pipe, kind)
        use_negative = uses_negative_prompt(kind, settings)
        if not use_negative and any(n.strip() for n in negatives):
            notes.append(
                "The negative prompt was not used: FLUX takes one only with true CFG above 1."
                if kind == "flux"
                else "The negative prompt was not used: SD3 reads it only with CFG above 1."
            )
        texts = [*prompts, *(negatives if use_negative else [])]
        chunks = 0
        if kind == "sd3":
            chunks = max(self.encoder.count_chunks(pipe, t, kind) for t in texts)
        cut = _t5_overflow(pipe, kind, texts, length)
        if cut:
            notes.append(f"T5 reads {length} tokens; {cut} token(s) past that were cut.")

        def encode(texts: list[str]) -> list[Any]:
            return [
                self.encoder.encode(pipe, kind, t, chunks, settings.clip_skip, length)
                for t in texts
            ]

        positive = encode(prompts)
        inputs: dict[str, Any] = {
            "prompt_embeds": torch.cat([e.embeds for e in positive]),
            "pooled_prompt_embeds": torch.cat([e.pooled for e in positive]),
            "max_sequence_length": length,
        }
        if use_negative:
            negative = encode(negatives)
            inputs["negative_prompt_embeds"] = torch.cat([e.embeds for e in negative])
            inputs["negative_pooled_prompt_embeds"] = torch.cat([e.pooled for e in negative])
        if kind == "flux":
            inputs["true_cfg_scale"] = float(settings.true_cfg_scale) if use_negative else 1.0
        return inputs

    def _step_hook(
        self,
        loaded: LoadedModel,
        settings: GenerationRequest,
        on_progress: ProgressCallback | None,
        cancel: threading.Event | None,
        started: float,
    ) -> Callable[..., dict[str, Any]]:
        factor = int(getattr(loaded.pipeline, "vae_scale_factor", 8))
        latent_size = (settings.height // factor, settings.width // factor)

        def hook(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if cancel is not None and cancel.is_set():
                raise _Stop
            if on_progress is not None:
                total = int(getattr(pipe, "num_timesteps", 0) or 0)
                done = step + 1
                preview = None
                if self.preview_every and (done % self.preview_every == 0 or done == total):
                    preview = latents_to_preview(tensors["latents"], loaded.kind, 0, latent_size)
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
        flow: dict[str, Any] = {}
        if is_flow(loaded.kind):
            pipe = loaded.pipeline
            flow = {
                "max_sequence_length": request.max_sequence_length
                or default_max_sequence_length(pipe, loaded.kind),
                "shift": request.shift
                if request.shift is not None
                else flow_shift_of(loaded.base_scheduler_config),
                "guidance": _guidance_kind(pipe, loaded.kind),
            }
            if loaded.kind == "flux":
                flow["true_cfg_scale"] = (
                    float(request.true_cfg_scale) if request.true_cfg_scale > 1 else 1.0
                )
        return flow | {
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
            "scheduler_config": config_to_json(dict(scheduler.config)),
            "dtype": dtype_name(loaded.dtype),
            "device": str(loaded.device),
            "versions": library_versions(),
            "timings": timings,
            "notes": notes,
        }


def _guidance_kind(pipe: Any, kind: str) -> str:
    """How the guidance scale acts: CFG (SD3), distilled guidance (FLUX dev) or not at all
    (FLUX schnell)."""
    if kind != "flux":
        return "cfg"
    return "distilled" if has_guidance_embedding(pipe) else "none"


def _t5_overflow(pipe: Any, kind: str, texts: list[str], length: int) -> int:
    """How many T5 tokens the longest text has past `length` (0 when all fit)."""
    tokenizer = pipe.tokenizer_3 if kind == "sd3" else pipe.tokenizer_2
    counts = [len(tokenizer(plain_text(t), verbose=False).input_ids) for t in set(texts)]
    return max(0, max(counts, default=0) - length)


def _call_parameters(pipe: Any) -> set[str]:
    return set(inspect.signature(type(pipe).__call__).parameters)
