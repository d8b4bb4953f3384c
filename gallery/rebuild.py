"""Re-create lost records from the stored images themselves (`gallery rebuild`).

Every stored PNG carries its prompts and settings (ours, or the tool's that made an imported
file), so a lost, emptied or replaced database can be refilled from the files: each image no
row references becomes one generation again, read like an import. Files are not moved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from gallery.errors import GalleryError
from gallery.image_storage import ImageStorage
from gallery.importers import new_generation_from_png
from gallery.metadata import metadata_from_png
from gallery.prepared import content_hash, image_rel_path
from gallery.records import ImportReport, NewGeneration


class _Recorder(Protocol):
    def has_content(self, sha: str) -> bool: ...

    def record_generations(self, items: list[NewGeneration]) -> list[int]: ...


def record_stored_images(store: _Recorder, files: ImageStorage) -> ImportReport:
    """Record every stored image without a row; a file whose content does not match its name,
    or that cannot be read, is reported in `failed` and left alone."""
    imported: list[int] = []
    without_metadata: list[Path] = []
    failed: list[tuple[Path, str]] = []
    for sha in files.image_hashes():
        rel_path = image_rel_path(sha)
        path = Path(files.location(rel_path))
        try:
            if store.has_content(sha):
                continue
            data = files.read(rel_path)
            if content_hash(data) != sha:
                raise GalleryError("The file's content does not match its name.")
            metadata = metadata_from_png(data)
            item = new_generation_from_png(data, metadata, Path(path.name))
            item.source = item.source.replace("import", "rebuild", 1)
            imported.extend(store.record_generations([item]))
        except (GalleryError, OSError) as exc:
            failed.append((path, str(exc)))
            continue
        if metadata is None:
            without_metadata.append(path)
    return ImportReport(tuple(imported), (), tuple(without_metadata), tuple(failed))
