"""Bad state never costs data: an empty, replaced or malformed database, a mistyped
DATABASE_URL or an old layout is refused or moved, never answered by deleting images; lost
records come back from the images' own metadata; our unrecorded images survive `check`."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from gallery import GalleryError, GalleryStore
from gallery.database import default_sqlite_path
from gallery.owners import LOCAL_OWNER

REFUSAL = "no records, yet the gallery folder holds images"


@pytest.fixture
def filled(gallery_dir, make_generation):
    """A closed gallery with three generations; returns their ids."""
    with GalleryStore.open(gallery_dir) as store:
        ids = [
            store.for_owner(LOCAL_OWNER).record_generation(make_generation(prompt=f"fox {n}"))
            for n in range(3)
        ]
    return ids


def image_files(gallery_dir):
    return sorted((gallery_dir / "images").glob("*/*/*.png"))


def test_an_old_layout_database_is_moved_with_its_wal_and_kept(gallery_dir, filled):
    new = default_sqlite_path(gallery_dir)
    old = gallery_dir / "atelier.db"
    # Put the gallery back the way an older release left it, with rows still in the WAL.
    shutil.move(new, old)
    connection = sqlite3.connect(old)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("UPDATE generations SET notes = 'only in the wal'")
    connection.commit()
    assert (gallery_dir / "atelier.db-wal").stat().st_size > 0
    connection.close()  # closing the last connection checkpoints, as a stopped app does
    with GalleryStore.open(gallery_dir) as store:
        assert [store.for_owner(LOCAL_OWNER).get(i).notes for i in filled] == [
            "only in the wal"
        ] * 3
    assert new.is_file() and not old.exists()
    assert not (gallery_dir / "atelier.db-wal").exists()
    kept = gallery_dir / "backups" / "atelier.db.old-location"
    with sqlite3.connect(kept) as backup:
        assert backup.execute("SELECT count(*) FROM generations").fetchone() == (3,)


def test_an_old_layout_database_with_an_uncheckpointed_wal_is_moved_whole(gallery_dir, filled):
    new = default_sqlite_path(gallery_dir)
    old = gallery_dir / "atelier.db"
    shutil.move(new, old)
    # A crash left committed rows only in the WAL: copy the files while a connection holds it.
    holder = sqlite3.connect(old)
    holder.execute("PRAGMA wal_autocheckpoint=0")
    holder.execute("UPDATE generations SET rating = 4")
    holder.commit()
    frozen = gallery_dir.parent / "frozen"
    frozen.mkdir()
    for suffix in ("", "-wal"):
        shutil.copy(gallery_dir / f"atelier.db{suffix}", frozen / f"atelier.db{suffix}")
    holder.close()
    os.remove(old)
    for suffix in ("", "-wal"):
        shutil.copy(frozen / f"atelier.db{suffix}", gallery_dir / f"atelier.db{suffix}")
    with GalleryStore.open(gallery_dir) as store:
        assert [store.for_owner(LOCAL_OWNER).get(i).rating for i in filled] == [4, 4, 4]


def test_two_databases_are_refused_without_touching_either(gallery_dir, filled):
    shutil.copy(default_sqlite_path(gallery_dir), gallery_dir / "atelier.db")
    with pytest.raises(GalleryError, match="two databases"):
        GalleryStore.open(gallery_dir)
    assert (gallery_dir / "atelier.db").is_file() and default_sqlite_path(gallery_dir).is_file()


@pytest.mark.parametrize("how", ["emptied", "deleted", "replaced by another gallery's"])
def test_a_database_without_records_beside_images_is_refused(gallery_dir, filled, tmp_path, how):
    database = default_sqlite_path(gallery_dir)
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    if how == "emptied":
        database.write_bytes(b"")
    elif how == "deleted":
        database.unlink()
    else:
        with GalleryStore.open(tmp_path / "other"):
            pass
        shutil.copy(default_sqlite_path(tmp_path / "other"), database)
    before = image_files(gallery_dir)
    with pytest.raises(GalleryError, match=REFUSAL) as refused:
        GalleryStore.open(gallery_dir)
    assert "gallery rebuild" in str(refused.value)
    assert image_files(gallery_dir) == before


def test_a_mistyped_database_url_does_not_touch_the_images(gallery_dir, filled, tmp_path):
    before = image_files(gallery_dir)
    with pytest.raises(GalleryError, match=REFUSAL):
        GalleryStore.open(gallery_dir, f"sqlite:///{tmp_path / 'typo' / 'atelier.db'}")
    assert image_files(gallery_dir) == before
    with GalleryStore.open(gallery_dir) as store:
        assert store.for_owner(LOCAL_OWNER).count() == 3


def test_a_malformed_database_is_one_sentence(gallery_dir, filled):
    database = default_sqlite_path(gallery_dir)
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    database.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(GalleryError) as refused:
        GalleryStore.open(gallery_dir)
    message = str(refused.value)
    assert "cannot be read" in message and "\n" not in message
    assert "gallery rebuild" in message


def test_rebuild_recreates_records_from_the_images(gallery_dir, filled):
    with GalleryStore.open(gallery_dir) as store:
        originals = {
            store.for_owner(LOCAL_OWNER).get(i).image.content_hash: store.for_owner(
                LOCAL_OWNER
            ).get(i)
            for i in filled
        }
    database = default_sqlite_path(gallery_dir)
    for suffix in ("", "-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    with GalleryStore.open(gallery_dir, allow_unrecorded_images=True) as store:
        report = store.admin().rebuild(owner=LOCAL_OWNER)
        assert len(report.imported) == 3 and report.failed == ()
        for generation_id in report.imported:
            record = store.for_owner(LOCAL_OWNER).get(generation_id)
            original = originals[record.image.content_hash]
            assert (record.prompt, record.seed, record.steps, record.model_id) == (
                original.prompt,
                original.seed,
                original.steps,
                original.model_id,
            )
            assert record.source.startswith("rebuild")
        assert store.admin().rebuild(owner=LOCAL_OWNER).imported == ()  # nothing left to re-create
    with GalleryStore.open(gallery_dir) as store:  # opens normally again
        assert store.for_owner(LOCAL_OWNER).count() == 3


def test_check_keeps_our_unrecorded_images_unless_asked(gallery_dir, filled):
    with GalleryStore.open(gallery_dir) as store:
        path = store.for_owner(LOCAL_OWNER).get(filled[0]).image.path
        with store.engine.begin() as connection:  # lose the row, keep the file
            connection.exec_driver_sql(f"DELETE FROM generations WHERE id = {filled[0]}")
        report = store.admin().sweep(full=True, grace_s=0)
        assert path.is_file() and report.removed_files == ()
        assert len(report.kept_unrecorded) == 1
        assert store.admin().sweep(full=True, grace_s=0, delete_ours=True).removed_files
        assert not path.exists()
