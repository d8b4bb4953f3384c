"""Recording generations: rows, files, thumbnails, metadata, tags, batches and validation."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from gallery import GalleryError, NotFoundError, read_metadata
from gallery.files import content_hash
from gallery.metadata import ATELIER_KEY, PARAMETERS_KEY, read_text_chunks


def stored_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for folder in ("images", "thumbnails")
        for p in (root / folder).rglob("*")
        if p.is_file()
    }


def test_record_writes_a_row_an_image_and_a_thumbnail(store, local, make_generation):
    generation_id = local.record_generation(make_generation(seed=42))

    record = local.get(generation_id)
    assert record.seed == 42
    assert record.prompt == "a red fox in the snow"
    assert record.scheduler == "DPM++ 2M Karras"
    assert (record.width, record.height) == (64, 48)  # taken from the image
    assert record.source == "generated"
    assert record.versions == {"prompt_atelier": "0.1.0", "diffusers": "0.42.1"}
    assert record.timings == {"total_s": 1.5}
    assert record.provenance == {"model_source": "hub"}
    assert record.recipe == {
        "version": 1,
        "free_text": "a red fox in the snow",
        "negative": ["blurry"],
    }
    assert record.created_at.tzinfo is not None

    image = record.image
    assert image is not None and image.path.is_file()
    assert image.content_hash == content_hash(image.path.read_bytes())
    sha = image.content_hash
    assert image.path == store.root / "images" / sha[:2] / sha[2:4] / f"{sha}.png"
    assert image.size_bytes == image.path.stat().st_size
    with Image.open(image.thumbnail_path) as thumb:
        assert thumb.format == "WEBP"
        assert max(thumb.size) <= 256


def test_thumbnail_is_at_most_256_pixels_and_keeps_the_aspect(local, make_generation):
    big = Image.new("RGB", (1024, 512), (10, 20, 30))
    record = local.get(local.record_generation(make_generation(image=big)))
    with Image.open(record.image.thumbnail_path) as thumb:
        assert thumb.size == (256, 128)
    assert (record.image.width, record.image.height) == (1024, 512)


def test_recorded_png_carries_a1111_parameters_and_our_json(local, make_generation):
    generation_id = local.record_generation(
        make_generation(seed=7, recipe={"version": 1, "subject": "fox", "styles": ["Cinematic"]})
    )
    path = local.get(generation_id).image.path
    chunks = read_text_chunks(path)
    assert chunks[PARAMETERS_KEY].splitlines() == [
        "a red fox in the snow",
        "Negative prompt: blurry",
        "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 7, "
        "Size: 64x48, Model hash: 6ce0161689, Model: runwayml/stable-diffusion-v1-5, "
        "Version: Prompt Atelier 0.1.0",
    ]
    document = json.loads(chunks[ATELIER_KEY])
    assert document["recipe"] == {"version": 1, "subject": "fox", "styles": ["Cinematic"]}
    assert document["provenance"]["versions"]["diffusers"] == "0.42.1"
    metadata = read_metadata(path)
    assert metadata is not None and metadata.source == "prompt_atelier"
    assert metadata.settings["seed"] == 7


def test_a_batch_shares_one_batch_id_and_keeps_order(local, make_generation):
    ids = local.record_generations([make_generation(seed=s) for s in (5, 6, 7)])
    records = [local.get(i) for i in ids]
    assert [r.seed for r in records] == [5, 6, 7]
    assert len({r.batch_id for r in records}) == 1
    assert ids == sorted(ids)


def test_tags_given_at_record_time_are_normalized(local, make_generation):
    generation_id = local.record_generation(make_generation(tags=("  Snow ", "ANIMALS", "snow")))
    assert local.get(generation_id).tags == ("animals", "snow")
    assert local.tags() == [("animals", 1), ("snow", 1)]


def test_png_bytes_are_stored_exactly_as_given(local, make_generation):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(buffer, format="PNG")
    data = buffer.getvalue()
    record = local.get(local.record_generation(make_generation(png_bytes=data)))
    assert record.image.path.read_bytes() == data
    assert (record.width, record.height) == (32, 32)


def test_same_content_shares_one_file_until_the_last_row_is_deleted(store, local, make_generation):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 9, 9)).save(buffer, format="PNG")
    first = local.record_generation(make_generation(png_bytes=buffer.getvalue()))
    second = local.record_generation(make_generation(png_bytes=buffer.getvalue()))
    path = local.get(first).image.path
    assert local.get(second).image.path == path
    assert len(stored_files(store.root)) == 2  # one image, one thumbnail

    local.delete(first)
    assert path.exists()  # still used by the second generation
    local.delete(second)
    assert not path.exists()
    assert stored_files(store.root) == set()


def test_a_missing_parent_is_refused_and_leaves_nothing_behind(store, local, make_generation):
    with pytest.raises(NotFoundError, match="no parent generation 999"):
        local.record_generation(make_generation(parent_id=999))
    assert local.count() == 0
    assert stored_files(store.root) == set()
    assert list((store.root / "pending").iterdir()) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seed": -1}, "seed must be a whole number"),
        ({"seed": 2**64}, "seed must be a whole number"),
        ({"steps": 0}, "Steps must be a whole number"),
        ({"guidance_scale": float("nan")}, "guidance scale must be a finite number"),
        ({"prompt": None}, "must be text"),
        ({"scheduler": "x" * 65}, "scheduler can be at most 64"),
        ({"tags": ("  ",)}, "tag cannot be empty"),
        ({"image": None}, "exactly one of an image or PNG bytes"),
        ({"png_bytes": b"GIF89a"}, "not a PNG file"),
        ({"recipe": ["not", "a", "dict"]}, "recipe must be a JSON object"),
        ({"settings": {"when": object()}}, "settings cannot be stored as JSON"),
    ],
)
def test_bad_input_is_refused_with_one_sentence(store, local, make_generation, overrides, message):
    with pytest.raises(GalleryError, match=message):
        local.record_generation(make_generation(**overrides))
    assert local.count() == 0
    assert stored_files(store.root) == set()


def test_an_empty_batch_records_nothing(local):
    assert local.record_generations([]) == []


@pytest.mark.parametrize("seed", [0, 2**63 - 1, 2**63, 2**64 - 1])
def test_every_64_bit_seed_round_trips_and_is_found(local, make_generation, seed):
    from gallery import GalleryQuery

    generation_id = local.record_generation(make_generation(seed=seed))
    assert local.get(generation_id).seed == seed
    assert [item.id for item in local.search(GalleryQuery(seed=seed)).items] == [generation_id]
    assert read_metadata(local.get(generation_id).image.path.read_bytes()).settings["seed"] == seed


def test_recording_and_deleting_the_same_content_take_turns(store, local, make_generation):
    """A delete of the old row must not remove the file a new identical recording relies on."""
    import threading

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (4, 5, 6)).save(buffer, format="PNG")
    old = local.record_generation(make_generation(png_bytes=buffer.getvalue()))
    stored, deleted = threading.Event(), threading.Event()
    real_insert = store.records._insert

    def slow_insert(*args, **kwargs):
        stored.set()  # the file is in place, the row not yet
        deleted.wait(timeout=2)  # unserialised, the delete runs to its end in this gap
        return real_insert(*args, **kwargs)

    store.records._insert = slow_insert
    new_ids = []
    recorder = threading.Thread(
        target=lambda: new_ids.extend(
            local.record_generations([make_generation(png_bytes=buffer.getvalue())])
        )
    )
    recorder.start()
    assert stored.wait(timeout=10)
    deleter = threading.Thread(target=lambda: (local.delete(old), deleted.set()))
    deleter.start()
    recorder.join(timeout=30)
    deleter.join(timeout=30)
    store.records._insert = real_insert
    (new,) = new_ids
    assert local.get(new).image.path.is_file()
    assert len(stored_files(store.root)) == 2
