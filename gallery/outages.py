"""Full disks and unreachable databases, told apart from a database that cannot be read.

A full disk shows up as an `OSError` with ENOSPC or EDQUOT, as SQLite's SQLITE_FULL, as a
SQLite "disk I/O error" (SQLITE_IOERR_*, e.g. when it cannot create its `-shm` file) or
"unable to open" on a disk with no space left, and as PostgreSQL's SQLSTATE 53100. A server
that is stopped, restarting or out of reach shows up as an `OperationalError` or
`InterfaceError` of a server database. Each becomes one sentence (`DiskFullError`,
`GalleryUnavailableError`) that names no host, port, path or link; anything else is left as
it was raised.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import exc as sa_exc

from gallery.errors import DiskFullError, GalleryUnavailableError

FREE_AT_LEAST_MB = 64
"""What a full disk's message asks to free; below it a SQLite I/O error counts as a full disk."""
UNAVAILABLE = "The gallery is unavailable right now; try again in a moment."
UNAVAILABLE_WHILE_RECORDING = (
    "The gallery is unavailable; images are kept, not recorded until it is back."
)
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 13, 14
_POSTGRES_DISK_FULL = "53100"


def free_megabytes(folder: str | os.PathLike[str]) -> int | None:
    """Free space (whole MB) on the disk holding `folder` (or its nearest existing parent)."""
    path = Path(folder).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free // (1024 * 1024)
    except OSError:
        return None


def disk_full(folder: str | os.PathLike[str] | None, then: str = "then try again") -> DiskFullError:
    """The one sentence for a full disk under `folder`, with how much is left there."""
    left = free_megabytes(folder) if folder is not None else None
    have = f" ({left} MB left)" if left is not None else ""
    return DiskFullError(
        f"The disk is full: free at least {FREE_AT_LEAST_MB} MB for the gallery{have}, "
        f"{then}; nothing was changed."
    )


def is_disk_full(exc: BaseException, folder: str | os.PathLike[str] | None) -> bool:
    """Whether `exc` means the disk under `folder` (the database's or the images') is full."""
    original = getattr(exc, "orig", None) or exc
    if isinstance(original, OSError) and original.errno in _FULL_ERRNOS:
        return True
    if getattr(original, "sqlstate", None) == _POSTGRES_DISK_FULL:
        return True
    code = getattr(original, "sqlite_errorcode", None)
    if code is None:
        return False
    if code & 0xFF == _SQLITE_FULL:
        return True
    if code & 0xFF in (_SQLITE_IOERR, _SQLITE_CANTOPEN) and folder is not None:
        left = free_megabytes(folder)
        return left is not None and left < FREE_AT_LEAST_MB
    return False


def is_unreachable(exc: BaseException) -> bool:
    """Whether `exc` means a database server cannot be reached (not a SQLite file's error)."""
    if isinstance(exc, sa_exc.TimeoutError):  # every pooled connection waits on a dead server
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlite = type(exc.orig).__module__.startswith("sqlite3")
    return not sqlite and isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))


def as_outage(
    exc: BaseException, folder: str | os.PathLike[str] | None
) -> DiskFullError | GalleryUnavailableError | None:
    """The one-sentence error `exc` stands for, or None when it is neither a full disk nor an
    unreachable server."""
    if isinstance(exc, (DiskFullError, GalleryUnavailableError)):
        return exc
    if is_disk_full(exc, folder):
        return disk_full(folder)
    if is_unreachable(exc):
        return GalleryUnavailableError(UNAVAILABLE)
    return None


@contextlib.contextmanager
def outages_as_sentences(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    """Turn a full disk under `folder` or an unreachable server inside the block into
    `DiskFullError` / `GalleryUnavailableError`; other errors pass unchanged."""
    try:
        yield
    except (sa_exc.SQLAlchemyError, OSError) as exc:
        outage = as_outage(exc, folder)
        if outage is None:
            raise
        raise outage from None


def database_folder(url: object) -> Path | None:
    """The folder of a SQLite database file (where its `-wal`/`-shm` grow), else None."""
    backend = getattr(url, "get_backend_name", lambda: "")()
    database = getattr(url, "database", None)
    if backend != "sqlite" or not database:
        return None
    return Path(database).parent
