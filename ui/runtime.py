"""Building the engine once per process from configuration (data folder, device, dtype)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from prompts.wildcards import (
    WildcardLists,
    load_wildcard_lists,
    resolve_wildcards,
    user_wildcards_dir,
)
from ui.settings import models_dir

if TYPE_CHECKING:
    from engine.generate import Engine


def fresh_wildcard_lists(user_folder: Path) -> Callable[[], WildcardLists]:
    """The wildcard lists as they are now: the folders are scanned again only when a folder's
    modification time changed (a list added, removed or renamed); a list's lines are read when
    it is used, so edits count at once."""
    cache: dict[str, object] = {}

    def current() -> WildcardLists:
        lists = cache.get("lists")
        signature = _folder_signature(
            lists.folders if isinstance(lists, WildcardLists) else [user_folder]
        )
        if not isinstance(lists, WildcardLists) or cache.get("signature") != signature:
            lists = load_wildcard_lists(user_folder)
            cache["lists"], cache["signature"] = lists, _folder_signature(lists.folders)
        return lists

    return current


def _folder_signature(folders: list[Path]) -> tuple:
    stamps = []
    for folder in folders:
        for root, _dirs, _files in os.walk(folder):
            stamps.append((root, os.stat(root).st_mtime_ns))
    return tuple(stamps)


def build_engine(data_dir: Path, device: str | None = None, dtype: str | None = None) -> Engine:
    """An engine whose models live under data_dir, resolving wildcards (built-in lists plus the
    user's `wildcards/` folder, read fresh for each request) from each image's seed."""
    from engine.generate import Engine  # torch and diffusers: `serve` calls this in a thread
    from engine.loading import ModelManager

    lists = fresh_wildcard_lists(user_wildcards_dir(data_dir))

    def resolve(text: str, seed: int) -> str:
        return resolve_wildcards(text, seed, lists()).text

    models = ModelManager(models_dir(data_dir), device=device, dtype=dtype)
    return Engine(
        models,
        resolve,
        loras_dir=Path(data_dir) / "loras",
        embeddings_dir=Path(data_dir) / "embeddings",
    )
