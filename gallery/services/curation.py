"""`CurationService`: what an owner does to their generations by hand.

Rate, mark favourite, write notes, tag, delete and export. Deleting writes an intent, commits
the row deletion, then removes the files no row references any more (see `gallery.files`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gallery.errors import GalleryError, NotFoundError
from gallery.export import write_export_zip
from gallery.files import HASH_LOCKS
from gallery.image_storage import ImageStorage
from gallery.models import Generation, GenerationTag, ImageFile, Tag
from gallery.owners import Owner
from gallery.records import check_rating, normalize_tag
from gallery.services.common import Sessions, check_id, discard_unreferenced, owned, tag_ids
from gallery.services.recording import RecordService


class CurationService:
    """Rating, favourite, notes, tags, delete and export of an owner's generations."""

    def __init__(self, sessions: Sessions, files: ImageStorage, records: RecordService) -> None:
        self._sessions = sessions
        self._files = files
        self._records = records

    def set_rating(self, generation_id: int, rating: int | None, *, owner: Owner) -> None:
        """Rate one of `owner`'s generations 0-5, or clear the rating with None."""
        self._update(generation_id, owner, rating=check_rating(rating))

    def set_favourite(self, generation_id: int, favourite: bool = True, *, owner: Owner) -> None:
        """Mark or unmark one of `owner`'s generations as favourite."""
        if not isinstance(favourite, bool):
            raise GalleryError("Favourite must be true or false.")
        self._update(generation_id, owner, favourite=favourite)

    def set_notes(self, generation_id: int, notes: str, *, owner: Owner) -> None:
        """Replace the notes of one of `owner`'s generations."""
        if not isinstance(notes, str):
            raise GalleryError("Notes must be text.")
        self._update(generation_id, owner, notes=notes)

    def add_tag(self, generation_id: int, tag: str, *, owner: Owner) -> None:
        """Tag one of `owner`'s generations (tags are trimmed and lower-cased); adding twice
        is harmless."""
        name = normalize_tag(tag)
        with self._sessions.write() as session:
            _require(session, generation_id, owner)
            tag_id = tag_ids(session, {name})[name]
            if session.get(GenerationTag, (generation_id, tag_id)) is None:
                session.add(GenerationTag(generation_id=generation_id, tag_id=tag_id))

    def remove_tag(self, generation_id: int, tag: str, *, owner: Owner) -> None:
        """Remove a tag from one of `owner`'s generations; removing an absent tag is harmless."""
        name = normalize_tag(tag)
        with self._sessions.write() as session:
            _require(session, generation_id, owner)
            tag_id = session.scalar(select(Tag.id).where(Tag.name == name))
            if tag_id is not None:
                session.execute(
                    delete(GenerationTag).where(
                        GenerationTag.generation_id == generation_id,
                        GenerationTag.tag_id == tag_id,
                    )
                )

    def delete(self, generation_ids: int | Iterable[int], *, owner: Owner) -> int:
        """Delete `owner`'s generations with their images, tags and files; return how many.

        Children keep existing (their parent becomes None). A file shared with a generation
        that is kept (of any owner) stays. `NotFoundError` (and nothing deleted) if an id is
        unknown or another owner's.
        """
        ids = sorted(
            {check_id(generation_ids)}
            if isinstance(generation_ids, int)
            else {check_id(i) for i in generation_ids}
        )
        if not ids:
            return 0
        with self._sessions.read() as session:
            shas = set(
                session.scalars(
                    select(ImageFile.content_hash).where(ImageFile.generation_id.in_(ids))
                )
            )
        engine = self._sessions.engine
        with HASH_LOCKS.hold(shas):  # never between another thread's file and its row
            intent = self._files.begin_intent(shas)
            try:
                with self._sessions.write() as session:
                    found = set(
                        session.scalars(
                            select(Generation.id).where(
                                Generation.id.in_(ids), *owned(Generation, owner)
                            )
                        )
                    )
                    if missing := [i for i in ids if i not in found]:
                        raise NotFoundError(f"There is no generation {missing[0]}.")
                    session.execute(delete(Generation).where(Generation.id.in_(ids)))
            except BaseException:
                # Usually nothing was deleted and every file keeps its row; if the commit did
                # go through, the files without rows are removed here or by the sweep.
                if discard_unreferenced(engine, self._files, shas):
                    intent.finish()
                raise
            if discard_unreferenced(engine, self._files, shas):
                intent.finish()
        return len(ids)

    def export_zip(
        self,
        generation_ids: Iterable[int],
        out_path: str | os.PathLike[str],
        *,
        owner: Owner,
        image_format: str = "png",
    ) -> Path:
        """Write `owner`'s images with `settings.csv` and `settings.json` to a zip (see
        `gallery.export`; `image_format` "jpeg" or "webp" for copies peers read);
        `NotFoundError` (and no file) if any id is unknown or another owner's."""
        ids = list(dict.fromkeys(generation_ids))
        if not ids:
            raise GalleryError("Choose at least one generation to export.")
        records = [self._records.get(generation_id, owner=owner) for generation_id in ids]
        return write_export_zip(records, Path(out_path), image_format=image_format)

    def _update(self, generation_id: int, owner: Owner, **values: Any) -> None:
        with self._sessions.write() as session:
            result = session.execute(
                update(Generation)
                .where(Generation.id == check_id(generation_id), *owned(Generation, owner))
                .values(**values)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"There is no generation {generation_id}.")


def _require(session: Session, generation_id: int, owner: Owner) -> None:
    found = session.scalar(
        select(Generation.id).where(
            Generation.id == check_id(generation_id), *owned(Generation, owner)
        )
    )
    if found is None:
        raise NotFoundError(f"There is no generation {generation_id}.")
