"""What a generation returns: images, the seeds and prompts that made them, full provenance."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from PIL import Image

from engine.request import GenerationRequest


@dataclass
class GenerationResult:
    """Images with everything needed to reproduce them; `provenance` is JSON-safe."""

    images: list[Image.Image]
    seeds: list[int]
    prompts: list[str]
    negative_prompts: list[str]
    request: GenerationRequest
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProgressUpdate:
    """One denoising step done: `step` of `total`, with an optional rough preview."""

    step: int
    total: int
    elapsed_s: float
    preview: Image.Image | None = None

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape the pixels."""
    return dict(_library_versions())


@lru_cache(maxsize=1)
def _library_versions() -> dict[str, str]:
    # Reading package metadata costs milliseconds; it cannot change while the process runs.
    found = {"python": platform.python_version()}
    for package in ("torch", "diffusers", "transformers", "prompt-atelier"):
        try:
            found[package.replace("-", "_")] = version(package)
        except PackageNotFoundError:
            found[package.replace("-", "_")] = "unknown"
    return found
