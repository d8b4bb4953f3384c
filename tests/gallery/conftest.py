"""Fixtures for the gallery tests: real SQLite files, and a real PostgreSQL server when found.

The `store` fixture runs each test twice: on a SQLite file in the test's folder, and on a
PostgreSQL database. The server is started here, once per test session, from the server
binaries (`initdb`, `pg_ctl` on PATH or in /usr/lib/postgresql/*/bin; `.ci/run` installs
Debian's `postgresql`), in a throw-away folder on a free local port, and stopped at the end.
As root, the server runs as the `postgres` user (initdb refuses root). Set
`ATELIER_TEST_POSTGRES_URL` to use a server you started yourself instead. Without either, the
PostgreSQL variants are skipped with a message saying why.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bench.throwaway_postgres import free_port, server_binaries
from gallery import LOCAL_OWNER, GalleryStore, NewGeneration, OwnerGallery

POSTGRES_URL_ENV = "ATELIER_TEST_POSTGRES_URL"
GALLERY_TABLES = (
    "generation_scores",
    "experiment_votes",
    "variant_generations",
    "experiment_variants",
    "experiments",
    "generation_tags",
    "tags",
    "images",
    "user_styles",
    "generations",
)


@dataclass
class PostgresServer:
    """A running server: `url(dbname)` gives a SQLAlchemy URL for one of its databases."""

    base_url: str  # postgresql+psycopg://user@host:port
    admin_database: str = "postgres"

    def url(self, database: str) -> str:
        return f"{self.base_url}/{database}"

    def create_database(self, prefix: str = "atelier") -> str:
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        dsn = self.url(self.admin_database).replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _run_as(user: str | None, command: list[str], **kwargs: Any) -> None:
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=120, **kwargs)


def _server_user() -> str | None:
    """None when not root; as root, an unprivileged account to run the server as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    pytest.skip("PostgreSQL cannot run as root and there is no 'postgres' or 'nobody' user.")


@pytest.fixture(autouse=True)
def _no_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their database explicitly; a DATABASE_URL set outside must not leak in."""
    monkeypatch.delenv("DATABASE_URL", raising=False)


class PostgresCluster:
    """A server of our own in a throw-away folder, on a free local port; `stop()` and
    `start()` again keep its data and port (for outage tests)."""

    def __init__(self, binaries: Path, user: str | None) -> None:
        self.binaries, self.user = binaries, user
        self.workdir = Path(tempfile.mkdtemp(prefix="atelier-pg-"))
        if user is not None:
            shutil.chown(self.workdir, user)
        self.data, self.port = self.workdir / "data", free_port()
        self.server = PostgresServer(f"postgresql+psycopg://atelier@127.0.0.1:{self.port}")

    def init(self) -> None:
        _run_as(
            self.user,
            [
                str(self.binaries / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "atelier",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        _run_as(
            self.user,
            [
                str(self.binaries / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.workdir / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )

    def stop(self, mode: str = "fast") -> None:
        _run_as(
            self.user, [str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", mode, "stop"]
        )

    def remove(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_cluster() -> PostgresCluster:
    """A started `PostgresCluster`, or a skip saying why there can be none."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'psycopg[binary]' to test PostgreSQL.")
    binaries = server_binaries()
    if binaries is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found; install Debian's "
            f"postgresql package or set {POSTGRES_URL_ENV} to run the PostgreSQL variants."
        )
    user = _server_user()
    if user is not None and shutil.which("runuser") is None:
        pytest.skip("Running as root without 'runuser', so PostgreSQL cannot be started.")
    cluster = PostgresCluster(binaries, user)
    try:
        cluster.init()
        cluster.start()
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        cluster.remove()
        pytest.skip(f"PostgreSQL could not be started: {detail.strip()[:300]}")
    return cluster


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test session, or a skip saying why there is none."""
    if url := os.environ.get(POSTGRES_URL_ENV):
        base, _, database = url.rstrip("/").rpartition("/")
        yield PostgresServer(base.replace("postgresql://", "postgresql+psycopg://"), database)
        return
    cluster = start_cluster()
    try:
        yield cluster.server
    finally:
        cluster.remove()


@pytest.fixture
def restartable_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL server of this test's own, which it may stop and start again."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def postgres_gallery_url(postgres_server: PostgresServer, tmp_path_factory) -> str:
    """One migrated database shared by the PostgreSQL variants (emptied before each test)."""
    url = postgres_server.create_database("gallery")
    GalleryStore.open(tmp_path_factory.mktemp("pg-migrate"), url).close()
    return url


def _empty_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(f"TRUNCATE {', '.join(GALLERY_TABLES)} RESTART IDENTITY CASCADE")
            )
    finally:
        engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL: a SQLite file in the test's folder, or the emptied PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'atelier.db'}"
    url = request.getfixturevalue("postgres_gallery_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def gallery_dir(tmp_path: Path) -> Path:
    return tmp_path / "gallery"


@pytest.fixture
def store(gallery_dir: Path, database_url: str) -> Iterator[GalleryStore]:
    """A gallery store, once on SQLite and once on PostgreSQL."""
    with GalleryStore.open(gallery_dir, database_url) as opened:
        yield opened


@pytest.fixture
def local(store: GalleryStore) -> OwnerGallery:
    """The local user's gallery in `store` (what the app without logins acts as)."""
    return store.for_owner(LOCAL_OWNER)


@pytest.fixture
def sqlite_store(gallery_dir: Path) -> Iterator[GalleryStore]:
    """A gallery store on its default SQLite file (for SQLite-only behaviour)."""
    with GalleryStore.open(gallery_dir) as opened:
        yield opened


def sample_image(seed: int = 0, size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A small image whose pixels depend on `seed` (so different seeds differ in content)."""
    image = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    image.putpixel((seed % size[0], 0), (255, 255, 255))
    return image


@pytest.fixture
def make_generation() -> Callable[..., NewGeneration]:
    """Factory for a `NewGeneration` with a small unique image; keywords override fields."""
    counter = iter(range(1, 1_000_000))

    def make(**overrides: Any) -> NewGeneration:
        seed = overrides.pop("seed", next(counter))
        fields: dict[str, Any] = {
            "prompt": "a red fox in the snow",
            "negative_prompt": "blurry",
            "seed": seed,
            "steps": 20,
            "guidance_scale": 7.5,
            "scheduler": "DPM++ 2M Karras",
            "model_id": "runwayml/stable-diffusion-v1-5",
            "model_hash": "6ce0161689",
            "provenance": {
                "model_source": "hub",
                "versions": {"prompt_atelier": "0.1.0", "diffusers": "0.42.1"},
                "timings": {"total_s": 1.5},
            },
        }
        fields.update(overrides)
        if "image" not in fields and "png_bytes" not in fields:
            fields["image"] = sample_image(seed)
        return NewGeneration(**fields)

    return make
