"""A PostgreSQL server that stops and comes back: one sentence to the visitor, images kept and
recorded when it returns (by the running server, and by `gallery check` from the command
line), never deleted. Against a real server of the test's own, stopped and started again."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gallery import LOCAL_OWNER, GalleryStore
from gallery.deferred import DEFERRED_DIR, DeferredFolder
from gallery.errors import GalleryUnavailableError
from gallery.files import HOSTNAME, image_rel_path, prepare_png
from gallery.metadata import embed_metadata

REPO_ROOT = Path(__file__).resolve().parents[2]
# What a driver error shows and a visitor must never see.
LEAKS = re.compile(r"127\.0\.0\.1|localhost|port|https?://|sqlalche\.me|psycopg|\d{4,5}")


def wait_until(condition, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def stored_files(gallery_dir: Path) -> set[str]:
    return {p.stem for p in (gallery_dir / "images").glob("*/*/*.png")}


def deferred_documents(gallery_dir: Path) -> list[Path]:
    return sorted((gallery_dir / DEFERRED_DIR).iterdir())


@pytest.fixture
def outage_url(restartable_postgres) -> str:
    return restartable_postgres.server.create_database("outage")


@pytest.mark.postgres
def test_an_outage_is_one_sentence_and_its_images_are_recorded_when_the_server_returns(
    restartable_postgres, outage_url, gallery_dir, make_generation
):
    with GalleryStore.open(gallery_dir, outage_url) as store:
        local = store.for_owner("user:ada")
        before = local.record_generation(make_generation(prompt="before the outage"))
        restartable_postgres.stop()

        during = make_generation(prompt="during the outage", tags=("kept",), parent_id=before)
        with pytest.raises(GalleryUnavailableError) as raised:
            local.record_generation(during)
        message = str(raised.value)
        assert message == (
            "The gallery is unavailable; images are kept, not recorded until it is back."
        )
        with pytest.raises(GalleryUnavailableError) as raised:
            local.search()
        for sentence in (message, str(raised.value)):
            assert not LEAKS.search(sentence), sentence
            assert sentence.count(". ") == 0 and "\n" not in sentence  # one sentence
        # The image is on disk, named by its content, with its row waiting beside it.
        assert len(stored_files(gallery_dir)) == 2
        assert len(deferred_documents(gallery_dir)) == 1
        with pytest.raises(GalleryUnavailableError):  # a check meanwhile deletes nothing
            store.admin().sweep(full=True, grace_s=0, delete_ours=True)
        assert len(stored_files(gallery_dir)) == 2

        store.record_deferred_in_background(every_s=0.2)  # what `serve` starts
        restartable_postgres.start()
        assert wait_until(lambda: local.count() == 2), "the waiting row was never recorded"
        assert deferred_documents(gallery_dir) == []
        newest = local.search().items[0]
        record = local.get(newest.id)
        assert record.prompt == "during the outage"
        assert record.user_id == "user:ada" and record.tags == ("kept",)
        assert record.parent_id == before
        assert record.image.path.is_file()
        assert store.for_owner(LOCAL_OWNER).count() == 0  # recorded as ada's, nobody else's


@pytest.mark.postgres
def test_a_recording_that_succeeds_records_what_waited_before_it(
    restartable_postgres, outage_url, gallery_dir, make_generation
):
    with GalleryStore.open(gallery_dir, outage_url) as store:
        local = store.for_owner(LOCAL_OWNER)
        restartable_postgres.stop()
        with pytest.raises(GalleryUnavailableError):
            local.record_generations([make_generation(), make_generation()])
        restartable_postgres.start()
        local.record_generation(make_generation(prompt="after"))
        assert local.count() == 3
        batches = {local.get(item.id).batch_id for item in local.search().items}
        assert len(batches) == 2  # the outage's two images stayed one batch
        assert deferred_documents(gallery_dir) == []


@pytest.mark.postgres
def test_gallery_check_from_the_command_line_records_an_outages_images_instead_of_keeping_them(
    restartable_postgres, outage_url, tmp_path, make_generation
):
    """The server (this process) stays up; `gallery check` runs beside it, as an operator
    would, once the database is back: it records the images and deletes none."""
    data_dir = tmp_path / "data"
    gallery_dir = data_dir / "gallery"
    env = {**os.environ, "DATABASE_URL": outage_url, "PYTHONPATH": str(REPO_ROOT)}

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "app.py", "--data-dir", str(data_dir), "gallery", "check"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    with GalleryStore.open(gallery_dir, outage_url) as store:
        local = store.for_owner(LOCAL_OWNER)
        restartable_postgres.stop()
        with pytest.raises(GalleryUnavailableError):
            local.record_generation(make_generation(prompt="made during the outage"))
        sha = next(iter(stored_files(gallery_dir)))

        down = check()
        assert down.returncode == 2
        assert down.stderr.count("\n") == 1 and "cannot be reached" in down.stderr
        assert not LEAKS.search(down.stderr.replace("DATABASE_URL", "")), down.stderr
        assert "rebuild" not in down.stderr

        restartable_postgres.start()
        back = check()
        assert back.returncode == 0, back.stderr
        assert "recorded 1 image(s) made while the database was away" in back.stdout
        assert (gallery_dir / image_rel_path(sha)).is_file()
        assert local.count() == 1
        assert local.search().items[0].prompt == "made during the outage"
        assert deferred_documents(gallery_dir) == []


def test_no_sweep_deletes_the_files_of_rows_that_wait(sqlite_store, gallery_dir, make_generation):
    """Even `--delete-ours` keeps them, also when their document could not be recorded."""
    item = make_generation(user_id=LOCAL_OWNER)
    prepared = prepare_png(embed_metadata(item.image, item), item.image)
    sqlite_store.files.store(prepared)
    folder = DeferredFolder(gallery_dir)
    folder.write("b" * 32, datetime.now(timezone.utc), [(prepared.sha, item)])
    [claimed] = folder.claim_all()
    folder.set_aside(claimed)  # as if it could not be recorded
    report = sqlite_store.admin().sweep(full=True, grace_s=0, delete_ours=True)
    assert report.removed_files == () and prepared.sha in stored_files(gallery_dir)
    next((gallery_dir / DEFERRED_DIR).iterdir()).unlink()
    report = sqlite_store.admin().sweep(full=True, grace_s=0, delete_ours=True)
    assert prepared.sha not in stored_files(gallery_dir)  # without it, --delete-ours deletes


def test_a_claim_left_by_a_process_that_died_is_handed_back_and_recorded(
    sqlite_store, gallery_dir, make_generation
):
    item = make_generation(prompt="claimed by a process that died", user_id=LOCAL_OWNER)
    prepared = prepare_png(embed_metadata(item.image, item), item.image)
    sqlite_store.files.store(prepared)
    folder = DeferredFolder(gallery_dir)
    document = folder.write("c" * 32, datetime.now(timezone.utc), [(prepared.sha, item)])
    dead = document.with_name(f"{document.name}~{HOSTNAME}-999999999-{'d' * 32}.claim")
    document.rename(dead)
    report = sqlite_store.admin().sweep(grace_s=0)
    assert report.recorded_deferred == 1
    local = sqlite_store.for_owner(LOCAL_OWNER)
    assert local.search().items[0].prompt == "claimed by a process that died"
    assert deferred_documents(gallery_dir) == []
