"""The glue that records an engine result (`ui.recording`) and the `gallery` CLI command."""

from __future__ import annotations

import json
import os
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gallery import GalleryError, GalleryQuery, GalleryStore, read_metadata
from gallery.files import image_rel_path
from gallery.metadata import read_text_chunks
from gallery.owners import LOCAL_OWNER
from ui.recording import png_bytes_with_metadata, record_result


@dataclass(frozen=True)
class FakeRequest:
    """The fields of `engine.request.GenerationRequest` (seed resolved)."""

    prompt: str
    negative_prompt: str = ""
    seed: int | None = 1000
    steps: int = 20
    guidance_scale: float = 7.0
    width: int = 64
    height: int = 64
    num_images: int = 2
    scheduler: str = "Euler a"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FakeResult:
    """The attributes of `engine.result.GenerationResult`."""

    images: list[Image.Image]
    seeds: list[int]
    prompts: list[str]
    negative_prompts: list[str]
    request: FakeRequest
    provenance: dict[str, Any] = field(default_factory=dict)


def fake_result() -> FakeResult:
    request = FakeRequest(
        prompt="a (red:1.2) fox, {day|night}", negative_prompt="blurry", scheduler="DPM++ 2M Karras"
    )
    return FakeResult(
        images=[
            Image.new("RGB", (64, 64), (200, 10, 10)),
            Image.new("RGB", (64, 64), (10, 10, 200)),
        ],
        seeds=[1000, 1001],
        prompts=["a (red:1.2) fox, day", "a (red:1.2) fox, night"],
        negative_prompts=["blurry", "blurry"],
        request=request,
        provenance={
            "model_id": "runwayml/stable-diffusion-v1-5",
            "model_source": "hub",
            "model_revision": "main",
            "model_hash": "6ce0161689",
            "is_demo": False,
            "pipeline_class": "StableDiffusionPipeline",
            "scheduler": "DPM++ 2M Karras",
            "scheduler_class": "DPMSolverMultistepScheduler",
            "scheduler_config": {"use_karras_sigmas": True, "algorithm_type": "dpmsolver++"},
            "dtype": "float32",
            "device": "cpu",
            "versions": {
                "python": "3.11.7",
                "torch": "2.13.0",
                "diffusers": "0.42.1",
                "transformers": "5.23",
                "prompt_atelier": "0.1.0",
            },
            "timings": {"load_s": 0.5, "denoise_s": 3.25, "total_s": 4.0},
            "notes": [],
        },
    )


def test_record_result_stores_one_generation_per_image(store):
    result = fake_result()
    recipe = {"version": 1, "subject": "a fox", "colour": ["(red:1.2)"], "free_text": "{day|night}"}
    ids = record_result(store.for_owner("ada"), result, recipe=recipe, tags=["fox"])

    first, second = (store.for_owner("ada").get(i) for i in ids)
    assert (first.prompt, second.prompt) == tuple(result.prompts)
    assert (first.seed, second.seed) == (1000, 1001)
    assert first.batch_id == second.batch_id
    assert first.recipe == recipe
    assert (first.steps, first.guidance_scale, first.width, first.height) == (20, 7.0, 64, 64)
    assert first.scheduler == "DPM++ 2M Karras"
    assert (first.model_id, first.model_revision, first.model_hash) == (
        "runwayml/stable-diffusion-v1-5",
        "main",
        "6ce0161689",
    )
    assert first.versions["diffusers"] == "0.42.1"
    assert first.timings["denoise_s"] == 3.25
    assert first.provenance["scheduler_config"]["use_karras_sigmas"] is True
    assert first.settings["num_images"] == 2 and second.settings["image_index"] == 1
    assert first.user_id == "ada" and first.tags == ("fox",)

    metadata = read_metadata(second.image.path)
    assert metadata.source == "prompt_atelier"
    assert metadata.settings["seed"] == 1001
    assert metadata.recipe == recipe
    assert "Seed: 1001" in read_text_chunks(second.image.path)["parameters"]


def test_the_output_png_and_the_gallery_png_are_the_same_bytes(local):
    result = fake_result()
    (first_id, _) = record_result(local, result)
    assert local.get(first_id).image.path.read_bytes() == png_bytes_with_metadata(result, 0)


def test_record_result_links_the_parent_and_accepts_a_recipe_object(local):
    from prompts.recipe import Recipe

    parent = record_result(local, fake_result())[0]
    child_ids = record_result(local, fake_result(), recipe=Recipe(subject="fox"), parent_id=parent)
    assert [g.id for g in local.lineage(parent).descendants] == child_ids
    assert local.get(child_ids[0]).recipe["subject"] == "fox"
    with pytest.raises(GalleryError, match="recipe must be a dict"):
        record_result(local, fake_result(), recipe=["fox"])


# --- the CLI ------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    with GalleryStore.open(folder / "gallery") as store:
        local = store.for_owner(LOCAL_OWNER)
        ids = record_result(local, fake_result(), tags=["fox"])
        local.set_rating(ids[1], 5)
        local.set_favourite(ids[1])
        other = fake_result()
        other.prompts = ["a castle at dusk", "a castle at dawn"]
        other.provenance["model_id"] = "other/model"
        record_result(local, other)
    return folder


def cli(data_dir: Path, *argv: str) -> int:
    from ui.cli.main import main

    return main(["--data-dir", str(data_dir), "gallery", *argv])


def test_cli_search_lists_matches_newest_first(data_dir, capsys):
    assert cli(data_dir, "search", "fox") == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("#2  ") and "seed 1001" in lines[0]
    assert "rated 5" in lines[0] and "favourite" in lines[0]
    assert lines[0].endswith("a (red:1.2) fox, night")
    assert "2 shown of 2 matching" in err


def test_cli_search_filters_and_json(data_dir, capsys):
    assert cli(data_dir, "search", "--model", "other/model", "--json") == 0
    found = json.loads(capsys.readouterr().out)
    assert [item["prompt"] for item in found] == ["a castle at dawn", "a castle at dusk"]
    assert found[0]["thumbnail_path"].endswith(".webp")

    for flags, expected in [
        (["--tag", "fox"], 2),
        (["--min-rating", "4"], 1),
        (["--favourite"], 1),
        (["--seed", "1000"], 2),
        (["--limit", "3"], 3),
        (["dragon"], 0),
    ]:
        assert cli(data_dir, "search", *flags, "--json") == 0
        assert len(json.loads(capsys.readouterr().out)) == expected, flags


def test_cli_show_export_delete(data_dir, tmp_path, capsys):
    assert cli(data_dir, "show", "2") == 0
    out = capsys.readouterr().out
    assert "prompt:          a (red:1.2) fox, night" in out
    assert "scheduler:       DPM++ 2M Karras" in out

    target = tmp_path / "out.zip"
    assert cli(data_dir, "export", "1", "2", "--out", str(target)) == 0
    with zipfile.ZipFile(target) as archive:
        assert "settings.csv" in archive.namelist()
    capsys.readouterr()

    assert cli(data_dir, "delete", "1") == 0
    assert "deleted 1" in capsys.readouterr().out
    with GalleryStore.open(data_dir / "gallery") as store:
        assert store.for_owner(LOCAL_OWNER).count() == 3


def test_cli_import_a_folder(data_dir, tmp_path, capsys):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "mine.png").write_bytes(png_bytes_with_metadata(fake_result(), 0))
    assert cli(data_dir, "import", str(incoming)) == 0
    assert "imported 0, skipped 1 already in the gallery" in capsys.readouterr().out

    result = fake_result()
    result.images[0] = Image.new("RGB", (64, 64), (1, 2, 3))
    (incoming / "new.png").write_bytes(png_bytes_with_metadata(result, 0))
    assert cli(data_dir, "import", str(incoming)) == 0
    assert "imported 1" in capsys.readouterr().out
    with GalleryStore.open(data_dir / "gallery") as store:
        assert store.for_owner(LOCAL_OWNER).count(GalleryQuery(text="day")) == 2


def test_cli_errors_are_one_line(data_dir, capsys):
    assert cli(data_dir, "show", "999") == 2
    assert capsys.readouterr().err.strip() == "error: There is no generation 999."
    assert cli(data_dir, "import", str(data_dir / "missing")) == 2
    assert "error: There is no folder or file at" in capsys.readouterr().err
    assert cli(data_dir, "export", "1", "--out", str(data_dir / "x.txt")) == 2
    assert "must end in .zip" in capsys.readouterr().err


def test_cli_check_reports_missing_files(data_dir, capsys):
    with GalleryStore.open(data_dir / "gallery") as store:
        store.for_owner(LOCAL_OWNER).get(1).image.path.unlink()
    assert cli(data_dir, "check") == 0
    captured = capsys.readouterr()
    assert "1 image(s) missing on disk" in captured.out
    assert "missing: image 1" in captured.err


def test_cli_check_keeps_our_unrecorded_images_and_deletes_foreign_ones(data_dir, capsys):
    """Files older than the sweep's grace period, as a real gallery has them: ours (our
    metadata chunk) are kept and reported unless --delete-ours; a stranger's file goes."""
    gallery = data_dir / "gallery"
    with GalleryStore.open(gallery) as store:
        ours = store.for_owner(LOCAL_OWNER).get(1).image
        with store.engine.begin() as connection:  # lose the row, keep the file
            connection.exec_driver_sql("DELETE FROM generations WHERE id = 1")
        foreign = store.files.absolute(image_rel_path("f" * 64))
        foreign.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), "green").save(foreign)  # a PNG without our chunk
    hour_ago = time.time() - 3600
    for path in (ours.path, ours.thumbnail_path, foreign):
        os.utime(path, (hour_ago, hour_ago))

    assert cli(data_dir, "check") == 0
    captured = capsys.readouterr()
    assert ours.path.is_file() and not foreign.exists()
    assert "removed 1 orphan file(s)" in captured.out
    assert "kept 1 unrecorded image(s) made by this app" in captured.err

    assert cli(data_dir, "check", "--delete-ours") == 0
    assert not ours.path.exists()
    assert "removed 2 orphan file(s)" in capsys.readouterr().out  # its image and thumbnail
