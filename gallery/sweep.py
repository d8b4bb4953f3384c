"""Repair what an abrupt stop left behind: the sweep run when the gallery opens.

Quick sweep (every start, cost grows with the number of unfinished writes, not the gallery):
- temp files in `tmp/` whose writer is gone are deleted;
- each write intent in `pending/` whose writer is gone is finished: for every hash it names,
  the files are deleted unless an image row references that hash (the row was committed, so
  the files stay), then the intent is removed.

A writer is gone when it ran on this host and its process no longer exists, or, for another
host or an unknowable owner, when the intent is older than the grace period (default 10
minutes, so replicas sharing one folder never sweep each other's writes in flight).

Files whose rows wait in `deferred/` for the database (`gallery.deferred`) are never deleted.

Full sweep (`store.admin().sweep(full=True)`, walks every file and row): additionally deletes
files older than the grace period that no row references — except images whose own metadata
says we made them (our `prompt_atelier` chunk), which are kept and reported unless
`delete_ours` (`gallery rebuild` records them again) — remakes missing thumbnails, and
flags image rows whose file is missing (`images.missing`, shown by `get`). Such rows are kept,
not deleted: the recipe and settings are still worth having without the picture.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from PIL import Image
from sqlalchemy import Engine, select, update

from gallery.database import writer
from gallery.errors import GalleryError
from gallery.files import ImageFiles, image_rel_path, make_thumbnail, owner_alive, parse_owner
from gallery.metadata import ATELIER_KEY, read_text_chunks
from gallery.models import ImageFile
from gallery.records import SweepReport

DEFAULT_GRACE_S = 600.0
_BATCH = 500


def is_stale(host: str, pid: int, age_s: float, grace_s: float) -> bool:
    """Whether a temp file or intent was left by a writer that is gone."""
    alive = owner_alive(host, pid)
    if alive is None:
        return age_s > grace_s
    return not alive


def referenced_hashes(engine: Engine, hashes: Iterable[str]) -> set[str]:
    """The hashes among `hashes` that at least one image row references."""
    found: set[str] = set()
    with engine.connect() as connection:
        for chunk in _chunks(hashes, _BATCH):
            rows = connection.execute(
                select(ImageFile.content_hash).where(ImageFile.content_hash.in_(chunk)).distinct()
            )
            found.update(rows.scalars())
    return found


def sweep(
    engine: Engine,
    files: ImageFiles,
    *,
    grace_s: float = DEFAULT_GRACE_S,
    full: bool = False,
    delete_ours: bool = False,
    keep: frozenset[str] = frozenset(),
) -> SweepReport:
    """Run the quick sweep, and the full one if `full`; return what was repaired. Files of the
    hashes in `keep` (rows waiting in `deferred/`) count as referenced."""
    removed_temp = []
    for path, age in files.temp_files():
        host, pid = parse_owner(path.name)
        if is_stale(host, pid, age, grace_s):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed_temp.append(path.name)

    removed: list[str] = []
    finished = kept = 0
    for intent in files.intents():
        if not is_stale(intent.host, intent.pid, intent.age_s, grace_s):
            kept += 1
            continue
        in_use = referenced_hashes(engine, intent.hashes) | keep
        for sha in intent.hashes:
            if sha not in in_use:
                removed.extend(files.remove_hash(sha))
        with contextlib.suppress(FileNotFoundError):
            intent.path.unlink()
        finished += 1

    missing: tuple[int, ...] = ()
    kept_ours: list[str] = []
    if full:
        removed.extend(_remove_orphans(engine, files, grace_s, delete_ours, kept_ours, keep))
        missing = _flag_missing(engine, files)
    return SweepReport(
        kept_unrecorded=tuple(kept_ours),
        removed_files=tuple(removed),
        removed_temp_files=tuple(removed_temp),
        finished_intents=finished,
        kept_intents=kept,
        missing_images=missing,
    )


def _remove_orphans(
    engine: Engine,
    files: ImageFiles,
    grace_s: float,
    delete_ours: bool,
    kept: list[str],
    keep: frozenset[str],
) -> list[str]:
    old_hashes = (sha for sha, age in files.stored_hashes() if age > grace_s and sha not in keep)
    removed = []
    for chunk in _chunks(old_hashes, _BATCH):
        in_use = referenced_hashes(engine, chunk)
        for sha in chunk:
            if sha in in_use:
                continue
            if not delete_ours and is_ours(files.absolute(image_rel_path(sha))):
                kept.append(image_rel_path(sha))
                continue
            removed.extend(files.remove_hash(sha))
    return removed


def is_ours(path: Path) -> bool:
    """Whether the PNG at `path` carries our own metadata chunk (False if absent/unreadable)."""
    try:
        return ATELIER_KEY in read_text_chunks(path)
    except (GalleryError, OSError):
        return False


def _flag_missing(engine: Engine, files: ImageFiles) -> tuple[int, ...]:
    missing, present_again = [], []
    with engine.connect() as connection:
        rows = connection.execute(
            select(ImageFile.id, ImageFile.path, ImageFile.thumbnail_path, ImageFile.missing)
        ).all()
    for image_id, rel_path, thumb_rel_path, flagged in rows:
        path = files.absolute(rel_path)
        if not path.exists():
            missing.append(image_id)
            continue
        if flagged:
            present_again.append(image_id)
        if thumb_rel_path and not files.absolute(thumb_rel_path).exists():
            with contextlib.suppress(OSError, ValueError), Image.open(path) as image:
                files.write(thumb_rel_path, make_thumbnail(image))
    with writer(engine).begin() as connection:
        for ids, flag in ((missing, True), (present_again, False)):
            for chunk in _chunks(ids, _BATCH):
                connection.execute(
                    update(ImageFile).where(ImageFile.id.in_(chunk)).values(missing=flag)
                )
    return tuple(missing)


def _chunks(items: Iterable[str] | Iterable[int], size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
