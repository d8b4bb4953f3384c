"""`GalleryStore`: opens the gallery and composes its services; the one object the app opens.

The work is done by the services in `gallery.services` (records, search, curation,
experiments, scores, styles, maintenance), each taking the owner explicitly. Handlers do not
hold the store: they hold a view, `store.for_owner(owner)` (`gallery.views.OwnerGallery`,
one owner's gallery with the owner filled in), or, for maintenance, `store.admin()`
(`gallery.views.AdminGallery`, every owner).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DatabaseError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from gallery.database import (
    create_gallery_engine,
    move_legacy_database,
    resolve_database_url,
    table_names,
    upgrade_schema,
)
from gallery.deferred import RETRY_S, DeferredRecorder
from gallery.errors import GalleryError, GalleryUnavailableError
from gallery.files import ImageFiles
from gallery.outages import database_folder, disk_full, is_disk_full, is_unreachable
from gallery.owners import Owner
from gallery.records import SweepReport
from gallery.search import text_mode
from gallery.services.common import Sessions
from gallery.services.curation import CurationService
from gallery.services.experiments import ExperimentService
from gallery.services.maintenance import MaintenanceService
from gallery.services.recording import RecordService
from gallery.services.scores import ScoreService
from gallery.services.search import SearchService
from gallery.services.styles import StyleService
from gallery.sweep import DEFAULT_GRACE_S
from gallery.views import AdminGallery, OwnerGallery


class GalleryStore:
    """Generations, their images, tags, ratings, experiments and user styles.

    Open with `GalleryStore.open(gallery_dir)`; safe to share between threads (each call uses
    its own session). The services are attributes (`store.records`, `store.search`, ...);
    their owner-scoped methods take `owner=` with no default. Ids are plain ints; results are
    frozen records, never ORM objects.
    """

    def __init__(self, root: Path, engine: Engine) -> None:
        self.root = root
        self._engine = engine
        self._text_mode = text_mode(engine.dialect.name, "generations_fts" in table_names(engine))
        sessions = Sessions(engine)
        self.files = ImageFiles(root)
        self.records = RecordService(sessions, self.files, root)
        self.search = SearchService(sessions, root, self._text_mode)
        self.curation = CurationService(sessions, self.files, self.records)
        self.scores = ScoreService(sessions)
        self.experiments = ExperimentService(sessions, self.records, self.curation, self.scores)
        self.styles = StyleService(sessions)
        self.maintenance = MaintenanceService(sessions, self.files, self.records, self._text_mode)
        self.last_sweep = SweepReport()
        self._recorder: DeferredRecorder | None = None

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
        try:
            root.mkdir(parents=True, exist_ok=True)
            url = resolve_database_url(root, database_url)
            if url == resolve_database_url(root, None) and not os.environ.get("DATABASE_URL"):
                move_legacy_database(root)
            engine = create_gallery_engine(url)
        except OSError as exc:
            raise _open_error(exc, root) from None
        try:
            upgrade_schema(engine, backup_dir=root / "backups")
            store = cls(root, engine)
            if not allow_unrecorded_images:
                store.maintenance.refuse_images_without_records()
            store.last_sweep = store.maintenance.sweep(grace_s=sweep_grace_s)
        except (DatabaseError, OSError, PoolTimeoutError) as exc:
            engine.dispose()
            raise _open_error(exc, database_folder(engine.url) or root) from None
        except BaseException:
            engine.dispose()
            raise
        return store

    def record_deferred_in_background(self, every_s: float = RETRY_S) -> None:
        """While the store is open, record rows that waited for the database every `every_s`
        seconds (what a running server does, so an outage's images get their rows without a
        restart; `gallery.deferred`)."""
        if self._recorder is None:
            self._recorder = DeferredRecorder(self.admin().record_deferred, every_s).start()

    def close(self) -> None:
        """Stop the background recorder, if any, and release database connections."""
        if self._recorder is not None:
            self._recorder.stop()
            self._recorder = None
        self._engine.dispose()

    def __enter__(self) -> GalleryStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def for_owner(self, owner: Owner) -> OwnerGallery:
        """The gallery of `owner` only (`LOCAL_OWNER` for the local app's one user;
        `EVERY_OWNER` to read and change every owner's items, never to create any)."""
        return OwnerGallery(self, owner)

    def admin(self) -> AdminGallery:
        """Every owner's gallery with the maintenance operations (CLI, sign-in claims)."""
        return AdminGallery(self)

    @property
    def served_folders(self) -> tuple[Path, Path]:
        """The only folders a web server may serve: the images and their thumbnails (the
        database, temp files, intents and backups live beside them, never inside)."""
        return self.files.served_folders()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for maintenance scripts and the benchmark)."""
        return self._engine

    @property
    def uses_full_text_index(self) -> bool:
        """True where prompt search uses an index (SQLite FTS5, PostgreSQL tsvector)."""
        return self._text_mode != "like"


def _open_error(exc: BaseException, folder: Path) -> GalleryError | OSError:
    """Why the gallery did not open, in one sentence: a full disk and an unreachable server
    are told apart from a database that cannot be read (only that one may need a rebuild)."""
    if isinstance(exc, GalleryError):
        return exc
    if is_disk_full(exc, folder):
        return disk_full(folder, then="then start again")
    if is_unreachable(exc):
        return GalleryUnavailableError(
            "The gallery database cannot be reached; nothing was changed. Check that the "
            "database server is running and DATABASE_URL is right, then start again."
        )
    if isinstance(exc, OSError):
        return exc
    return GalleryError(
        "The gallery database cannot be read as a Prompt Atelier database "
        f"({_first_line(exc)}); nothing was changed. Restore it from the gallery's "
        "backups folder, or move it away and run `python app.py gallery rebuild`."
    )


def _first_line(exc: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's statement and background link."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__
