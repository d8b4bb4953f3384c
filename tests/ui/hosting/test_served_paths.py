"""Over HTTP, the launched app serves the gallery's images and thumbnails and nothing else:
not the database, its WAL/SHM, temp files, write intents, backups, nor any traversal to them."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest

from ui.recording import record_result


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def recorded(server, gallery_store, local_gallery, engine):
    """One recorded generation, plus a temp file and an intent like a write in flight."""
    from engine.request import GenerationRequest

    result = engine.generate(
        GenerationRequest("a fox", seed=3, steps=1, width=64, height=64), model="demo"
    )
    (generation_id,) = record_result(local_gallery, result)
    root = gallery_store.root
    (root / "tmp" / "writer-1-x.png.part").write_bytes(b"half a png")
    (root / "pending" / "writer-1-x.json").write_text('{"hashes": []}')
    (root / "backups").mkdir(exist_ok=True)
    (root / "backups" / "atelier.db.before-0004").write_bytes(b"SQLite format 3\0old")
    return local_gallery.get(generation_id)


def test_images_and_thumbnails_are_served(server, recorded):
    url, _ = server
    for path in (recorded.image.path, recorded.image.thumbnail_path):
        status, body = fetch(f"{url}gradio_api/file={path}")
        assert status == 200 and body == path.read_bytes()


def test_the_database_temp_files_and_intents_are_not(server, gallery_store, recorded):
    url, _ = server
    root = gallery_store.root
    database = root / "database" / "atelier.db"
    assert database.is_file() and database.with_name("atelier.db-wal").is_file()
    image_dir = recorded.image.path.parent
    private = [
        database,
        database.with_name("atelier.db-wal"),
        database.with_name("atelier.db-shm"),
        root / "atelier.db",  # where older releases kept it
        root / "tmp" / "writer-1-x.png.part",
        root / "pending" / "writer-1-x.json",
        root / "backups" / "atelier.db.before-0004",
    ]
    targets = [str(p) for p in private]
    # Traversal out of a served folder, plain and encoded.
    targets += [
        f"{image_dir}/../../../database/atelier.db",
        f"{root}/images/../database/atelier.db",
        f"{root}/thumbnails/..%2f..%2fdatabase/atelier.db",
        f"{root}/images/%2e%2e/database/atelier.db-wal",
        f"{root}/images//../tmp/writer-1-x.png.part",
        f"{root}/images/../pending/writer-1-x.json",
    ]
    for target in targets:
        for quoted in (target, urllib.parse.quote(target)):
            status, body = fetch(f"{url}gradio_api/file={quoted}")
            assert status in (403, 404), (target, status)
            assert b"SQLite format 3" not in body and b"hashes" not in body
