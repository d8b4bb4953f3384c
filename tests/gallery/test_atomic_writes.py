"""Atomic writes and the start-up sweep: no row without its file, no file without its row.

Crashes are real: a child process records (or deletes) and dies with `os._exit` at the worst
moment; the next `GalleryStore.open` must repair what it left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import SessionTransaction

from gallery import GalleryStore
from gallery.files import HOSTNAME, image_rel_path, thumbnail_rel_path
from gallery.owners import LOCAL_OWNER

REPO_ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600.0


def files_on_disk(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for folder in ("images", "thumbnails")
        for p in (root / folder).rglob("*")
        if p.is_file()
    }


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for folder in ("tmp", "pending") for p in (root / folder).iterdir())


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def run_and_crash(gallery_dir: Path, database_url: str, body: str) -> None:
    """Run `body` in a child process that has `store` open (`local`: the local user's view);
    it must die with status 3."""
    script = textwrap.dedent(
        """
        import os, sys
        from PIL import Image
        from gallery import LOCAL_OWNER, GalleryStore, NewGeneration
        store = GalleryStore.open(sys.argv[1], sys.argv[2])
        local = store.for_owner(LOCAL_OWNER)
        def die(*args, **kwargs):
            os._exit(3)
        """
    ) + textwrap.dedent(body)
    result = subprocess.run(
        [sys.executable, "-c", script, str(gallery_dir), database_url],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr


def test_a_failed_commit_leaves_neither_rows_nor_files(store, local, make_generation, monkeypatch):
    def failing_commit(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(SessionTransaction, "commit", failing_commit)
    with pytest.raises(RuntimeError, match="disk full"):
        local.record_generations([make_generation(), make_generation()])
    monkeypatch.undo()

    assert local.count() == 0
    assert files_on_disk(store.root) == set()
    assert leftovers(store.root) == []


def test_a_failed_commit_keeps_a_file_another_row_uses(local, make_generation, monkeypatch):
    kept = local.get(local.record_generation(make_generation(seed=1)))
    duplicate = make_generation(png_bytes=kept.image.path.read_bytes(), image=None)
    monkeypatch.setattr(SessionTransaction, "commit", lambda self: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        local.record_generation(duplicate)
    monkeypatch.undo()
    assert kept.image.path.exists() and kept.image.thumbnail_path.exists()
    assert local.count() == 1


def test_a_crash_between_rename_and_commit_is_repaired_at_the_next_open(gallery_dir, database_url):
    run_and_crash(
        gallery_dir,
        database_url,
        """
        from sqlalchemy.orm import SessionTransaction
        SessionTransaction.commit = die
        image = Image.new("RGB", (40, 30), (1, 2, 3))
        local.record_generation(NewGeneration(prompt="lost fox", seed=1, image=image))
        """,
    )
    # The child died after renaming its files into place but before its commit.
    assert len(files_on_disk(gallery_dir)) == 2
    assert len(leftovers(gallery_dir)) == 1  # its write intent

    with GalleryStore.open(gallery_dir, database_url) as store:
        assert store.for_owner(LOCAL_OWNER).count() == 0
        assert files_on_disk(gallery_dir) == set()
        assert leftovers(gallery_dir) == []
        assert store.last_sweep.finished_intents == 1
        assert len(store.last_sweep.removed_files) == 2


def test_a_crash_after_commit_keeps_rows_and_files(gallery_dir, database_url):
    run_and_crash(
        gallery_dir,
        database_url,
        """
        image = Image.new("RGB", (40, 30), (1, 2, 3))
        store.files.begin_intent = lambda hashes, real=store.files.begin_intent: type(
            "I", (), {"finish": die, "name": real(hashes).name})()
        local.record_generation(NewGeneration(prompt="kept fox", seed=1, image=image))
        """,
    )
    with GalleryStore.open(gallery_dir, database_url) as store:
        (item,) = store.for_owner(LOCAL_OWNER).search().items
        assert item.prompt == "kept fox"
        assert Path(item.image_path).exists() and Path(item.thumbnail_path).exists()
        assert leftovers(gallery_dir) == []
        assert store.last_sweep.finished_intents == 1
        assert store.last_sweep.removed_files == ()


def test_a_crash_after_a_delete_commit_removes_the_files_at_the_next_open(
    gallery_dir, database_url, make_generation
):
    with GalleryStore.open(gallery_dir, database_url) as store:
        generation_id = store.for_owner(LOCAL_OWNER).record_generation(make_generation())
    run_and_crash(
        gallery_dir,
        database_url,
        f"""
        import gallery.services.curation
        gallery.services.curation.discard_unreferenced = die
        local.delete({generation_id})
        """,
    )
    assert len(files_on_disk(gallery_dir)) == 2  # rows gone, files still there
    with GalleryStore.open(gallery_dir, database_url) as store:
        assert store.for_owner(LOCAL_OWNER).count() == 0
        assert files_on_disk(gallery_dir) == set()
        assert leftovers(gallery_dir) == []


def test_sweep_removes_temp_files_of_dead_writers_and_old_ones_from_other_hosts(gallery_dir):
    tmp = gallery_dir / "tmp"
    tmp.mkdir(parents=True)
    dead = tmp / f"{HOSTNAME}-{dead_pid()}-abc.part"
    alive = tmp / f"{HOSTNAME}-{os.getpid()}-def.part"
    young_remote = tmp / "other-host-12-aaa.part"
    old_remote = tmp / "other-host-13-bbb.part"
    for path in (dead, alive, young_remote, old_remote):
        path.write_bytes(b"partial")
    os.utime(old_remote, (time.time() - 2 * HOUR,) * 2)

    with GalleryStore.open(gallery_dir, sweep_grace_s=HOUR) as store:
        assert sorted(store.last_sweep.removed_temp_files) == sorted([dead.name, old_remote.name])
    assert sorted(p.name for p in tmp.iterdir()) == sorted([alive.name, young_remote.name])


def test_sweep_waits_for_intents_of_other_hosts_until_the_grace_period(
    gallery_dir, make_generation
):
    with GalleryStore.open(gallery_dir) as store:
        kept = store.for_owner(LOCAL_OWNER).get(
            store.for_owner(LOCAL_OWNER).record_generation(make_generation())
        )
    orphan_sha = "ab" * 32
    for rel_path in (image_rel_path(orphan_sha), thumbnail_rel_path(orphan_sha)):
        (gallery_dir / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (gallery_dir / rel_path).write_bytes(b"x")
    intent = gallery_dir / "pending" / "other-host-99-0123.json"
    intent.write_text(
        json.dumps(
            {"host": "other-host", "pid": 99, "hashes": [orphan_sha, kept.image.content_hash]}
        )
    )

    with GalleryStore.open(gallery_dir, sweep_grace_s=HOUR) as store:
        assert store.last_sweep.kept_intents == 1
    assert intent.exists() and (gallery_dir / image_rel_path(orphan_sha)).exists()

    os.utime(intent, (time.time() - 2 * HOUR,) * 2)
    with GalleryStore.open(gallery_dir, sweep_grace_s=HOUR) as store:
        assert store.last_sweep.finished_intents == 1
        assert sorted(store.last_sweep.removed_files) == sorted(
            [image_rel_path(orphan_sha), thumbnail_rel_path(orphan_sha)]
        )
    assert not intent.exists()
    assert kept.image.path.exists()  # referenced by a row, so never removed


def test_full_sweep_removes_old_orphans_flags_missing_files_and_remakes_thumbnails(
    store, local, make_generation
):
    first = local.get(local.record_generation(make_generation()))
    second = local.get(local.record_generation(make_generation()))
    orphan = store.root / image_rel_path("cd" * 32)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"nobody's")
    young_orphan = store.root / image_rel_path("ef" * 32)
    young_orphan.parent.mkdir(parents=True, exist_ok=True)
    young_orphan.write_bytes(b"being written by someone")
    os.utime(orphan, (time.time() - 2 * HOUR,) * 2)
    saved = first.image.path.read_bytes()
    first.image.path.unlink()
    second.image.thumbnail_path.unlink()

    report = store.admin().sweep(full=True, grace_s=HOUR)

    assert report.removed_files == (image_rel_path("cd" * 32),)
    assert not orphan.exists() and young_orphan.exists()
    assert report.missing_images == (first.image.id,)
    assert local.get(first.id).image.missing is True
    assert second.image.thumbnail_path.exists()

    first.image.path.write_bytes(saved)
    assert store.admin().sweep(full=True).missing_images == ()
    assert local.get(first.id).image.missing is False
