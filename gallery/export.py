"""Export a selection of generations as one zip: the PNGs (or JPEG/WebP copies carrying the
same A1111 text in EXIF UserComment), `settings.csv` and `settings.json`.

Layout of the zip:

    images/<id>-<seed>.png   the stored PNG, metadata included (one per image of a generation,
                             `<id>-<seed>-<n>.png` from the second on)
    settings.csv             one row per image: id, file, prompts, settings, rating, tags, ...
    settings.json            one object per generation: everything `RecordService.get` returns

The zip is written to a temporary name beside the target and renamed, so a failed export never
leaves a partial file behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gallery.errors import GalleryError
from gallery.metadata import SETTING_KEYS
from gallery.peer_copies import peer_copy, suffix_for
from gallery.records import GenerationRecord
from gallery.spreadsheet import SafeDictWriter

CSV_COLUMNS = (
    "id",
    "file",
    "created_at",
    "prompt",
    "negative_prompt",
    *SETTING_KEYS,
    "rating",
    "favourite",
    "tags",
    "notes",
    "parent_id",
    "batch_id",
)


def record_as_json(record: GenerationRecord, files: dict[int, str]) -> dict[str, Any]:
    """A JSON-safe dict of a record; image paths are the names inside the zip."""
    data = asdict(record)
    data["created_at"] = record.created_at.isoformat()
    data["tags"] = list(record.tags)
    data["images"] = [
        {
            "file": files[image.id],
            "content_hash": image.content_hash,
            "width": image.width,
            "height": image.height,
            "missing": image.missing,
        }
        for image in record.images
        if image.id in files
    ]
    return data


def write_export_zip(
    records: Sequence[GenerationRecord], out_path: Path, *, image_format: str = "png"
) -> Path:
    """Write the zip for `records` to `out_path` atomically and return its path.

    `image_format` "jpeg" or "webp" writes each image in that format with its A1111 infotext
    in EXIF UserComment (see `gallery.peer_copies`) instead of the stored PNG.
    """
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".zip":
        raise GalleryError("The export file name must end in .zip.")
    if image_format != "png":
        suffix_for(image_format)  # an unknown format is refused before anything is written
    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=".export-", suffix=".zip", dir=out_path.parent)
    os.close(handle)
    try:
        _write(records, Path(temp_name), image_format)
        os.replace(temp_name, out_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    return out_path


def _write(records: Sequence[GenerationRecord], temp_path: Path, image_format: str) -> None:
    table = io.StringIO()
    rows = SafeDictWriter(table, fieldnames=CSV_COLUMNS, lineterminator="\n")
    rows.writeheader()
    documents = []
    with zipfile.ZipFile(temp_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for record in records:
            files: dict[int, str] = {}
            for index, image in enumerate(record.images):
                if image.missing or not image.path.exists():
                    continue
                suffix = f"-{index}" if index else ""
                name = f"images/{record.id}-{record.seed if record.seed is not None else 'x'}"
                if image_format == "png":
                    name = f"{name}{suffix}.png"
                    archive.write(image.path, name)  # PNGs are compressed already
                else:
                    name = f"{name}{suffix}{suffix_for(image_format)}"
                    archive.writestr(name, peer_copy(image.path.read_bytes(), image_format))
                files[image.id] = name
                rows.writerow(_csv_row(record, name))
            if not files:
                rows.writerow(_csv_row(record, ""))
            documents.append(record_as_json(record, files))
        archive.writestr("settings.csv", table.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(
            "settings.json",
            json.dumps(documents, ensure_ascii=False, indent=2),
            compress_type=zipfile.ZIP_DEFLATED,
        )


def _csv_row(record: GenerationRecord, file_name: str) -> dict[str, Any]:
    row = {name: getattr(record, name, "") for name in CSV_COLUMNS if hasattr(record, name)}
    row.update(
        file=file_name,
        created_at=record.created_at.isoformat(),
        tags=", ".join(record.tags),
        favourite="yes" if record.favourite else "no",
    )
    return {key: ("" if value is None else value) for key, value in row.items()}
