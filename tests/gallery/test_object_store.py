"""Images in an S3-compatible store: the same promises as the local folder, against a real
S3 server (moto's server mode in a subprocess, see `tests/object_store.py`), checked with
boto3, a client independent of the app's s3fs."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from gallery import LOCAL_OWNER, GalleryError, GalleryStore
from gallery.files import HOSTNAME, image_rel_path, thumbnail_rel_path
from gallery.object_files import ImageStoreError, ObjectImageFiles
from tests.gallery.conftest import sample_image
from tests.object_store import MotoServer, apply_environment

PREFIX = "studio/gallery"


@pytest.fixture
def s3(s3_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    apply_environment(s3_server, monkeypatch)
    return s3_server


@pytest.fixture
def bucket(s3: MotoServer) -> str:
    return s3.new_bucket()


@pytest.fixture
def s3_store(gallery_dir: Path, database_url: str, bucket: str) -> Iterator[GalleryStore]:
    with GalleryStore.open(gallery_dir, database_url, images=f"s3://{bucket}/{PREFIX}") as opened:
        yield opened


def objects(s3: MotoServer, bucket: str, folder: str) -> list[str]:
    return s3.keys(bucket, f"{PREFIX}/{folder}/")


def test_the_object_store_holds_the_image_and_thumbnail_named_by_content(
    s3, bucket, s3_store, make_generation
):
    local = s3_store.for_owner(LOCAL_OWNER)
    generation_id = local.record_generation(make_generation(prompt="a fox in the cloud"))
    image = local.get(generation_id).image
    assert isinstance(s3_store.files, ObjectImageFiles)
    assert objects(s3, bucket, "images") == [f"{PREFIX}/{image_rel_path(image.content_hash)}"]
    assert objects(s3, bucket, "thumbnails") == [
        f"{PREFIX}/{thumbnail_rel_path(image.content_hash)}"
    ]
    assert objects(s3, bucket, "pending") == []  # the intent is finished
    key = f"{PREFIX}/{image_rel_path(image.content_hash)}"
    stored = s3.client().get_object(Bucket=bucket, Key=key)
    data = stored["Body"].read()
    assert image.path.read_bytes() == data  # the served copy is the object itself
    assert image.path.parent.parent.parent in [Path(f) for f in s3_store.served_folders]
    with Image.open(io.BytesIO(data)) as png:
        assert "a fox in the cloud" in png.text["parameters"]


def test_an_owner_read_brings_another_front_ends_image_to_this_ones_served_folder(
    s3, bucket, tmp_path, database_url, make_generation
):
    url = f"s3://{bucket}/{PREFIX}"
    with (
        GalleryStore.open(tmp_path / "front-a", database_url, images=url) as front_a,
        GalleryStore.open(tmp_path / "front-b", database_url, images=url) as front_b,
    ):
        generation_id = front_a.for_owner("user:ada").record_generation(make_generation())
        assert front_b.for_owner("user:grace").search().items == ()
        (item,) = front_b.for_owner("user:ada").search().items
        assert Path(item.thumbnail_path).is_relative_to(tmp_path / "front-b")
        assert Path(item.thumbnail_path).exists()  # the thumbnail the page shows
        record = front_b.for_owner("user:ada").get(generation_id)
        assert record.image.path.read_bytes() == front_a.files.read(
            image_rel_path(record.image.content_hash)
        )


def test_delete_removes_the_row_then_the_object_and_keeps_shared_content(
    s3, bucket, s3_store, make_generation
):
    local = s3_store.for_owner(LOCAL_OWNER)
    image = sample_image(7)
    first = local.record_generation(make_generation(image=image, seed=1))
    second = local.record_generation(make_generation(image=image, seed=1))
    assert len(objects(s3, bucket, "images")) == 1  # same content, one object
    local.delete(first)
    assert len(objects(s3, bucket, "images")) == 1  # still referenced by the second
    local.delete(second)
    assert objects(s3, bucket, "images") == []
    assert objects(s3, bucket, "thumbnails") == []
    assert local.count() == 0


def test_the_sweep_finishes_dead_writers_intents_and_removes_orphans(
    s3, bucket, gallery_dir, database_url, make_generation
):
    url = f"s3://{bucket}/{PREFIX}"
    with GalleryStore.open(gallery_dir, database_url, images=url) as store:
        kept = store.for_owner(LOCAL_OWNER).record_generation(make_generation())
        kept_sha = store.for_owner(LOCAL_OWNER).get(kept).image.content_hash
    client = s3.client()
    lost, orphan = "a" * 64, "b" * 64  # a dead writer's files without rows; an old orphan
    for sha in (lost, orphan):
        client.put_object(Bucket=bucket, Key=f"{PREFIX}/{image_rel_path(sha)}", Body=b"x")
    dead = {"host": HOSTNAME, "pid": _dead_pid(), "hashes": [lost, kept_sha]}
    client.put_object(
        Bucket=bucket,
        Key=f"{PREFIX}/pending/{HOSTNAME}-{dead['pid']}-0123.json",
        Body=json.dumps(dead).encode(),
    )
    with GalleryStore.open(gallery_dir, database_url, images=url) as store:
        assert store.last_sweep.finished_intents == 1
        assert store.last_sweep.removed_files == (image_rel_path(lost),)
        assert objects(s3, bucket, "pending") == []
        report = store.admin().sweep(full=True, grace_s=0, delete_ours=True)
        assert report.removed_files == (image_rel_path(orphan),)
        assert objects(s3, bucket, "images") == [f"{PREFIX}/{image_rel_path(kept_sha)}"]
        assert store.for_owner(LOCAL_OWNER).count() == 1


def test_a_server_stopped_mid_write_costs_that_write_only(
    tmp_path, database_url, make_generation, monkeypatch
):
    server = MotoServer(tmp_path).start()
    try:
        apply_environment(server, monkeypatch)
        bucket = server.new_bucket()
        url = f"s3://{bucket}/{PREFIX}"
        with GalleryStore.open(tmp_path / "front", database_url, images=url) as store:
            local = store.for_owner(LOCAL_OWNER)
            local.record_generation(make_generation(prompt="before the outage"))
            real_write = store.files.write
            written: list[str] = []

            def write_then_stop_the_server(rel_path: str, data: bytes) -> bool:
                created = real_write(rel_path, data)
                written.append(rel_path)
                server.stop()  # after the image object, before its thumbnail
                return created

            monkeypatch.setattr(store.files, "write", write_then_stop_the_server)
            with pytest.raises(ImageStoreError) as raised:
                local.record_generation(make_generation(prompt="during the outage"))
            message = str(raised.value)
            assert message.startswith(f"Could not read the image store {url} (")
            assert "\n" not in message and "Traceback" not in message
            assert len(written) == 1 and written[0].startswith("images/")
            assert [item.prompt for item in local.search().items] == ["before the outage"]
            monkeypatch.undo()
            apply_environment(server, monkeypatch)

            # The server comes back (empty: moto keeps its state in memory): the app goes on.
            server.start()
            server.client().create_bucket(Bucket=bucket)
            local.record_generation(make_generation(prompt="after the outage"))
            assert local.count() == 2
    finally:
        server.stop()


def test_a_gallery_on_an_unreachable_store_does_not_open(tmp_path, monkeypatch):
    server = MotoServer(tmp_path)  # never started: nothing listens on its port
    apply_environment(server, monkeypatch)
    with pytest.raises(GalleryError) as raised:
        GalleryStore.open(tmp_path / "front", images="s3://nowhere/prefix")
    assert str(raised.value).startswith("Could not open the image store s3://nowhere/prefix (")
    assert "\n" not in str(raised.value)


def test_images_must_name_an_object_store(tmp_path):
    with pytest.raises(GalleryError, match="s3://bucket/prefix"):
        GalleryStore.open(tmp_path / "front", images="ftp://elsewhere")


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
