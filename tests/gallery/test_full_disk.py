"""A full disk is told apart from a database we cannot read: one sentence saying how much to
free, never "rebuild", nothing changed; the server and the command line refuse with it.

On a real 16 MB tmpfs filled to its last byte (where SQLite cannot create its `-shm` and says
"disk I/O error"), mounted by the test (root only; skipped elsewhere), and on a real
SQLITE_FULL from a database held to a page limit (everywhere).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event

from gallery import GalleryStore
from gallery.errors import DiskFullError
from gallery.owners import LOCAL_OWNER

REPO_ROOT = Path(__file__).resolve().parents[2]
SENTENCE = "The disk is full: free at least 64 MB for the gallery (0 MB left), then "


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_images(gallery_dir: Path) -> set[str]:
    return {p.stem for p in (gallery_dir / "images").glob("*/*/*.png")}


def run_app(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1"}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "app.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def full_gallery(tiny_disk, make_generation):
    """A gallery with one generation on a tiny disk that is then filled; its folder."""
    gallery_dir = tiny_disk.path / "data" / "gallery"
    with GalleryStore.open(gallery_dir) as store:
        store.for_owner(LOCAL_OWNER).record_generation(make_generation())
    tiny_disk.fill()
    return gallery_dir


def test_opening_on_a_full_disk_says_so_and_changes_nothing(tiny_disk, full_gallery):
    database = full_gallery / "database" / "atelier.db"
    before = digest(database), stored_images(full_gallery)
    with pytest.raises(DiskFullError) as raised:
        GalleryStore.open(full_gallery)
    assert str(raised.value) == SENTENCE + "start again; nothing was changed."
    assert "rebuild" not in str(raised.value) and "cannot be read" not in str(raised.value)
    assert (digest(database), stored_images(full_gallery)) == before
    tiny_disk.free()
    with GalleryStore.open(full_gallery) as store:  # everything is still there
        assert store.for_owner(LOCAL_OWNER).count() == 1


def test_recording_on_a_full_disk_is_one_sentence_and_leaves_no_file_without_its_row(
    tiny_disk, make_generation
):
    gallery_dir = tiny_disk.path / "gallery"
    with GalleryStore.open(gallery_dir) as store:
        local = store.for_owner(LOCAL_OWNER)
        local.record_generation(make_generation())
        tiny_disk.fill()
        with pytest.raises(DiskFullError) as raised:
            local.record_generation(make_generation())
        assert str(raised.value).startswith(SENTENCE)
        tiny_disk.free()
        assert local.count() == 1
        recorded = {local.get(item.id).image.content_hash for item in local.search().items}
        assert stored_images(gallery_dir) == recorded
        local.record_generation(make_generation())  # room again: it records
        assert local.count() == 2


def test_the_command_line_refuses_with_one_line(full_gallery):
    data_dir = full_gallery.parent
    result = run_app("--data-dir", str(data_dir), "gallery", "search")
    assert result.returncode == 2
    assert result.stderr == "error: " + SENTENCE + "start again; nothing was changed.\n"


def test_the_server_refuses_to_start_with_one_line(full_gallery):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_app(
        "--data-dir", str(full_gallery.parent), "serve", "--model", "demo", "--port", str(port)
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.endswith("error: " + SENTENCE + "start again; nothing was changed.\n")
    assert "Traceback" not in result.stderr


def test_sqlite_full_is_a_full_disk_and_leaves_no_file_without_its_row(
    sqlite_store, gallery_dir, make_generation
):
    """A real SQLITE_FULL ("database or disk is full"): the database may grow no further."""
    local = sqlite_store.for_owner(LOCAL_OWNER)
    local.record_generation(make_generation())
    before = stored_images(gallery_dir)

    @event.listens_for(sqlite_store.engine, "connect")
    def no_more_pages(dbapi_connection, _record):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    sqlite_store.engine.dispose()  # new connections get the limit
    big = make_generation(settings={"x": "y" * 200_000})
    with pytest.raises(DiskFullError) as raised:
        local.record_generation(big)
    assert str(raised.value).startswith("The disk is full: free at least 64 MB for the gallery")
    assert stored_images(gallery_dir) == before  # the new file went with its failed row
