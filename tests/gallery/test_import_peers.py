"""`gallery import` on a folder mixing PNG, JPEG and WebP files from every tool we read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gallery import GalleryQuery
from gallery.image_reader import read_image_metadata
from tests.gallery import peer_fixtures as fx


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "from-peers"
    folder.mkdir()
    files = {
        "a1111.png": fx.png({"parameters": fx.A1111_TEXT}),
        "a1111.jpg": fx.a1111_exif_image("JPEG", fx.A1111_TEXT.replace("dusk", "dawn")),
        "forge.webp": fx.a1111_exif_image("WEBP", fx.FORGE_TEXT.replace("dusk", "noon")),
        "fooocus.png": fx.png(
            {"parameters": json.dumps(fx.FOOOCUS_JSON), "fooocus_scheme": "fooocus"}
        ),
        "fooocus.jpeg": fx.fooocus_exif_image("JPEG", fx.FOOOCUS_A1111_TEXT, "a1111"),
        "comfyui.png": fx.png({"prompt": json.dumps(fx.COMFYUI_PROMPT)}),
        "comfyui.webp": fx.comfyui_webp(),
        "novelai.png": fx.png(fx.NOVELAI_CHUNKS),
        "swarmui.png": fx.png({"parameters": json.dumps(fx.SWARMUI_DOCUMENT)}),
        "invokeai2.png": fx.png({"sd-metadata": json.dumps(fx.INVOKEAI2_SD_METADATA)}),
        "stealth.png": fx.stealth_png(fx.A1111_TEXT.replace("dusk", "midnight")),
        "plain.webp": fx.with_exif("WEBP", fx.Image.Exif()),
        "broken.jpg": b"\xff\xd8\xff not really",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


EXPECTED = {
    # file: (source, prompt start, seed, steps, guidance, width, height, scheduler, model)
    "a1111.png": ("a1111", "a lighthouse at dusk", 1234567890, 28, 6.5, 64, 48,
                  "DPM++ 2M Karras", "my, model"),
    "a1111.jpg": ("a1111", "a lighthouse at dawn", 1234567890, 28, 6.5, 64, 48,
                  "DPM++ 2M Karras", "my, model"),
    "forge.webp": ("forge", "a lighthouse at noon", 1234567890, 28, 6.5, 64, 48,
                   "DPM++ 2M Karras", "my, model"),
    "fooocus.png": ("fooocus", "a red fox in the snow", 2806154612, 30, 4.0, 1152, 896,
                    "DPM++ 2M SDE Karras", "juggernautXL_v8Rundiffusion"),
    "fooocus.jpeg": ("fooocus", "a red fox in the snow", 2806154612, 30, 4.0, 1152, 896,
                     "DPM++ 2M SDE Karras", "juggernautXL_v8Rundiffusion"),
    "comfyui.png": ("comfyui", "glass bottle galaxy", 156680208700286, 20, 8.0, 512, 640,
                    "Euler a", "v1-5"),
    "comfyui.webp": ("comfyui", "glass bottle galaxy", 156680208700286, 20, 8.0, 512, 640,
                     "Euler a", "v1-5"),
    "novelai.png": ("novelai", "1girl, library", 3047293749, 28, 5.0, 832, 1216,
                    "Euler a Karras", "NovelAI Diffusion V3"),
    "swarmui.png": ("swarmui", "a photo of a cat", 1618033988, 24, 6.5, 1024, 768,
                    "DPM++ 2M Karras", "sd_xl_base_1.0"),
    "invokeai2.png": ("invokeai", "a watercolor fox", 3357757885, 50, 7.5, 576, 512,
                      "LMS", "stable-diffusion-1.5"),
    "stealth.png": ("a1111", "a lighthouse at midnight", 1234567890, 28, 6.5, 64, 48,
                    "DPM++ 2M Karras", "my, model"),
}  # fmt: skip


def test_a_mixed_folder_imports_each_file_with_its_fields(local, mixed_folder):
    report = local.import_folder(mixed_folder)
    assert report.formats == {"JPEG": 2, "PNG": 7, "WEBP": 3}
    assert [p.name for p, _ in report.failed] == ["broken.jpg"]
    assert [p.name for p in report.without_metadata] == ["plain.webp"]
    found = {path.name: line for path, line in report.found}
    assert found["fooocus.jpeg"] == "JPEG: Fooocus, EXIF UserComment"
    assert found["plain.webp"] == "WEBP: no settings found"

    by_origin = {}
    for summary in local.search(GalleryQuery(page_size=100)).items:
        record = local.get(summary.id)
        by_origin[Path(record.provenance["imported_from"]).name] = record
    for name, expected in EXPECTED.items():
        record = by_origin[name]
        source, prompt, seed, steps, cfg, width, height, scheduler, model = expected
        seed = seed if seed < 2**63 else None
        actual = (
            record.source,
            record.prompt[: len(prompt)],
            record.seed,
            record.steps,
            record.guidance_scale,
            record.width,
            record.height,
            record.scheduler,
            record.model_id,
        )
        assert actual == ("import:" + source, prompt, seed, steps, cfg, width, height,
                          scheduler, model), name  # fmt: skip
    assert by_origin["a1111.jpg"].settings == {"clip_skip": 2}
    assert by_origin["a1111.jpg"].negative_prompt == "blurry, lowres"
    assert by_origin["novelai.png"].negative_prompt == "lowres, bad anatomy"


def test_a_jpeg_is_stored_as_a_png_that_carries_what_was_read(local, mixed_folder):
    local.import_folder(mixed_folder)
    again = local.import_folder(mixed_folder)
    assert again.imported == () and len(again.duplicates) == 12  # JPEG/WebP too
    for summary in local.search(GalleryQuery(text="dawn")).items:
        (image,) = local.get(summary.id).images
        reading = read_image_metadata(image.path)
        assert reading.format == "PNG" and reading.metadata.source == "prompt_atelier"
        assert reading.metadata.prompt.startswith("a lighthouse at dawn")
        assert reading.metadata.provenance["imported_format"] == "JPEG"


def test_cli_import_prints_one_line_per_file_and_a_count_per_format(tmp_path, mixed_folder, capsys):
    from ui.cli.main import main

    code = main(["--data-dir", str(tmp_path / "data"), "gallery", "import", str(mixed_folder)])
    assert code == 0
    out, err = capsys.readouterr()
    assert "imported 12 (2 JPEG, 7 PNG, 3 WEBP), skipped 0 already in the gallery" in out
    assert f"imported: {mixed_folder / 'novelai.png'}: PNG: NovelAI, Comment" in out
    assert f"imported: {mixed_folder / 'stealth.png'}: PNG: AUTOMATIC1111, stealth pixels" in out
    (failure,) = [line for line in err.splitlines() if line.startswith("failed:")]
    assert failure.startswith(f"failed: {mixed_folder / 'broken.jpg'}: ")


def test_imports_belong_to_the_importing_owner(store, tmp_path):
    folder = tmp_path / "ada"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(fx.a1111_exif_image("JPEG", fx.A1111_TEXT))
    report = store.for_owner("ada").import_folder(folder)
    (new_id,) = report.imported
    assert [item.id for item in store.for_owner("ada").search().items] == [new_id]
    assert store.for_owner("bob").search().items == ()
    # The same file is new to another owner: duplicates are per owner.
    assert len(store.for_owner("bob").import_folder(folder).imported) == 1
