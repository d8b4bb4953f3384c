"""A throwaway PostgreSQL server for a bench run, started as the tests start theirs.

The tests' PostgreSQL fixture shares `server_binaries` and `free_port`.
`throwaway_postgres()` finds `initdb` and `pg_ctl` (on PATH or in /usr/lib/postgresql/*/bin),
makes a cluster in a temporary folder, starts it on a free 127.0.0.1 port (as root: as the
`postgres` user, since initdb refuses root), yields a SQLAlchemy URL of a fresh database,
then stops the server and removes the folder. Settings are the server's defaults except
what makes a throwaway cluster cheap to fill (no fsync) and `shared_buffers`, sized like a
small dedicated server so that a million rows stay cached as they would in production.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class NoPostgres(RuntimeError):
    """No PostgreSQL server could be started here (the message says why)."""


def server_binaries() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`, the newest version first; None if absent."""
    candidates = []
    if found := shutil.which("initdb"):
        candidates.append(Path(found).resolve().parent)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(Path(p) for p in versions)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(user: str | None, command: list[str]) -> None:
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise NoPostgres("PostgreSQL cannot run as root and there is no 'postgres' user.")


@contextlib.contextmanager
def throwaway_postgres(shared_buffers: str = "1GB") -> Iterator[str]:
    """A SQLAlchemy URL of an empty database on a server that lives as long as the block."""
    binaries = server_binaries()
    if binaries is None:
        raise NoPostgres("initdb and pg_ctl were not found (install Debian's postgresql).")
    user = _server_user()
    # The server's own user must reach its folder: not under a private TMPDIR (as pytest's).
    base = "/tmp" if user is not None and os.path.isdir("/tmp") else None
    workdir = Path(tempfile.mkdtemp(prefix="atelier-bench-pg-", dir=base))
    if user is not None:
        shutil.chown(workdir, user)
    data, port = workdir / "data", free_port()
    started = False
    try:
        try:
            _run(
                user,
                [
                    *(str(binaries / "initdb"), "-D", str(data), "-U", "atelier"),
                    *("--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"),
                ],
            )
            options = (
                f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off "
                f"-c shared_buffers={shared_buffers} -c max_wal_size=4GB"
            )
            _run(
                user,
                [
                    *(str(binaries / "pg_ctl"), "-D", str(data), "-o", options),
                    *("-l", str(workdir / "server.log"), "-w", "-t", "60", "start"),
                ],
            )
            started = True
            _run(
                user,
                [
                    *(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port)),
                    *("-U", "atelier", "gallery"),
                ],
            )
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise NoPostgres(f"PostgreSQL could not be started: {detail.strip()[:300]}") from None
        yield f"postgresql+psycopg://atelier@127.0.0.1:{port}/gallery"
    finally:
        if started:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                _run(user, [str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"])
        shutil.rmtree(workdir, ignore_errors=True)


def _main() -> None:
    """Start a throwaway server, ask it one query, stop it: how long it takes to be ready."""
    import argparse
    import time

    from sqlalchemy import create_engine, text

    parser = argparse.ArgumentParser(description=_main.__doc__)
    parser.add_argument("--smoke", action="store_true", help="a small shared_buffers")
    args = parser.parse_args()
    start = time.perf_counter()
    try:
        with throwaway_postgres("128MB" if args.smoke else "1GB") as url:
            ready = time.perf_counter() - start
            engine = create_engine(url)
            with engine.connect() as connection:
                version = connection.execute(text("SHOW server_version")).scalar_one()
            engine.dispose()
    except NoPostgres as exc:
        raise SystemExit(str(exc)) from None
    stopped = time.perf_counter() - start - ready
    print(f"PostgreSQL {version} ready in {ready:.1f} s, stopped in {stopped:.1f} s")
    print(f"ratio: {ready / 60:.3f}")  # of pg_ctl's 60 s start limit


if __name__ == "__main__":
    _main()
