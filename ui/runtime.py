"""Building the engine once per process from configuration (data folder, device, dtype)."""

from __future__ import annotations

from pathlib import Path

from engine.generate import Engine
from engine.loading import ModelManager
from prompts.wildcards import load_wildcard_lists, resolve_wildcards, user_wildcards_dir
from ui.settings import models_dir


def build_engine(data_dir: Path, device: str | None = None, dtype: str | None = None) -> Engine:
    """An engine whose models live under data_dir, resolving wildcards (built-in lists plus the
    user's `wildcards/` folder) from each image's seed."""
    lists = load_wildcard_lists(user_wildcards_dir(data_dir))

    def resolve(text: str, seed: int) -> str:
        return resolve_wildcards(text, seed, lists).text

    return Engine(ModelManager(models_dir(data_dir), device=device, dtype=dtype), resolve)
