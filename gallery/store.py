"""`GalleryStore`: the one object the UI and the CLI talk to for everything kept.

It is a facade over the database (`gallery.models`, migrated at open) and the image files
(`gallery.files`). Recording follows one order so that neither a row without its file nor a
file without its row survives a crash:

1. encode the PNG (metadata embedded) and its thumbnail in memory;
2. write a durable intent naming the file hashes to `pending/`;
3. write each file to `tmp/`, fsync, rename into place;
4. insert the rows and commit;
5. forget the intent.

If anything fails in 3-4 the files this call created are removed (unless a row now references
them) before the error is raised; if the process dies instead, the sweep at the next open
finishes the intent (see `gallery.sweep`). Deleting writes an intent, commits the row
deletion, then removes files no row references any more.

Every method that reads or changes owned data (generations, experiments, user styles) takes
`owner=` and filters by it in its own statements; see `gallery.owners` for the ids, the local
default and `EVERY_OWNER`. `store.for_owner(owner)` binds it once for a visitor's requests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, delete, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlalchemy.orm import Session, selectinload

from gallery import experiment_export, export, importers, rebuild, search
from gallery.database import (
    create_gallery_engine,
    move_legacy_database,
    reader,
    resolve_database_url,
    table_names,
    upgrade_schema,
    writer,
)
from gallery.errors import GalleryError, NotFoundError
from gallery.experiments import ExperimentService
from gallery.files import HASH_LOCKS, ImageFiles, PreparedImage, prepare_png
from gallery.metadata import embed_metadata
from gallery.models import (
    Experiment,
    Generation,
    GenerationTag,
    ImageFile,
    Tag,
    UserStyleRow,
    utc_now,
)
from gallery.owners import EVERY_OWNER, Owner, owner_filter, writing_owner
from gallery.records import (
    ExperimentRecord,
    GalleryQuery,
    GenerationRecord,
    GenerationSummary,
    ImageRecord,
    ImportReport,
    Lineage,
    NewGeneration,
    Page,
    ScoreRecord,
    SweepReport,
    UserStyle,
    VariantSpec,
    VoteRecord,
    check_rating,
    json_safe,
    normalize_tag,
)
from gallery.scores import ScoreService
from gallery.sweep import DEFAULT_GRACE_S, referenced_hashes, sweep

MAX_LINEAGE_DEPTH = 1000
MAX_ID = 2**63 - 1
# Methods of `GalleryStore` that take `owner=`; `OwnerGallery` fills it in.
OWNER_SCOPED = frozenset(
    {
        "record_generation",
        "record_generations",
        "has_content",
        "import_folder",
        "search",
        "count",
        "get",
        "lineage",
        "models",
        "tags",
        "set_rating",
        "set_favourite",
        "set_notes",
        "add_tag",
        "remove_tag",
        "delete",
        "export_zip",
        "create_experiment",
        "get_experiment",
        "list_experiments",
        "add_to_variant",
        "set_winner",
        "delete_experiment",
        "add_vote",
        "votes",
        "save_scores",
        "scores_of",
        "ranked_by_score",
        "export_experiment",
        "list_user_styles",
        "save_user_style",
        "delete_user_style",
    }
)


class StyleLike(Protocol):
    """Anything with a style's four fields (`UserStyle`, `prompts.styles.Style`)."""

    name: str
    category: str
    prompt: str
    negative_prompt: str


class GalleryStore:
    """Generations, their images, tags, ratings, experiments and user styles.

    Open with `GalleryStore.open(gallery_dir)`; safe to share between threads (each call uses
    its own session). Ids are plain ints; results are frozen records, never ORM objects.
    """

    def __init__(self, root: Path, engine: Engine) -> None:
        self.root = root
        self._root_text = root.as_posix()
        self._engine = engine
        self._writer = writer(engine)
        self._reader = reader(engine)
        self._files = ImageFiles(root)
        self._text_mode = search.text_mode(
            engine.dialect.name, "generations_fts" in table_names(engine)
        )
        self.last_sweep = SweepReport()
        self._experiments = ExperimentService(self._read, self._write)
        self._scores = ScoreService(self._read, self._write)

    # --- opening -----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        gallery_dir: str | os.PathLike[str],
        database_url: str | None = None,
        *,
        sweep_grace_s: float = DEFAULT_GRACE_S,
        allow_unrecorded_images: bool = False,
    ) -> GalleryStore:
        """Open (creating if needed) the gallery in `gallery_dir`: migrate, check, then sweep.

        The database is `database_url`, else `DATABASE_URL`, else
        `gallery_dir/database/atelier.db` (moved there from an older layout's
        `gallery_dir/atelier.db`); image files always live under `gallery_dir`.

        Refuses (`GalleryError`, nothing touched) a database that holds no generation while
        image files exist — a new, emptied or replaced file, or a mistyped `DATABASE_URL` —
        unless `allow_unrecorded_images` (what `gallery rebuild` uses), and a file that is
        not a database this app can read.
        """
        root = Path(gallery_dir).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        url = resolve_database_url(root, database_url)
        if url == resolve_database_url(root, None) and not os.environ.get("DATABASE_URL"):
            move_legacy_database(root)
        engine = create_gallery_engine(url)
        try:
            upgrade_schema(engine, backup_dir=root / "backups")
            store = cls(root, engine)
            if not allow_unrecorded_images:
                store._refuse_images_without_records()
            store.last_sweep = store.sweep(grace_s=sweep_grace_s)
        except DatabaseError as exc:
            engine.dispose()
            raise GalleryError(
                "The gallery database cannot be read as a Prompt Atelier database "
                f"({_first_line(exc)}); nothing was changed. Restore it from the gallery's "
                "backups folder, or move it away and run `python app.py gallery rebuild`."
            ) from None
        except BaseException:
            engine.dispose()
            raise
        return store

    def _refuse_images_without_records(self) -> None:
        with self._read() as session:
            if session.scalar(select(exists().where(Generation.id.is_not(None)))):
                return
        if self._files.any_settled_image():
            raise GalleryError(
                "The gallery database has no records, yet the gallery folder holds images: "
                "the database may be new, emptied or replaced, or DATABASE_URL mistyped. "
                "Nothing was changed. Check DATABASE_URL, restore the database from the "
                "gallery's backups folder, or run `python app.py gallery rebuild` to re-create "
                "the records from the images' own metadata."
            )

    def close(self) -> None:
        """Release database connections."""
        self._engine.dispose()

    def __enter__(self) -> GalleryStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def for_owner(self, owner: Owner) -> OwnerGallery:
        """A view of this store whose owner-scoped methods act for `owner` only."""
        return OwnerGallery(self, owner)

    @property
    def served_folders(self) -> tuple[Path, Path]:
        """The only folders a web server may serve: the images and their thumbnails (the
        database, temp files, intents and backups live beside them, never inside)."""
        return self._files.served_folders()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for maintenance scripts and the benchmark)."""
        return self._engine

    @property
    def uses_full_text_index(self) -> bool:
        """True where prompt search uses an index (SQLite FTS5, PostgreSQL tsvector)."""
        return self._text_mode != "like"

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self._engine) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    # --- recording -----------------------------------------------------------------------

    def record_generation(self, item: NewGeneration, *, owner: Owner = None) -> int:
        """Record one image; return its generation id."""
        return self.record_generations([item], owner=owner)[0]

    def record_generations(
        self, items: Sequence[NewGeneration], *, owner: Owner = None
    ) -> list[int]:
        """Record a batch (one generation per image, one shared batch id), all or nothing.

        The rows belong to `owner`; an item's own `user_id` is used only when no owner is
        given, and must otherwise be the same.
        """
        items = [self._complete(item, owner) for item in items]
        if not items:
            return []
        prepared = [self._prepare(item) for item in items]
        shas = [image.sha for image in prepared]
        with HASH_LOCKS.hold(shas):  # a delete of the same content waits until the row exists
            intent = self._files.begin_intent(shas)
            try:
                for image in prepared:
                    self._files.store(image)
                ids = self._insert(items, prepared)
            except BaseException:
                if self._discard_unreferenced(shas):
                    intent.finish()
                raise
            intent.finish()
        return ids

    def _complete(self, item: NewGeneration, owner: Owner) -> NewGeneration:
        item.validate()
        if owner is None and item.user_id is not None:
            owner = item.user_id
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

    def _prepare(self, item: NewGeneration) -> PreparedImage:
        if item.png_bytes is not None:
            return prepare_png(item.png_bytes)
        assert item.image is not None
        return prepare_png(embed_metadata(item.image, item), item.image)

    def _insert(self, items: list[NewGeneration], prepared: list[PreparedImage]) -> list[int]:
        now = utc_now()
        batch_id = items[0].batch_id or uuid.uuid4().hex
        rows = []
        with self._write() as session:
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
            tag_ids = self._tag_ids(session, {normalize_tag(t) for i in items for t in i.tags})
            for item, image in zip(items, prepared, strict=True):
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
                session.add(row)
                rows.append((row, {normalize_tag(t) for t in item.tags}))
            session.flush()
            for row, tags in rows:
                for name in sorted(tags):
                    session.add(GenerationTag(generation_id=row.id, tag_id=tag_ids[name]))
        return [row.id for row, _ in rows]

    def _discard_unreferenced(self, shas: Iterable[str]) -> bool:
        """After a failed write: remove files of hashes no row references. False if unsure."""
        try:
            in_use = referenced_hashes(self._engine, shas)
        except Exception:
            return False  # the sweep will decide once the database answers again
        for sha in set(shas) - in_use:
            self._files.remove_hash(sha)
        return True

    def has_content(self, sha: str, *, owner: Owner = None) -> bool:
        """Whether `owner` has an image with this SHA-256 content hash."""
        condition = ImageFile.content_hash == sha
        if (user_id := owner_filter(owner)) is not None:
            condition = condition & ImageFile.generation.has(Generation.user_id == user_id)
        with self._read() as session:
            return bool(session.scalar(select(exists().where(condition))))

    def import_folder(
        self, folder: str | os.PathLike[str], *, recursive: bool = True, owner: Owner = None
    ) -> ImportReport:
        """Import every PNG, JPEG and WebP in `folder` for `owner` (see `gallery.importers`)."""
        return importers.import_folder(self.for_owner(owner), folder, recursive=recursive)

    # --- reading -------------------------------------------------------------------------

    def search(self, query: GalleryQuery | None = None, *, owner: Owner = None) -> Page:
        """One page of `owner`'s generations matching `query`, newest first."""
        query = _scoped(query or GalleryQuery(), owner)
        query.validate()
        statement, params = search.page_statement(query, mode=self._text_mode)
        with self._reader.connect() as connection:
            rows = connection.execute(statement, params).all()
        items = tuple(self._summary(row) for row in rows[: query.page_size])
        return Page(items, query.page, query.page_size, has_more=len(rows) > query.page_size)

    def count(self, query: GalleryQuery | None = None, *, owner: Owner = None) -> int:
        """How many of `owner`'s generations match `query` (its page is ignored)."""
        query = _scoped(query or GalleryQuery(), owner)
        query.validate()
        statement, params = search.count_statement(query, mode=self._text_mode)
        with self._reader.connect() as connection:
            return int(connection.scalar(statement, params) or 0)

    def get(self, generation_id: int, *, owner: Owner = None) -> GenerationRecord:
        """Everything about one of `owner`'s generations; `NotFoundError` if there is none."""
        with self._read() as session:
            row = session.scalar(
                select(Generation)
                .where(Generation.id == _check_id(generation_id), *_owned(Generation, owner))
                .options(selectinload(Generation.images), selectinload(Generation.tags))
            )
            if row is None:
                raise NotFoundError(f"There is no generation {generation_id}.")
            return self._record(row)

    def lineage(self, generation_id: int, *, owner: Owner = None) -> Lineage:
        """The generation, its parents up to the root (root first) and all its descendants
        (only `owner`'s: the walk stops at another owner's generation)."""
        with self._read() as session:
            base = session.execute(
                select(*search.SUMMARY_COLUMNS).where(
                    Generation.id == _check_id(generation_id), *_owned(Generation, owner)
                )
            ).first()
            if base is None:
                raise NotFoundError(f"There is no generation {generation_id}.")
            ancestors = self._walk(session, generation_id, owner, up=True)
            descendants = self._walk(session, generation_id, owner, up=False)
        return Lineage(self._summary(base), ancestors, descendants)

    def _walk(
        self, session: Session, generation_id: int, owner: Owner, *, up: bool
    ) -> tuple[Any, ...]:
        start = select(Generation.id, Generation.parent_id, literal(0).label("depth")).where(
            Generation.id == generation_id
        )
        tree = start.cte("lineage", recursive=True)
        link = Generation.id == tree.c.parent_id if up else Generation.parent_id == tree.c.id
        tree = tree.union_all(
            select(Generation.id, Generation.parent_id, (tree.c.depth + 1).label("depth"))
            .join(tree, link)
            .where(tree.c.depth < MAX_LINEAGE_DEPTH, *_owned(Generation, owner))
        )
        order = (tree.c.depth.desc(),) if up else (tree.c.depth, Generation.id)
        rows = session.execute(
            select(*search.SUMMARY_COLUMNS)
            .join(tree, tree.c.id == Generation.id)
            .where(tree.c.depth > 0)
            .order_by(*order)
        ).all()
        return tuple(self._summary(row) for row in rows)

    def models(self, *, owner: Owner = None) -> list[str]:
        """Every model id in `owner`'s gallery, sorted (for a filter menu)."""
        with self._read() as session:
            stmt = select(Generation.model_id).where(
                Generation.model_id.is_not(None), *_owned(Generation, owner)
            )
            return sorted(session.scalars(stmt.distinct()))

    def tags(self, *, owner: Owner = None) -> list[tuple[str, int]]:
        """Every tag `owner` uses with how many of their generations carry it, by name."""
        with self._read() as session:
            rows = session.execute(
                select(Tag.name, func.count(GenerationTag.generation_id))
                .join(GenerationTag, GenerationTag.tag_id == Tag.id)
                .join(Generation, Generation.id == GenerationTag.generation_id)
                .where(*_owned(Generation, owner))
                .group_by(Tag.name)
                .order_by(Tag.name)
            ).all()
        return [(name, int(count)) for name, count in rows]

    # --- curation ------------------------------------------------------------------------

    def set_rating(self, generation_id: int, rating: int | None, *, owner: Owner = None) -> None:
        """Rate a generation 0-5, or clear the rating with None."""
        self._update(generation_id, owner, rating=check_rating(rating))

    def set_favourite(
        self, generation_id: int, favourite: bool = True, *, owner: Owner = None
    ) -> None:
        """Mark or unmark a generation as favourite."""
        if not isinstance(favourite, bool):
            raise GalleryError("Favourite must be true or false.")
        self._update(generation_id, owner, favourite=favourite)

    def set_notes(self, generation_id: int, notes: str, *, owner: Owner = None) -> None:
        """Replace a generation's notes."""
        if not isinstance(notes, str):
            raise GalleryError("Notes must be text.")
        self._update(generation_id, owner, notes=notes)

    def _update(self, generation_id: int, owner: Owner, **values: Any) -> None:
        with self._write() as session:
            result = session.execute(
                update(Generation)
                .where(Generation.id == _check_id(generation_id), *_owned(Generation, owner))
                .values(**values)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"There is no generation {generation_id}.")

    def add_tag(self, generation_id: int, tag: str, *, owner: Owner = None) -> None:
        """Tag a generation (tags are trimmed and lower-cased); adding twice is harmless."""
        name = normalize_tag(tag)
        with self._write() as session:
            self._require(session, generation_id, owner)
            tag_id = self._tag_ids(session, {name})[name]
            key = (generation_id, tag_id)
            if session.get(GenerationTag, key) is None:
                session.add(GenerationTag(generation_id=generation_id, tag_id=tag_id))

    def remove_tag(self, generation_id: int, tag: str, *, owner: Owner = None) -> None:
        """Remove a tag from a generation; removing an absent tag is harmless."""
        name = normalize_tag(tag)
        with self._write() as session:
            self._require(session, generation_id, owner)
            tag_id = session.scalar(select(Tag.id).where(Tag.name == name))
            if tag_id is not None:
                session.execute(
                    delete(GenerationTag).where(
                        GenerationTag.generation_id == generation_id,
                        GenerationTag.tag_id == tag_id,
                    )
                )

    def _tag_ids(self, session: Session, names: set[str]) -> dict[str, int]:
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

    def delete(self, generation_ids: int | Iterable[int], *, owner: Owner = None) -> int:
        """Delete `owner`'s generations with their images, tags and files; return how many.

        Children keep existing (their parent becomes None). A file shared with a generation
        that is kept (of any owner) stays. `NotFoundError` (and nothing deleted) if an id is
        unknown or another owner's.
        """
        ids = sorted(
            {_check_id(generation_ids)}
            if isinstance(generation_ids, int)
            else {_check_id(i) for i in generation_ids}
        )
        if not ids:
            return 0
        with self._read() as session:
            shas = set(
                session.scalars(
                    select(ImageFile.content_hash).where(ImageFile.generation_id.in_(ids))
                )
            )
        with HASH_LOCKS.hold(shas):  # never between another thread's file and its row
            intent = self._files.begin_intent(shas)
            try:
                with self._write() as session:
                    found = set(
                        session.scalars(
                            select(Generation.id).where(
                                Generation.id.in_(ids), *_owned(Generation, owner)
                            )
                        )
                    )
                    if missing := [i for i in ids if i not in found]:
                        raise NotFoundError(f"There is no generation {missing[0]}.")
                    session.execute(delete(Generation).where(Generation.id.in_(ids)))
            except BaseException:
                # Usually nothing was deleted and every file keeps its row; if the commit did
                # go through, the files without rows are removed here or by the sweep.
                if self._discard_unreferenced(shas):
                    intent.finish()
                raise
            if self._discard_unreferenced(shas):
                intent.finish()
        return len(ids)

    def export_zip(
        self,
        generation_ids: Iterable[int],
        out_path: str | os.PathLike[str],
        *,
        owner: Owner = None,
        image_format: str = "png",
    ) -> Path:
        """Write `owner`'s images with `settings.csv` and `settings.json` to a zip (see
        `export`; `image_format` "jpeg" or "webp" for copies peers read); `NotFoundError` (and
        no file) if any id is unknown or another owner's."""
        ids = list(dict.fromkeys(generation_ids))
        if not ids:
            raise GalleryError("Choose at least one generation to export.")
        records = [self.get(generation_id, owner=owner) for generation_id in ids]
        return export.write_export_zip(records, Path(out_path), image_format=image_format)

    # --- experiments, votes and scores (services behind this facade) --------------------

    def create_experiment(
        self,
        name: str,
        variants: Sequence[VariantSpec | str],
        *,
        description: str = "",
        owner: Owner = None,
        **plan: Any,
    ) -> ExperimentRecord:
        """Create an experiment of `owner` with its variants in order, and optionally its
        `kind`, shared `settings`, `seeds` and `axis` (see `ExperimentService.create`)."""
        return self._experiments.create(
            name, variants, description=description, owner=owner, **plan
        )

    def get_experiment(self, experiment_id: int, *, owner: Owner = None) -> ExperimentRecord:
        """One of `owner`'s experiments with its variants, cells and generations."""
        return self._experiments.get(experiment_id, owner=owner)

    def list_experiments(self, *, owner: Owner = None) -> list[ExperimentRecord]:
        """Every experiment of `owner`, newest first."""
        return self._experiments.list(owner=owner)

    def add_to_variant(
        self,
        variant_id: int,
        generation_id: int,
        seed_index: int | None = None,
        axis_index: int | None = None,
        *,
        owner: Owner = None,
    ) -> None:
        """Count a generation as made for a variant (both `owner`'s), as the grid cell at
        (`seed_index`, `axis_index`) when given; adding twice is harmless."""
        self._experiments.add_cell(variant_id, generation_id, seed_index, axis_index, owner=owner)

    def set_winner(
        self, experiment_id: int, variant_id: int | None, *, owner: Owner = None
    ) -> None:
        """Mark one variant of an experiment as the winner, or clear it with None."""
        self._experiments.set_winner(experiment_id, variant_id, owner=owner)

    def delete_experiment(
        self, experiment_id: int, *, with_images: bool = False, owner: Owner = None
    ) -> None:
        """Delete an experiment with its variants and votes; `with_images` also deletes the
        generations made for its cells (otherwise they stay in the gallery)."""
        generation_ids = self._experiments.delete(experiment_id, owner=owner)
        if with_images and generation_ids:
            with self._read() as session:
                still_there = list(
                    session.scalars(
                        select(Generation.id).where(
                            Generation.id.in_(generation_ids), *_owned(Generation, owner)
                        )
                    )
                )
            self.delete(still_there, owner=owner)

    def add_vote(
        self,
        experiment_id: int,
        winner_variant_id: int,
        loser_variant_id: int | None = None,
        *,
        seed_index: int | None = None,
        axis_index: int | None = None,
        blind: bool = False,
        owner: Owner = None,
    ) -> VoteRecord:
        """Record `owner`'s judgement on their experiment (see `VoteRecord`)."""
        return self._experiments.add_vote(
            experiment_id,
            winner_variant_id,
            loser_variant_id,
            seed_index=seed_index,
            axis_index=axis_index,
            blind=blind,
            owner=owner,
        )

    def votes(self, experiment_id: int, *, owner: Owner = None) -> list[VoteRecord]:
        """Every vote of one of `owner`'s experiments, oldest first."""
        return self._experiments.votes(experiment_id, owner=owner)

    def save_scores(self, scores: Sequence[ScoreRecord], *, owner: Owner = None) -> None:
        """Save (or replace) scores of `owner`'s generations, all or nothing."""
        self._scores.save(scores, owner=owner)

    def scores_of(
        self, generation_ids: Iterable[int], metric: str, *, owner: Owner = None
    ) -> dict[int, ScoreRecord]:
        """The `metric` score of each of `owner`'s generations that has one."""
        return self._scores.of(generation_ids, metric, owner=owner)

    def ranked_by_score(
        self, metric: str, *, limit: int = 50, descending: bool = True, owner: Owner = None
    ) -> list[ScoreRecord]:
        """`owner`'s generations sorted by their `metric` score, best first by default."""
        return self._scores.ranked(metric, limit=limit, descending=descending, owner=owner)

    def export_experiment(
        self,
        experiment_id: int,
        out_path: str | os.PathLike[str],
        contact_sheet_png: bytes | None = None,
        *,
        owner: Owner = None,
    ) -> Path:
        """Write an experiment's zip: contact sheet, cell PNGs, CSVs (see `experiment_export`)."""
        experiment = self._experiments.get(experiment_id, owner=owner)
        records = {
            c.generation_id: self.get(c.generation_id, owner=owner) for c in experiment.cells
        }
        scores = self._scores.of(records, experiment_export.SCORE_METRIC, owner=owner)
        votes = self._experiments.votes(experiment_id, owner=owner)
        return experiment_export.write_experiment_zip(
            experiment, records, scores, votes, contact_sheet_png, Path(out_path)
        )

    # --- user styles ---------------------------------------------------------------------

    def list_user_styles(self, *, owner: Owner = None) -> list[UserStyle]:
        """`owner`'s saved styles, in the order they were first saved."""
        with self._read() as session:
            rows = session.scalars(
                select(UserStyleRow).where(*_owned(UserStyleRow, owner)).order_by(UserStyleRow.id)
            ).all()
            return [UserStyle(r.name, r.category, r.prompt, r.negative_prompt) for r in rows]

    def save_user_style(self, style: StyleLike, *, owner: Owner = None) -> None:
        """Add a style of `owner`, or replace their saved one with the same name (ignoring
        case)."""
        user_id = writing_owner(owner)
        for label in ("name", "category", "prompt", "negative_prompt"):
            if not isinstance(getattr(style, label, None), str):
                raise GalleryError(f"A style's {label.replace('_', ' ')} must be text.")
        name = style.name.strip()
        if not name:
            raise GalleryError("A style needs a name.")
        now = utc_now()
        try:
            with self._write() as session:
                row = session.scalar(
                    select(UserStyleRow).where(
                        UserStyleRow.name_key == name.casefold(), UserStyleRow.user_id == user_id
                    )
                )
                if row is None:
                    row = UserStyleRow(name_key=name.casefold(), user_id=user_id, created_at=now)
                    session.add(row)
                row.name = name
                row.category = style.category.strip() or "User"
                row.prompt = style.prompt
                row.negative_prompt = style.negative_prompt
                row.updated_at = now
        except IntegrityError:
            raise GalleryError(
                f"The style '{name}' was saved at the same time elsewhere; save it again."
            ) from None

    def delete_user_style(self, name: str, *, owner: Owner = None) -> None:
        """Delete `owner`'s saved style called `name` (ignoring case); `NotFoundError` if none."""
        user_id = writing_owner(owner)
        with self._write() as session:
            result = session.execute(
                delete(UserStyleRow).where(
                    UserStyleRow.name_key == name.strip().casefold(),
                    UserStyleRow.user_id == user_id,
                )
            )
            if result.rowcount == 0:
                raise NotFoundError(f"There is no user style called '{name}'.")

    # --- owners --------------------------------------------------------------------------

    def transfer_owner(self, from_owner: str, to_owner: str) -> int:
        """Give everything of `from_owner` to `to_owner` (a signed-out visitor's gallery
        claimed at sign-in); return how many generations moved. A user style whose name
        `to_owner` already uses stays with `from_owner`."""
        source, target = writing_owner(from_owner), writing_owner(to_owner)
        if source == target:
            return 0
        with self._write() as session:
            moved = session.execute(
                update(Generation).where(Generation.user_id == source).values(user_id=target)
            ).rowcount
            session.execute(
                update(Experiment).where(Experiment.user_id == source).values(user_id=target)
            )
            taken = select(UserStyleRow.name_key).where(UserStyleRow.user_id == target)
            session.execute(
                update(UserStyleRow)
                .where(UserStyleRow.user_id == source, UserStyleRow.name_key.not_in(taken))
                .values(user_id=target)
            )
        return int(moved or 0)

    # --- maintenance ---------------------------------------------------------------------

    def sweep(
        self,
        *,
        full: bool = False,
        grace_s: float = DEFAULT_GRACE_S,
        delete_ours: bool = False,
    ) -> SweepReport:
        """Repair files left by abrupt stops (see `gallery.sweep`); `full` walks everything.

        Unrecorded images that carry our metadata are kept (and reported) unless
        `delete_ours`; `rebuild` records them again.
        """
        return sweep(self._engine, self._files, grace_s=grace_s, full=full, delete_ours=delete_ours)

    def rebuild(self, *, owner: Owner = None) -> ImportReport:
        """Re-create records for every stored image no row references, from the PNG's own
        metadata (for `owner`); files stay where they are. For a lost or replaced database."""
        return rebuild.record_stored_images(self.for_owner(owner), self._files)

    def optimize(self) -> None:
        """Refresh the query planner's statistics (after a large import or fill)."""
        statement = "ANALYZE"
        with self._writer.begin() as connection:
            connection.exec_driver_sql(statement)
            if self._text_mode == "fts5":
                connection.exec_driver_sql(
                    "INSERT INTO generations_fts(generations_fts) VALUES ('optimize')"
                )

    # --- conversions ---------------------------------------------------------------------

    def _require(self, session: Session, generation_id: int, owner: Owner) -> None:
        found = session.scalar(
            select(Generation.id).where(
                Generation.id == _check_id(generation_id), *_owned(Generation, owner)
            )
        )
        if found is None:
            raise NotFoundError(f"There is no generation {generation_id}.")

    def _path(self, rel_path: str | None) -> Path | None:
        return self.root / rel_path if rel_path else None

    def _summary(self, row: Row[Any]) -> GenerationSummary:
        # Positional, in `search.SUMMARY_COLUMNS` order; the two paths are made absolute.
        *fields, image, thumbnail = row
        root = self._root_text
        return GenerationSummary(
            *fields,
            f"{root}/{image}" if image else None,
            f"{root}/{thumbnail}" if thumbnail else None,
        )

    def _record(self, row: Generation) -> GenerationRecord:
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
                    path=self.root / image.path,
                    thumbnail_path=self._path(image.thumbnail_path),
                    content_hash=image.content_hash,
                    width=image.width,
                    height=image.height,
                    size_bytes=image.size_bytes,
                    missing=image.missing,
                )
                for image in row.images
            ),
        )


def _owned(model: Any, owner: Owner) -> tuple[Any, ...]:
    """The WHERE conditions that keep `model`'s rows to `owner`'s (none for `EVERY_OWNER`)."""
    user_id = owner_filter(owner)
    return () if user_id is None else (model.user_id == user_id,)


def _scoped(query: GalleryQuery, owner: Owner) -> GalleryQuery:
    """`query` limited to `owner` (an admin's own `user_id` filter is kept)."""
    user_id = owner_filter(owner)
    if user_id is None:
        return query
    return dataclasses.replace(query, user_id=user_id)


def _check_id(value: Any) -> int:
    """`value` if it is an id a database can hold, else one sentence (`NotFoundError`)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise GalleryError(f"An id must be a whole number, not {value!r}.")
    if not 1 <= value <= MAX_ID:
        raise NotFoundError(f"There is no item {value}: ids run from 1 to {MAX_ID}.")
    return value


def _as_owner(method: Any, bound: Owner, /, *args: Any, **kwargs: Any) -> Any:
    """Call `method` for the `bound` owner; a different owner passed by the caller is refused."""
    asked = kwargs.pop("owner", None)
    if asked is not None and asked != bound:
        raise GalleryError("This view of the gallery belongs to one owner only.")
    return method(*args, owner=bound, **kwargs)


class OwnerGallery:
    """`GalleryStore` seen by one owner: every method in `OWNER_SCOPED` gets `owner=` filled in;
    the rest (root, sweep, ...) pass through. What a handler serving one visitor holds."""

    def __init__(self, store: GalleryStore, owner: Owner) -> None:
        self.store = store
        self.owner = owner if isinstance(owner, type(EVERY_OWNER)) else writing_owner(owner)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.store, name)
        if name in OWNER_SCOPED:
            return functools.partial(_as_owner, attribute, self.owner)
        if name == "for_owner":
            raise AttributeError("An owner's view cannot switch to another owner.")
        return attribute

    def __repr__(self) -> str:
        return f"OwnerGallery({self.store.root.name!r}, owner={self.owner!r})"


def _first_line(exc: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's statement and background link."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__
