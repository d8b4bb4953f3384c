"""`RecordService`: record generations with their image files, read one back, walk lineage.

Recording follows one order so that neither a row without its file nor a file without its
row survives a crash:

1. encode the PNG (metadata embedded) and its thumbnail in memory;
2. write a durable intent naming the file hashes to `pending/`;
3. write each file to `tmp/`, fsync, rename into place;
4. insert the rows and commit;
5. forget the intent.

If anything fails in 3-4 the files this call created are removed (unless a row now references
them) before the error is raised; if the process dies instead, the sweep at the next open
finishes the intent (see `gallery.sweep`). If the database cannot be reached at 4, the files
are kept and the rows wait in `deferred/` until it answers again (`gallery.deferred`); a
full disk is one sentence (`gallery.outages`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exists, literal, select
from sqlalchemy.orm import Session, selectinload

from gallery.deferred import DeferredBatch, DeferredFolder
from gallery.errors import GalleryError, GalleryUnavailableError, NotFoundError
from gallery.files import HASH_LOCKS, ImageFiles, PreparedImage, image_rel_path, prepare_png
from gallery.importers import import_folder as import_images
from gallery.metadata import embed_metadata
from gallery.models import Generation, GenerationTag, ImageFile, utc_now
from gallery.outages import UNAVAILABLE_WHILE_RECORDING, outages_as_sentences
from gallery.owners import Owner, owner_filter, writing_owner
from gallery.records import (
    GenerationRecord,
    GenerationSummary,
    ImportReport,
    Lineage,
    NewGeneration,
    json_safe,
    normalize_tag,
)
from gallery.search import SUMMARY_COLUMNS
from gallery.services.common import (
    Sessions,
    admin_only,
    check_id,
    discard_unreferenced,
    generation_record,
    owned,
    summary,
    tag_ids,
)

MAX_LINEAGE_DEPTH = 1000


class RecordService:
    """Generations and their image files: record, import, get, lineage."""

    def __init__(self, sessions: Sessions, files: ImageFiles, root: Path) -> None:
        self._sessions = sessions
        self._files = files
        self._root = root
        self._deferred = DeferredFolder(root)
        self._replaying = threading.Lock()

    def record_generation(self, item: NewGeneration, *, owner: Owner) -> int:
        """Record one image of `owner`'s; return its generation id."""
        return self.record_generations([item], owner=owner)[0]

    def record_generations(self, items: Sequence[NewGeneration], *, owner: Owner) -> list[int]:
        """Record a batch of `owner`'s (one generation per image, one shared batch id), all or
        nothing. An item's own `user_id`, when set, must be `owner`; a parent must be theirs.

        `GalleryUnavailableError` when the database cannot be reached: the images are kept and
        recorded once it answers again (`gallery.deferred`); `DiskFullError` on a full disk.
        """
        items = [self._complete(item, owner) for item in items]
        if not items:
            return []
        prepared = [_prepare(item) for item in items]
        batch_id = items[0].batch_id or uuid.uuid4().hex
        ids = self._store(items, prepared, batch_id, utc_now(), defer=True)
        if self._deferred.pending():  # the database answers: record what waited for it
            with contextlib.suppress(GalleryError):  # ours is recorded; the rest can wait
                self.record_deferred()
        return ids

    @admin_only
    def record_deferred(self) -> int:
        """Record the rows that waited for the database (every owner's, as each was made);
        return how many generations were recorded. Stops, handing the rest back, when the
        database goes away again (`GalleryUnavailableError`)."""
        if not self._replaying.acquire(blocking=False):
            return 0  # another thread is at it
        try:
            recorded = 0
            claimed = self._deferred.claim_all()
            for index, path in enumerate(claimed):
                try:
                    recorded += self._record_deferred_batch(self._deferred.read(path))
                except GalleryUnavailableError:
                    for rest in claimed[index:]:
                        self._deferred.release(rest)
                    raise
                except (GalleryError, OSError, ValueError, KeyError, TypeError):
                    self._deferred.set_aside(path)  # kept for a person to look at
                    continue
                self._deferred.drop(path)
            return recorded
        finally:
            self._replaying.release()

    def _record_deferred_batch(self, batch: DeferredBatch) -> int:
        with self._sessions.read() as session:
            if session.scalar(select(exists().where(Generation.batch_id == batch.batch_id))):
                return 0  # its commit went through after all
        items, prepared = [], []
        for sha, item in batch.items:
            path = self._files.absolute(image_rel_path(sha))
            try:
                image = prepare_png(path.read_bytes())
            except (OSError, GalleryError):
                continue  # the file is gone (deleted by hand): nothing to record
            if image.sha != sha:
                continue
            items.append(dataclasses.replace(item, png_bytes=image.data))
            prepared.append(image)
        if not items:
            return 0
        try:
            return len(self._store(items, prepared, batch.batch_id, batch.created_at))
        except NotFoundError:  # the parent was deleted meanwhile: keep the images all the same
            orphans = [dataclasses.replace(item, parent_id=None) for item in items]
            return len(self._store(orphans, prepared, batch.batch_id, batch.created_at))

    def _store(
        self,
        items: list[NewGeneration],
        prepared: list[PreparedImage],
        batch_id: str,
        created_at: datetime,
        *,
        defer: bool = False,
    ) -> list[int]:
        shas = [image.sha for image in prepared]
        # A delete of the same content waits until the row exists; a full disk is one sentence.
        with HASH_LOCKS.hold(shas), outages_as_sentences(self._root):
            intent = self._files.begin_intent(shas)
            try:
                for image in prepared:
                    self._files.store(image)
                ids = self._insert(items, prepared, batch_id, created_at)
            except GalleryUnavailableError:
                if defer and self._defer(batch_id, created_at, items, prepared):
                    intent.finish()  # the deferred document accounts for the files now
                    raise GalleryUnavailableError(UNAVAILABLE_WHILE_RECORDING) from None
                if discard_unreferenced(self._sessions.engine, self._files, shas):
                    intent.finish()
                raise
            except BaseException:
                if discard_unreferenced(self._sessions.engine, self._files, shas):
                    intent.finish()
                raise
            intent.finish()
        return ids

    def _defer(
        self,
        batch_id: str,
        created_at: datetime,
        items: list[NewGeneration],
        prepared: list[PreparedImage],
    ) -> bool:
        """Keep the rows for later; False (nothing kept) if even that cannot be written."""
        rows = [(image.sha, item) for image, item in zip(prepared, items, strict=True)]
        try:
            self._deferred.write(batch_id, created_at, rows)
        except (OSError, GalleryError):
            return False
        return True

    def has_content(self, sha: str, *, owner: Owner) -> bool:
        """Whether `owner` has an image with this SHA-256 content hash."""
        condition = ImageFile.content_hash == sha
        if (user_id := owner_filter(owner)) is not None:
            condition = condition & ImageFile.generation.has(Generation.user_id == user_id)
        with self._sessions.read() as session:
            return bool(session.scalar(select(exists().where(condition))))

    def import_folder(
        self, folder: str | os.PathLike[str], *, recursive: bool = True, owner: Owner
    ) -> ImportReport:
        """Import every PNG, JPEG and WebP in `folder` for `owner` (see `gallery.importers`)."""
        return import_images(_OwnerRecorder(self, owner), folder, recursive=recursive)

    def get(self, generation_id: int, *, owner: Owner) -> GenerationRecord:
        """Everything about one of `owner`'s generations; `NotFoundError` if there is none."""
        with self._sessions.read() as session:
            row = session.scalar(
                select(Generation)
                .where(Generation.id == check_id(generation_id), *owned(Generation, owner))
                .options(selectinload(Generation.images), selectinload(Generation.tags))
            )
            if row is None:
                raise NotFoundError(f"There is no generation {generation_id}.")
            return generation_record(self._root, row)

    def lineage(self, generation_id: int, *, owner: Owner) -> Lineage:
        """The generation, its parents up to the root (root first) and all its descendants
        (only `owner`'s: the walk stops at another owner's generation)."""
        with self._sessions.read() as session:
            base = session.execute(
                select(*SUMMARY_COLUMNS).where(
                    Generation.id == check_id(generation_id), *owned(Generation, owner)
                )
            ).first()
            if base is None:
                raise NotFoundError(f"There is no generation {generation_id}.")
            ancestors = self._walk(session, generation_id, owner, up=True)
            descendants = self._walk(session, generation_id, owner, up=False)
        return Lineage(self._summary(base), ancestors, descendants)

    def _summary(self, row: Any) -> GenerationSummary:
        return summary(self._root.as_posix(), row)

    def _walk(
        self, session: Session, generation_id: int, owner: Owner, *, up: bool
    ) -> tuple[GenerationSummary, ...]:
        start = select(Generation.id, Generation.parent_id, literal(0).label("depth")).where(
            Generation.id == generation_id
        )
        tree = start.cte("lineage", recursive=True)
        link = Generation.id == tree.c.parent_id if up else Generation.parent_id == tree.c.id
        tree = tree.union_all(
            select(Generation.id, Generation.parent_id, (tree.c.depth + 1).label("depth"))
            .join(tree, link)
            .where(tree.c.depth < MAX_LINEAGE_DEPTH, *owned(Generation, owner))
        )
        order = (tree.c.depth.desc(),) if up else (tree.c.depth, Generation.id)
        rows = session.execute(
            select(*SUMMARY_COLUMNS)
            .join(tree, tree.c.id == Generation.id)
            .where(tree.c.depth > 0)
            .order_by(*order)
        ).all()
        return tuple(self._summary(row) for row in rows)

    def _complete(self, item: NewGeneration, owner: Owner) -> NewGeneration:
        item.validate()
        user_id = writing_owner(owner)
        if item.user_id not in (None, user_id):
            raise GalleryError("A generation cannot be recorded for another owner.")
        item = dataclasses.replace(item, user_id=user_id)
        if item.image is not None and (item.width is None or item.height is None):
            width, height = item.image.size
            item = dataclasses.replace(
                item, width=item.width or width, height=item.height or height
            )
        return item

    def _insert(
        self,
        items: list[NewGeneration],
        prepared: list[PreparedImage],
        batch_id: str,
        now: datetime,
    ) -> list[int]:
        rows = []
        with self._sessions.write() as session:
            parents = {item.parent_id for item in items if item.parent_id is not None}
            if parents:
                found = set(
                    session.scalars(
                        select(Generation.id).where(
                            Generation.id.in_(parents), Generation.user_id == items[0].user_id
                        )
                    )
                )
                if missing := sorted(parents - found):
                    raise NotFoundError(f"There is no parent generation {missing[0]}.")
            ids = tag_ids(session, {normalize_tag(t) for i in items for t in i.tags})
            for item, image in zip(items, prepared, strict=True):
                row = _generation_row(item, image, batch_id, now)
                session.add(row)
                rows.append((row, {normalize_tag(t) for t in item.tags}))
            session.flush()
            for row, tags in rows:
                for name in sorted(tags):
                    session.add(GenerationTag(generation_id=row.id, tag_id=ids[name]))
        return [row.id for row, _ in rows]


@dataclasses.dataclass(frozen=True)
class _OwnerRecorder:
    """A `RecordService` recording for one owner (what `gallery.importers` and
    `gallery.rebuild` write through)."""

    records: RecordService
    owner: Owner

    def has_content(self, sha: str) -> bool:
        return self.records.has_content(sha, owner=self.owner)

    def record_generations(self, items: Sequence[NewGeneration]) -> list[int]:
        return self.records.record_generations(items, owner=self.owner)


def _prepare(item: NewGeneration) -> PreparedImage:
    if item.png_bytes is not None:
        return prepare_png(item.png_bytes)
    assert item.image is not None
    return prepare_png(embed_metadata(item.image, item), item.image)


def _generation_row(
    item: NewGeneration, image: PreparedImage, batch_id: str, now: datetime
) -> Generation:
    provenance = dict(json_safe(item.provenance, "provenance"))
    versions = provenance.pop("versions", None) or {}
    timings = provenance.pop("timings", None) or {}
    row = Generation(
        batch_id=batch_id,
        created_at=now,
        user_id=item.user_id,
        parent_id=item.parent_id,
        source=item.source,
        recipe=json_safe(item.effective_recipe(), "recipe"),
        prompt=item.prompt,
        negative_prompt=item.negative_prompt,
        seed=item.seed,
        steps=item.steps,
        guidance_scale=item.guidance_scale,
        width=item.width if item.width is not None else image.width,
        height=item.height if item.height is not None else image.height,
        scheduler=item.scheduler,
        model_id=item.model_id,
        model_revision=item.model_revision,
        model_hash=item.model_hash,
        settings=json_safe(item.settings, "settings"),
        provenance=provenance,
        versions=versions if isinstance(versions, dict) else {"value": versions},
        timings=timings if isinstance(timings, dict) else {"value": timings},
        rating=None,
        favourite=False,
        notes="",
    )
    row.images.append(
        ImageFile(
            path=image.rel_path,
            thumbnail_path=image.thumbnail_rel_path,
            content_hash=image.sha,
            width=image.width,
            height=image.height,
            size_bytes=len(image.data),
            missing=False,
            created_at=now,
        )
    )
    return row
