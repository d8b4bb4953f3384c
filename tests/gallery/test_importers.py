"""Importing a folder of PNGs from several tools into the gallery."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image, PngImagePlugin

from gallery import GalleryError, GalleryQuery, NewGeneration, embed_metadata


def write_png(path, chunks: dict[str, str] | None = None, colour=(10, 20, 30)) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in (chunks or {}).items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, format="PNG", pnginfo=info)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    return out.getvalue()


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "incoming"
    ours = NewGeneration(
        prompt="our fox",
        seed=11,
        steps=8,
        recipe={"version": 1, "subject": "fox"},
        image=Image.new("RGB", (40, 30), (1, 1, 1)),
    )
    (root / "a_ours.png").parent.mkdir(parents=True)
    (root / "a_ours.png").write_bytes(embed_metadata(ours.image, ours))
    write_png(
        root / "b_a1111.PNG",
        {
            "parameters": "a1111 castle\nNegative prompt: fog\nSteps: 20, Sampler: Euler a, "
            "CFG scale: 7, Seed: 5, Size: 40x30, Model: sd15"
        },
        colour=(2, 2, 2),
    )
    write_png(
        root / "sub" / "c_invoke.png",
        {
            "invokeai_metadata": json.dumps(
                {
                    "positive_prompt": "invoke lighthouse",
                    "seed": 9,
                    "steps": 30,
                    "scheduler": "euler",
                }
            )
        },
        colour=(3, 3, 3),
    )
    write_png(
        root / "sub" / "d_comfy.png",
        {
            "prompt": json.dumps(
                {
                    "1": {
                        "class_type": "KSampler",
                        "inputs": {
                            "seed": 2**64 - 1,
                            "steps": 10,
                            "cfg": 5,
                            "sampler_name": "euler",
                            "scheduler": "normal",
                            "positive": ["2", 0],
                            "negative": ["3", 0],
                            "latent_image": ["4", 0],
                            "model": ["5", 0],
                        },
                    },
                    "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "comfy galaxy"}},
                    "3": {"class_type": "CLIPTextEncode", "inputs": {"text": ""}},
                    "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 40, "height": 30}},
                    "5": {
                        "class_type": "CheckpointLoaderSimple",
                        "inputs": {"ckpt_name": "x.ckpt"},
                    },
                }
            )
        },
        colour=(4, 4, 4),
    )
    write_png(root / "e_plain.png", colour=(5, 5, 5))
    (root / "f_broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (root / "g_notes.txt").write_text("not an image")
    return root


def test_import_folder_reads_each_format_and_keeps_the_bytes(local, folder):
    report = local.import_folder(folder)

    assert len(report.imported) == 5
    assert [p.name for p in report.without_metadata] == ["e_plain.png"]
    assert [p.name for p, _ in report.failed] == ["f_broken.png"]
    assert "could not be read" in report.failed[0][1]
    assert report.duplicates == ()

    by_prompt = {local.get(i).prompt: local.get(i) for i in report.imported}
    assert set(by_prompt) == {"our fox", "a1111 castle", "invoke lighthouse", "comfy galaxy", ""}
    ours = by_prompt["our fox"]
    assert ours.source == "import:prompt_atelier"
    assert ours.recipe == {"version": 1, "subject": "fox"}
    assert ours.image.path.read_bytes() == (folder / "a_ours.png").read_bytes()
    castle = by_prompt["a1111 castle"]
    assert (castle.source, castle.negative_prompt, castle.seed) == ("import:a1111", "fog", 5)
    assert (castle.scheduler, castle.model_id, castle.steps) == ("Euler a", "sd15", 20)
    assert castle.provenance["imported_from"] == str(folder / "b_a1111.PNG")
    invoke = by_prompt["invoke lighthouse"]
    assert (invoke.source, invoke.scheduler, invoke.steps) == ("import:invokeai", "Euler", 30)
    comfy = by_prompt["comfy galaxy"]
    assert comfy.source == "import:comfyui"
    assert comfy.seed == 2**64 - 1  # ComfyUI's 64-bit seeds are stored exactly
    assert local.search(GalleryQuery(seed=2**64 - 1)).items[0].id == comfy.id
    assert comfy.provenance["imported_settings"]["seed"] == 2**64 - 1
    assert (comfy.width, comfy.model_id) == (40, "x")
    plain = by_prompt[""]
    assert (plain.source, plain.width, plain.height) == ("import", 40, 30)

    assert [i.prompt for i in local.search(GalleryQuery(text="lighthouse")).items] == [
        "invoke lighthouse"
    ]


def test_importing_again_skips_duplicates(local, folder):
    first = local.import_folder(folder)
    second = local.import_folder(folder)
    assert second.imported == ()
    assert len(second.duplicates) == len(first.imported)
    assert local.count() == 5


def test_import_without_recursion_ignores_subfolders(local, folder):
    report = local.import_folder(folder, recursive=False)
    assert len(report.imported) == 3


def test_import_of_a_missing_folder_is_an_error(local, tmp_path):
    with pytest.raises(GalleryError, match="no folder"):
        local.import_folder(tmp_path / "nowhere")
