"""Import a folder of PNGs (ours, A1111, InvokeAI, ComfyUI or plain) into the gallery.

Each file is stored byte for byte (its own metadata stays in it) as one generation whose
prompts and settings come from that metadata; a PNG without metadata we know is imported with
an empty prompt and reported in `without_metadata`. A file whose exact content is already in
the gallery is skipped as a duplicate. Files are imported one by one, so a bad file is
reported in `failed` and the others still go in.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from gallery.errors import GalleryError
from gallery.files import content_hash
from gallery.metadata import ImageMetadata, metadata_from_chunks, read_text_chunks
from gallery.records import MAX_SEED, TEXT_LIMITS, ImportReport, NewGeneration

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Recorder(Protocol):
    def has_content(self, sha: str) -> bool: ...

    def record_generations(self, items: list[NewGeneration]) -> list[int]: ...


def png_files(folder: Path, *, recursive: bool = True) -> Iterator[Path]:
    """PNG files in `folder` (by extension, any case), in a stable order."""
    pattern = "**/*" if recursive else "*"
    for path in sorted(folder.glob(pattern)):
        if path.is_file() and path.suffix.lower() == ".png":
            yield path


def new_generation_from_png(
    data: bytes, metadata: ImageMetadata | None, origin: Path, user_id: str | None = None
) -> NewGeneration:
    """The generation to record for an imported PNG."""
    settings = metadata.settings if metadata else {}
    source = f"import:{metadata.source}" if metadata else "import"
    provenance = dict(metadata.provenance) if metadata else {}
    provenance["imported_from"] = str(origin)
    if metadata:
        # As read, so nothing is lost when a value does not fit a column (ComfyUI's 64-bit seeds).
        provenance["imported_settings"] = metadata.settings
        if metadata.extra:
            provenance["imported_extra"] = metadata.extra
    return NewGeneration(
        prompt=metadata.prompt if metadata else "",
        negative_prompt=metadata.negative_prompt if metadata else "",
        seed=_as_int(settings.get("seed"), 0, MAX_SEED),
        steps=_as_int(settings.get("steps"), 1, 10_000),
        guidance_scale=_as_float(settings.get("guidance_scale")),
        width=_as_int(settings.get("width"), 1, 65_535),
        height=_as_int(settings.get("height"), 1, 65_535),
        scheduler=_as_text(settings.get("scheduler"), TEXT_LIMITS["scheduler"]),
        model_id=_as_text(settings.get("model_id"), TEXT_LIMITS["model_id"]),
        model_revision=_as_text(settings.get("model_revision"), TEXT_LIMITS["model_revision"]),
        model_hash=_as_text(settings.get("model_hash"), TEXT_LIMITS["model_hash"]),
        recipe=metadata.recipe if metadata else None,
        settings=_reproducible_settings(settings),
        provenance=provenance,
        source=source,
        user_id=user_id,
        png_bytes=data,
    )


def import_folder(
    store: _Recorder,
    folder: str | os.PathLike[str],
    *,
    recursive: bool = True,
    user_id: str | None = None,
) -> ImportReport:
    """Import every PNG under `folder`; `GalleryError` if the folder does not exist."""
    root = Path(folder)
    if not root.is_dir():
        raise GalleryError(f"There is no folder at {root}.")
    imported: list[int] = []
    duplicates: list[Path] = []
    without_metadata: list[Path] = []
    failed: list[tuple[Path, str]] = []
    for path in png_files(root, recursive=recursive):
        try:
            data = path.read_bytes()
            if not data.startswith(PNG_SIGNATURE):
                raise GalleryError("The file is not a PNG image.")
            if store.has_content(content_hash(data)):
                duplicates.append(path)
                continue
            metadata = metadata_from_chunks(read_text_chunks(data))
            item = new_generation_from_png(data, metadata, path, user_id)
            imported.extend(store.record_generations([item]))
        except (GalleryError, OSError) as exc:
            failed.append((path, str(exc)))
            continue
        if metadata is None:
            without_metadata.append(path)
    return ImportReport(tuple(imported), tuple(duplicates), tuple(without_metadata), tuple(failed))


def _reproducible_settings(settings: dict) -> dict:
    """Settings without a column of their own that regeneration needs (A1111's Clip skip)."""
    clip_skip = _as_int(settings.get("clip_skip"), 1, 12)
    return {} if clip_skip is None else {"clip_skip": clip_skip}


def _as_int(value: object, minimum: int, maximum: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if minimum <= value <= maximum else None


def _as_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _as_text(value: object, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None
