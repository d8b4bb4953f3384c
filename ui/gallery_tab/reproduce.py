"""Regenerate from record: make a gallery generation again from its stored settings and say
whether the pixels are identical, within one level, or different, and why they may differ.

The stored prompts are the final ones (wildcards already resolved), so the image is made with
`Engine.generate_rows` from exactly those texts and the stored seed (one GPU entry, through
`HostedEngine`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from engine.errors import EngineError, InvalidRequestError
from engine.request import GenerationRequest, ImageSpec
from engine.result import GenerationResult
from gallery.errors import GalleryError
from gallery.records import GenerationRecord
from gallery.views import OwnerGallery
from ui.hosting.hosted_engine import HostedEngine

VERDICTS = ("identical", "within 1 level", "different")
_VERSION_KEYS = ("torch", "diffusers", "transformers", "prompt_atelier")


@dataclass(frozen=True)
class ReproduceReport:
    """The outcome: `verdict` is one of VERDICTS; `reasons` say what differs from the record."""

    generation_id: int
    verdict: str
    max_difference: int
    reasons: tuple[str, ...] = ()
    result: GenerationResult | None = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        """One line: the verdict, the largest pixel difference and the reasons, if any."""
        text = f"#{self.generation_id}: {self.verdict} (largest difference {self.max_difference})"
        if self.reasons:
            text += "; " + "; ".join(self.reasons)
        return text + "."


def request_from_record(record: GenerationRecord) -> tuple[GenerationRequest, ImageSpec]:
    """The settings and the one image spec a record was made with; InvalidRequestError when
    the record lacks something needed (an imported image without a seed, say)."""
    missing = [
        name
        for name, value in (
            ("seed", record.seed),
            ("steps", record.steps),
            ("CFG scale", record.guidance_scale),
            ("size", record.width and record.height),
            ("scheduler", record.scheduler),
        )
        if value in (None, 0)
    ]
    if missing:
        raise InvalidRequestError(
            f"Generation {record.id} cannot be regenerated: its record has no {missing[0]}."
        )
    settings = record.settings or {}
    clip_skip = settings.get("clip_skip", 1)
    request = GenerationRequest(
        prompt=record.prompt,
        negative_prompt=record.negative_prompt,
        seed=record.seed,
        steps=int(record.steps or 0),
        guidance_scale=float(record.guidance_scale or 0.0),
        width=int(record.width or 0),
        height=int(record.height or 0),
        scheduler=str(record.scheduler),
        clip_skip=clip_skip if isinstance(clip_skip, int) else 1,
    )
    return request, ImageSpec(record.prompt, record.negative_prompt, int(record.seed or 0))


def model_of_record(record: GenerationRecord) -> str:
    """What to load: the hub id, the folder or checkpoint path, or 'demo'."""
    provenance = record.provenance or {}
    location = provenance.get("model_location")
    if provenance.get("model_source") in ("folder", "single_file") and location:
        return str(location)
    if provenance.get("is_demo") or provenance.get("model_source") == "demo":
        return "demo"
    return str(record.model_id or location or "demo")


def compare_pixels(stored: Image.Image, made: Image.Image) -> tuple[str, int]:
    """(verdict, largest difference in levels) of two images of the same size."""
    a = np.asarray(stored.convert("RGB"), dtype=np.int16)
    b = np.asarray(made.convert("RGB"), dtype=np.int16)
    if a.shape != b.shape:
        return "different", 255
    difference = int(np.abs(a - b).max()) if a.size else 0
    if difference == 0:
        return "identical", 0
    return ("within 1 level" if difference <= 1 else "different"), difference


def reasons_for(record: GenerationRecord, provenance: dict[str, Any]) -> list[str]:
    """What differs between the recorded run and this one: device, dtype, library versions,
    model weights."""
    old = record.provenance or {}
    reasons = []
    for key, label in (("device", "device"), ("dtype", "dtype"), ("model_hash", "model")):
        before, now = old.get(key) or getattr(record, key, None), provenance.get(key)
        if before and now and before != now:
            reasons.append(f"{label} was {before}, now {now}")
    versions = record.versions or {}
    for key in _VERSION_KEYS:
        before, now = versions.get(key), (provenance.get("versions") or {}).get(key)
        if before and now and before != now:
            reasons.append(f"{key} was {before}, now {now}")
    return reasons


def reproduce(engine: HostedEngine, record: GenerationRecord) -> ReproduceReport:
    """Regenerate `record` and compare with its stored image (EngineError on failure)."""
    image_file = record.image
    if image_file is None or image_file.missing or not image_file.path.is_file():
        raise InvalidRequestError(f"Generation {record.id} has no stored image to compare with.")
    request, spec = request_from_record(record)
    result = engine.generate_rows([spec], request, model=model_of_record(record))
    with Image.open(image_file.path) as stored:
        verdict, difference = compare_pixels(stored, result.images[0])
    reasons = reasons_for(record, result.provenance) if verdict != "identical" else []
    if verdict == "different" and not reasons:
        reasons = [
            "same device, dtype, model and library versions: the settings or the code "
            "that made it differ"
        ]
    return ReproduceReport(record.id, verdict, difference, tuple(reasons), result)


def regenerate_from_record(engine: HostedEngine, store: OwnerGallery, generation_id: Any) -> str:
    """The Gallery detail's "Regenerate from record" button: Markdown with the verdict."""
    if generation_id is None:
        raise gr.Error("Select a thumbnail first.", duration=None)
    try:
        report = reproduce(engine, store.get(int(generation_id)))
    except (EngineError, GalleryError) as exc:
        raise gr.Error(str(exc), duration=None) from None
    return f"**Regenerated:** {report.describe()}"


def connect_regenerate(
    button: gr.Button, selected: Any, out: gr.Markdown, engine: HostedEngine, store: OwnerGallery
) -> None:
    """Wire the button to the engine (the Gallery tab itself does not know the engine)."""
    button.click(
        lambda gid: regenerate_from_record(engine, store, gid),
        inputs=selected,
        outputs=out,
        api_visibility="private",
        concurrency_id="generate",
        concurrency_limit=1,
    )
