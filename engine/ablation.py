"""Which words matter: rank a prompt's terms by how much the image changes without them.

For every seed, the full-prompt image is compared with the image made with one term removed
(`engine.image_metrics.compare_images`: SSIM on luminance and mean ΔE in Lab, combined into one
perceptual distance); a term's impact is the mean distance over the seeds, with the spread
(standard deviation) beside it. The biggest change comes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from engine.image_metrics import compare_images


@dataclass(frozen=True)
class TermImpact:
    """How much removing `term` changed the images, over the shared seeds."""

    term: str
    mean_distance: float
    spread: float
    distances: tuple[float, ...]
    mean_ssim: float
    mean_delta_e: float


def rank_terms(
    full_images: Sequence[Image.Image],
    ablated: Sequence[tuple[str, Sequence[Image.Image]]],
) -> list[TermImpact]:
    """Terms by mean perceptual distance from the full prompt's image on the same seed."""
    impacts = []
    for term, images in ablated:
        if len(images) != len(full_images):
            raise ValueError(f"The term {term!r} has images for a different number of seeds.")
        differences = [compare_images(a, b) for a, b in zip(full_images, images, strict=True)]
        distances = np.array([d.distance for d in differences])
        impacts.append(
            TermImpact(
                term=term,
                mean_distance=float(distances.mean()),
                spread=float(distances.std(ddof=1)) if distances.size > 1 else 0.0,
                distances=tuple(float(d) for d in distances),
                mean_ssim=float(np.mean([d.ssim for d in differences])),
                mean_delta_e=float(np.mean([d.mean_delta_e for d in differences])),
            )
        )
    return sorted(impacts, key=lambda impact: -impact.mean_distance)
