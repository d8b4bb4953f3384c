"""The database engine (SQLite pragmas, URL resolution) and the Alembic upgrade run at start.

The URL is, in order: the one passed in, the `DATABASE_URL` environment variable, or a SQLite
file `database/atelier.db` under the gallery folder: a folder of its own, beside (never inside)
the image folders the web app serves, with its `-wal`/`-shm` files. A gallery from before this
layout has `atelier.db` in the gallery folder itself; `move_legacy_database` moves it (with its
WAL folded in) the first time the gallery opens. SQLite connections get foreign keys on, WAL, a busy
timeout, `synchronous=NORMAL` and memory-mapped reads; write transactions begin `IMMEDIATE` so
that concurrent writers queue on the busy timeout instead of failing half-way.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url

from gallery.errors import GalleryError

DATABASE_URL_ENV = "DATABASE_URL"
SQLITE_FILENAME = "atelier.db"
DATABASE_DIR = "database"
LEGACY_BACKUP_NAME = "atelier.db.old-location"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
MMAP_BYTES = 256 * 1024 * 1024
CACHE_KIB = 16 * 1024
_BEGIN_OPTION = "atelier_sqlite_begin"
_NO_BEGIN = "none"


def default_sqlite_path(gallery_dir: str | os.PathLike[str]) -> Path:
    """Where the gallery's own SQLite file lives: `<gallery_dir>/database/atelier.db`."""
    return Path(gallery_dir).resolve() / DATABASE_DIR / SQLITE_FILENAME


def resolve_database_url(gallery_dir: str | os.PathLike[str], explicit: str | None = None) -> str:
    """The URL to use: `explicit`, else `DATABASE_URL`, else the SQLite file
    `<gallery_dir>/database/atelier.db`."""
    url = explicit or os.environ.get(DATABASE_URL_ENV) or ""
    if not url.strip():
        return sqlite_url(default_sqlite_path(gallery_dir))
    return normalize_url(url.strip())


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The URL of the SQLite file at `path`, escaped: a `?`, `#`, `%` or space in a folder
    name stays part of the path (`sqlite:///{path}` would end the path at `?` or `#`)."""
    url = URL.create("sqlite", database=os.fspath(path))
    return url.render_as_string(hide_password=False)


def move_legacy_database(gallery_dir: str | os.PathLike[str]) -> bool:
    """Move `<gallery_dir>/atelier.db` (an older layout) to `database/atelier.db`; True if moved.

    The old file is opened with SQLite (which replays its WAL), copied with SQLite's online
    backup to a temporary name, checked, fsynced and renamed into place; only then are the old
    file and its `-wal`/`-shm` moved to `backups/atelier.db.old-location*` (kept, not deleted).
    `GalleryError`, with nothing changed, if both files exist or the copy fails its check.
    """
    root = Path(gallery_dir).resolve()
    old, new = root / SQLITE_FILENAME, default_sqlite_path(root)
    if not old.is_file():
        return False
    if new.exists():
        raise GalleryError(
            f"The gallery has two databases, {SQLITE_FILENAME} (old place) and "
            f"{DATABASE_DIR}/{SQLITE_FILENAME}; move the one you do not want out of {root}."
        )
    new.parent.mkdir(parents=True, exist_ok=True)
    partial = new.with_name(SQLITE_FILENAME + ".moving")
    partial.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(old, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            target = sqlite3.connect(partial)
            try:
                source.backup(target)
                verdict = target.execute("PRAGMA quick_check").fetchone()
            finally:
                target.close()
        finally:
            source.close()
        if verdict != ("ok",):
            raise sqlite3.DatabaseError(f"the copy failed its check ({verdict})")
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, new)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise GalleryError(
            f"The gallery database could not be moved to its new place ({exc}); "
            "it was left where it was."
        ) from None
    backups = root / "backups"
    backups.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        leftover = old.with_name(old.name + suffix)
        if leftover.exists():
            os.replace(leftover, backups / (LEGACY_BACKUP_NAME + suffix))
    return True


def normalize_url(url: str) -> str:
    """Map bare `postgres://`/`postgresql://` URLs to the psycopg 3 driver we ship with."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_gallery_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets its pragmas and IMMEDIATE write transactions."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a long text
        raise GalleryError(f"The database URL {url!r} is not valid: {exc}.") from None
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database in (None, "", ":memory:"):
        raise GalleryError("The gallery needs a SQLite file, not an in-memory database.")
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own BEGIN cannot be IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Read through the OS page cache without copies, and keep hot pages per connection.
    cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    if mode != _NO_BEGIN:
        connection.exec_driver_sql(f"BEGIN {mode}")


def writer(engine: Engine) -> Engine:
    """The same engine whose transactions take the write lock at BEGIN (SQLite only)."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})


def reader(engine: Engine) -> Engine:
    """The same engine for one-statement reads: SQLite runs them without an explicit BEGIN
    (each statement reads one consistent snapshot on its own)."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_BEGIN_OPTION: _NO_BEGIN})


def include_object(_obj: Any, name: str | None, type_: str, *_rest: Any) -> bool:
    """For Alembic comparisons: leave out the search structures that only migrations manage
    (SQLite's FTS5 tables, PostgreSQL's tsvector column and index); they are not in the models."""
    if type_ == "table" and name and name.startswith("generations_fts"):
        return False
    return (type_, name) not in (("column", "prompt_tsv"), ("index", "ix_generations_prompt_tsv"))


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code, pointing at the migrations inside this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(engine: Engine, *, backup_dir: Path | None = None) -> str:
    """Bring the database to the newest revision and return it.

    A SQLite database that already has tables and needs migrating is first copied to
    `backup_dir/atelier.db.before-<revision>` (SQLite's online backup, safe while others read).
    """
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return head
    if current is not None and backup_dir is not None and engine.dialect.name == "sqlite":
        _backup_sqlite(engine, backup_dir / f"{SQLITE_FILENAME}.before-{head}")
    with writer(engine).begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    return head


def _backup_sqlite(engine: Engine, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with engine.connect() as connection:
        source = connection.connection.driver_connection
        assert isinstance(source, sqlite3.Connection)
        with sqlite3.connect(target) as destination:
            source.backup(destination)
        destination.close()


def table_names(engine: Engine) -> set[str]:
    """Names of the tables in the database (virtual tables included on SQLite)."""
    return set(inspect(engine).get_table_names())
