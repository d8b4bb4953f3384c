"""Building the engine once per process from configuration (data folder, device, dtype)."""

from __future__ import annotations

from pathlib import Path

from engine.generate import Engine
from engine.loading import ModelManager
from ui.settings import models_dir


def build_engine(data_dir: Path, device: str | None = None, dtype: str | None = None) -> Engine:
    """An engine whose models (and the demo model cache) live under data_dir."""
    return Engine(ModelManager(models_dir(data_dir), device=device, dtype=dtype))
