"""What every gallery service shares: sessions, the owner filter, ids, the admin-only mark.

Every public method of a service either takes `owner: Owner` (no default) and keeps to that
owner's rows in its own statements, or is marked `@admin_only` (it acts on every owner's
data: maintenance). `tests/gallery/test_service_owners.py` checks both for every method.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from gallery.database import reader, writer
from gallery.errors import GalleryError, NotFoundError
from gallery.files import ImageFiles
from gallery.models import Generation, Tag
from gallery.outages import database_folder, outages_as_sentences
from gallery.owners import Owner, owner_filter
from gallery.records import GenerationRecord, GenerationSummary, ImageRecord
from gallery.sweep import referenced_hashes

MAX_ID = 2**63 - 1
ADMIN_ONLY = "__gallery_admin_only__"
Method = TypeVar("Method", bound=Callable[..., Any])


def admin_only(method: Method) -> Method:
    """Mark a service method as acting on every owner's data (only the admin view has it)."""
    setattr(method, ADMIN_ONLY, True)
    return method


def is_admin_only(method: Callable[..., Any]) -> bool:
    """Whether `method` was marked with `admin_only`."""
    return bool(getattr(method, ADMIN_ONLY, False))


class Sessions:
    """Sessions on one database: `read()` and `write()` are each one transaction, `connect()`
    one connection for single-statement reads. A full disk or an unreachable server inside
    any of them is one sentence (`gallery.outages`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.writer = writer(engine)  # SQLite: takes the write lock at BEGIN
        self.reader = reader(engine)  # SQLite: one-statement reads without BEGIN
        self.folder = database_folder(engine.url)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with outages_as_sentences(self.folder), Session(self.engine) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        with (
            outages_as_sentences(self.folder),
            Session(self.writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        with outages_as_sentences(self.folder), self.reader.connect() as connection:
            yield connection


def owned(model: Any, owner: Owner) -> tuple[Any, ...]:
    """The WHERE conditions that keep `model`'s rows to `owner`'s (none for `EVERY_OWNER`)."""
    user_id = owner_filter(owner)
    return () if user_id is None else (model.user_id == user_id,)


def check_id(value: Any) -> int:
    """`value` if it is an id a database can hold, else one sentence (`NotFoundError`)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise GalleryError(f"An id must be a whole number, not {value!r}.")
    if not 1 <= value <= MAX_ID:
        raise NotFoundError(f"There is no item {value}: ids run from 1 to {MAX_ID}.")
    return value


def discard_unreferenced(engine: Engine, files: ImageFiles, shas: Iterable[str]) -> bool:
    """After a failed write: remove files of hashes no row references. False if unsure."""
    try:
        in_use = referenced_hashes(engine, shas)
    except Exception:
        return False  # the sweep will decide once the database answers again
    for sha in set(shas) - in_use:
        files.remove_hash(sha)
    return True


def summary(root: str, row: Row[Any]) -> GenerationSummary:
    """A `GenerationSummary` from a row in `search.SUMMARY_COLUMNS` order (paths made absolute
    under the gallery folder `root`)."""
    *fields, image, thumbnail = row
    return GenerationSummary(
        *fields,
        f"{root}/{image}" if image else None,
        f"{root}/{thumbnail}" if thumbnail else None,
    )


def generation_record(root: Path, row: Generation) -> GenerationRecord:
    """The frozen record of a generation row (images and tags loaded)."""
    return GenerationRecord(
        id=row.id,
        batch_id=row.batch_id,
        created_at=row.created_at,
        user_id=row.user_id,
        parent_id=row.parent_id,
        source=row.source,
        recipe=row.recipe,
        prompt=row.prompt,
        negative_prompt=row.negative_prompt,
        seed=row.seed,
        steps=row.steps,
        guidance_scale=row.guidance_scale,
        width=row.width,
        height=row.height,
        scheduler=row.scheduler,
        model_id=row.model_id,
        model_revision=row.model_revision,
        model_hash=row.model_hash,
        settings=row.settings,
        provenance=row.provenance,
        versions=row.versions,
        timings=row.timings,
        rating=row.rating,
        favourite=row.favourite,
        notes=row.notes,
        tags=tuple(tag.name for tag in row.tags),
        images=tuple(
            ImageRecord(
                id=image.id,
                generation_id=row.id,
                path=root / image.path,
                thumbnail_path=root / image.thumbnail_path if image.thumbnail_path else None,
                content_hash=image.content_hash,
                width=image.width,
                height=image.height,
                size_bytes=image.size_bytes,
                missing=image.missing,
            )
            for image in row.images
        ),
    )


def tag_ids(session: Session, names: set[str]) -> dict[str, int]:
    """Ids of the tags `names`, creating missing ones (safe against concurrent writers)."""
    if not names:
        return {}
    rows = [{"name": name} for name in sorted(names)]
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        make_insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        session.execute(make_insert(Tag).values(rows).on_conflict_do_nothing())
    else:
        known = set(session.scalars(select(Tag.name).where(Tag.name.in_(names))))
        session.add_all(Tag(name=name) for name in names - known)
        session.flush()
    found = session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names))).all()
    return {name: tag_id for name, tag_id in found}
