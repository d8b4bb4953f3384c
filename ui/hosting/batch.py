"""A Generate batch made image by image inside one GPU entry: what Stop and Skip ask for, what
the page is told as it runs, and the finished images joined into one result."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from engine.result import GenerationResult, ProgressUpdate


@dataclass
class RunControl:
    """The Stop and Skip buttons of one running batch."""

    stop: threading.Event = field(default_factory=threading.Event)
    """Stop now: the image being made is dropped, the finished ones are kept."""
    skip: threading.Event = field(default_factory=threading.Event)
    """Finish the image being made, then drop the rest of the batch."""


@dataclass(frozen=True)
class BatchEvent:
    """What the page shows next while a batch runs image by image."""

    index: int
    """The image (0-based) this event is about."""
    total: int
    progress: ProgressUpdate | None = None
    finished: GenerationResult | None = None
    """All images finished so far, as one result (set when an image completes)."""
    done: bool = False
    """The last event: `finished` is the whole run (None if nothing finished)."""
    stopped: bool = False
    skipped: bool = False


def merge_results(parts: list[GenerationResult]) -> GenerationResult:
    """Single-image results of one batch as one result (the first image's seed first)."""
    first = parts[0]
    provenance = dict(first.provenance)
    timings = dict(provenance.get("timings", {}))
    timings["total_s"] = round(
        sum(float(p.provenance.get("timings", {}).get("total_s", 0.0)) for p in parts), 4
    )
    provenance["timings"] = timings
    notes: list[str] = []
    for part in parts:
        notes += [n for n in part.provenance.get("notes", []) if n not in notes]
    provenance["notes"] = notes
    return GenerationResult(
        images=[image for part in parts for image in part.images],
        seeds=[seed for part in parts for seed in part.seeds],
        prompts=[text for part in parts for text in part.prompts],
        negative_prompts=[text for part in parts for text in part.negative_prompts],
        request=replace(first.request, seed=parts[0].seeds[0], num_images=len(parts)),
        provenance=provenance,
    )
