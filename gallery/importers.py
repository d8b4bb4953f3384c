"""Import a folder of PNG, JPEG and WebP images (from any tool `gallery.image_reader` knows).

Each file becomes one generation whose prompts and settings come from its metadata. A PNG is
stored byte for byte (its own metadata stays in it). A JPEG or WebP is stored as a PNG made
from its decoded pixels, carrying A1111 text and our JSON chunk with what was read (the
original format and metadata are kept in the provenance). A file whose content is already in
the gallery is skipped as a duplicate.

Files are imported one by one, each within `FILE_TIME_LIMIT_S`: a file that is not an image,
is truncated, too large or too slow is reported in `failed` with one sentence and the others
still go in.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from PIL import Image

from gallery.bounds import Deadline
from gallery.errors import GalleryError
from gallery.files import content_hash
from gallery.image_container import open_image
from gallery.image_reader import ImageReading, read_image_metadata
from gallery.metadata import ImageMetadata, embed_metadata
from gallery.png_chunks import strip_unknown_chunks
from gallery.records import MAX_SEED, TEXT_LIMITS, ImportReport, NewGeneration

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


class _Recorder(Protocol):
    def has_content(self, sha: str) -> bool: ...

    def record_generations(self, items: list[NewGeneration]) -> list[int]: ...


def image_files(folder: Path, *, recursive: bool = True) -> Iterator[Path]:
    """PNG, JPEG and WebP files in `folder` (by extension, any case), in a stable order."""
    pattern = "**/*" if recursive else "*"
    for path in sorted(folder.glob(pattern)):
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            yield path


def new_generation_from_png(
    data: bytes, metadata: ImageMetadata | None, origin: Path, user_id: str | None = None
) -> NewGeneration:
    """The generation to record for an imported PNG (stored as `data`)."""
    return _generation(metadata, origin, user_id, png_bytes=data)


def _generation(
    metadata: ImageMetadata | None,
    origin: Path | None,
    user_id: str | None,
    *,
    png_bytes: bytes | None = None,
    image: Image.Image | None = None,
    original_format: str | None = None,
) -> NewGeneration:
    settings = metadata.settings if metadata else {}
    ours = metadata.extra.get("settings") if metadata else None
    reproducible = {**(ours if isinstance(ours, dict) else {}), **settings}
    source = f"import:{metadata.source}" if metadata else "import"
    provenance = dict(metadata.provenance) if metadata else {}
    if origin is not None:
        provenance["imported_from"] = str(origin)
    if original_format:
        provenance["imported_format"] = original_format
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
        settings=_reproducible_settings(reproducible),
        provenance=provenance,
        source=source,
        user_id=user_id,
        png_bytes=png_bytes,
        image=image,
    )


def png_for_foreign_image(data: bytes, reading: ImageReading) -> bytes:
    """PNG bytes for a JPEG or WebP: its pixels, with A1111 text and our chunk describing what
    was read. The same file always gives the same bytes (so duplicates are recognised)."""
    try:
        with open_image(data) as decoded:
            decoded.load()
            image = decoded.convert("RGBA" if "A" in decoded.getbands() else "RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise GalleryError(f"The image could not be decoded: {_reason(exc)}.") from None
    item = _generation(reading.metadata, None, None, image=image, original_format=reading.format)
    return embed_metadata(image, item)


def import_file(
    store: _Recorder, path: Path, *, user_id: str | None = None, deadline: Deadline | None = None
) -> tuple[int | None, ImageReading]:
    """Import one file; (the new id or None for a duplicate, what was read). Raises
    `GalleryError` (or `OSError`) with one sentence when the file cannot be imported."""
    deadline = deadline or Deadline()
    data = path.read_bytes()
    reading = read_image_metadata(data, deadline=deadline)
    deadline.check()
    if reading.format == "PNG":
        stored = strip_unknown_chunks(data)
    else:
        stored = png_for_foreign_image(data, reading)
        deadline.check()
    if store.has_content(content_hash(stored)):
        return None, reading
    item = _generation(
        reading.metadata, path, user_id, png_bytes=stored, original_format=reading.format
    )
    if reading.format == "PNG":
        item.provenance.pop("imported_format", None)
    return store.record_generations([item])[0], reading


def import_folder(
    store: _Recorder,
    folder: str | os.PathLike[str],
    *,
    recursive: bool = True,
    user_id: str | None = None,
    time_limit_s: float | None = None,
) -> ImportReport:
    """Import every PNG, JPEG and WebP under `folder` (or the one image file it names);
    `GalleryError` if there is no such folder or file."""
    root = Path(folder)
    if root.is_file():
        if root.suffix.lower() not in IMAGE_EXTENSIONS:
            raise GalleryError(f"{root.name} is not a PNG, JPEG or WebP file.")
        paths: Iterator[Path] = iter([root])
    elif root.is_dir():
        paths = image_files(root, recursive=recursive)
    else:
        raise GalleryError(f"There is no folder or file at {root}.")
    imported: list[int] = []
    duplicates: list[Path] = []
    without_metadata: list[Path] = []
    failed: list[tuple[Path, str]] = []
    found: list[tuple[Path, str]] = []
    notes: list[tuple[Path, str]] = []
    formats: Counter[str] = Counter()
    for path in paths:
        deadline = Deadline(time_limit_s) if time_limit_s is not None else Deadline()
        try:
            new_id, reading = import_file(store, path, user_id=user_id, deadline=deadline)
        except (GalleryError, OSError) as exc:
            failed.append((path, _reason(exc)))
            continue
        except MemoryError:
            failed.append((path, "the image needs more memory than is free"))
            continue
        except Exception as exc:  # one odd file must never stop a folder import
            failed.append((path, f"it could not be read ({type(exc).__name__})"))
            continue
        notes.extend((path, note) for note in reading.notes)
        if new_id is None:
            duplicates.append(path)
            continue
        imported.append(new_id)
        formats[reading.format] += 1
        found.append((path, reading.summary()))
        if reading.metadata is None:
            without_metadata.append(path)
    return ImportReport(
        tuple(imported),
        tuple(duplicates),
        tuple(without_metadata),
        tuple(failed),
        tuple(found),
        dict(sorted(formats.items())),
        tuple(notes),
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "the file disappeared"
    if isinstance(exc, PermissionError):
        return "the file cannot be read (permission denied)"
    if isinstance(exc, OSError) and not isinstance(exc, GalleryError):
        return (exc.strerror or str(exc) or "it could not be read").rstrip(".")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.rstrip(".")


def _reproducible_settings(settings: dict) -> dict:
    """Settings without a column of their own that regeneration needs: A1111's Clip skip, and
    SD3/FLUX's T5 length, true CFG and shift."""
    kept = {
        "clip_skip": _as_int(settings.get("clip_skip"), 1, 12),
        "max_sequence_length": _as_int(settings.get("max_sequence_length"), 8, 512),
        "true_cfg_scale": _as_float(settings.get("true_cfg_scale")),
        "shift": _as_float(settings.get("shift")),
    }
    if kept["shift"] is not None and not 0 < kept["shift"] <= 100:
        kept["shift"] = None
    if kept["true_cfg_scale"] is not None and not 0 <= kept["true_cfg_scale"] <= 30:
        kept["true_cfg_scale"] = None
    return {key: value for key, value in kept.items() if value is not None}


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
