"""Another process reading the database file, or a writer killed mid-write, loses no rows.

The issue this guards: an HTTP download of the database made the *server* process drop its
SQLite locks, and the next command deleted the WAL the server was writing. The database is no
longer served (tests/ui/test_served_paths.py); here other processes read the file — raw bytes
and through SQLite, as a CLI command does — while a writer records, and a writer is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gallery import GalleryStore
from gallery.database import default_sqlite_path
from gallery.owners import LOCAL_OWNER

REPO = Path(__file__).resolve().parents[2]
WRITER = """
import sys
from PIL import Image
from gallery import LOCAL_OWNER, GalleryStore, NewGeneration
count = int(sys.argv[2])
with GalleryStore.open(sys.argv[1]) as store:
    for n in range(count):
        image = Image.new("RGB", (32, 32), (n % 256, n // 256, 7))
        (gid,) = store.for_owner(LOCAL_OWNER).record_generations(
            [NewGeneration(prompt=f"fox {n}", seed=n, image=image)]
        )
        print(gid, flush=True)
"""


def start_writer(gallery_dir: Path, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(gallery_dir), str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_files_raw(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path = database.with_name(database.name + suffix)
        if path.exists():
            with open(path, "rb") as handle:
                handle.read()


def test_readers_in_other_processes_lose_no_rows(tmp_path):
    gallery_dir = tmp_path / "gallery"
    GalleryStore.open(gallery_dir).close()
    database = default_sqlite_path(gallery_dir)
    writer = start_writer(gallery_dir, 40)
    try:
        while writer.poll() is None:
            read_files_raw(database)
            with GalleryStore.open(gallery_dir) as store:  # what a CLI command does
                store.for_owner(LOCAL_OWNER).count()
            time.sleep(0.05)
        out, _ = writer.communicate(timeout=60)
    finally:
        writer.kill()
    assert writer.returncode == 0
    written = [int(line) for line in out.split()]
    assert len(written) == 40
    with GalleryStore.open(gallery_dir) as store:
        assert store.for_owner(LOCAL_OWNER).count() == 40
        assert {store.for_owner(LOCAL_OWNER).get(i).prompt for i in written} == {
            f"fox {n}" for n in range(40)
        }
    assert len(list((gallery_dir / "images").glob("*/*/*.png"))) == 40


def test_a_killed_writer_loses_no_committed_row_and_leaves_no_orphan(tmp_path):
    gallery_dir = tmp_path / "gallery"
    GalleryStore.open(gallery_dir).close()
    writer = start_writer(gallery_dir, 10_000)
    assert writer.stdout is not None
    committed = [int(writer.stdout.readline()) for _ in range(8)]
    read_files_raw(default_sqlite_path(gallery_dir))
    writer.send_signal(signal.SIGKILL)
    rest, _ = writer.communicate(timeout=30)
    committed += [int(line) for line in rest.split()]
    with GalleryStore.open(gallery_dir) as store:  # the start-up sweep finishes the intent
        for generation_id in committed:
            assert store.for_owner(LOCAL_OWNER).get(generation_id).image.path.is_file()
        rows = store.for_owner(LOCAL_OWNER).count()
        assert rows >= len(committed)
    files = list((gallery_dir / "images").glob("*/*/*.png"))
    assert len(files) == rows  # neither a row without its file nor a file without its row
