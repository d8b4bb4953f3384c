"""JPEG and WebP copies carry our A1111 text the way A1111 writes it, so A1111 reads it back."""

from __future__ import annotations

import io
import re
import zipfile

import piexif
import piexif.helper
import pytest
from PIL import Image
from sd_parsers import ParserManager

from gallery import GalleryError, NewGeneration
from gallery.image_reader import read_image_metadata
from gallery.metadata import infotext_for
from gallery.peer_copies import encode_with_infotext, peer_copy

# A1111's pattern (modules/infotext_utils.py), the reference for what it reads.
A1111_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def a1111_reads(data: bytes) -> str:
    """A1111's `read_info_from_image` for a JPEG/WebP, as written in modules/images.py."""
    with Image.open(io.BytesIO(data)) as image:
        items = (image.info or {}).copy()
    exif = piexif.load(items["exif"])
    exif_comment = (exif or {}).get("Exif", {}).get(piexif.ExifIFD.UserComment, b"")
    try:
        exif_comment = piexif.helper.UserComment.load(exif_comment)
    except ValueError:
        exif_comment = exif_comment.decode("utf8", errors="ignore")
    return exif_comment


def a1111_parameters(text: str) -> dict[str, str]:
    last = text.strip().split("\n")[-1]
    return {k: v for k, v in A1111_PARAM.findall(last)}


GENERATION = NewGeneration(
    prompt="a fox, (snow:1.2), ünïcode 狐",
    negative_prompt="blurry, lowres",
    seed=4242,
    steps=12,
    guidance_scale=6.5,
    width=48,
    height=32,
    scheduler="DPM++ 2M Karras",
    model_id="demo, model",
    settings={"clip_skip": 2},
    image=Image.new("RGBA", (48, 32), (200, 100, 50, 128)),
)


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_a1111_reads_every_field_of_our_jpeg_and_webp(fmt):
    infotext = infotext_for(GENERATION)
    data = encode_with_infotext(GENERATION.image, infotext, fmt)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == fmt.upper() and image.mode == "RGB" and image.size == (48, 32)
    read = a1111_reads(data)
    assert read == infotext
    lines = read.split("\n")
    assert lines[0] == GENERATION.prompt and lines[1] == "Negative prompt: blurry, lowres"
    assert a1111_parameters(read) == {
        "Steps": "12",
        "Sampler": "DPM++ 2M",
        "Schedule type": "Karras",
        "CFG scale": "6.5",
        "Seed": "4242",
        "Size": "48x32",
        "Model": '"demo, model"',
        "Clip skip": "2",
    }
    ours = read_image_metadata(data).metadata
    assert ours.prompt == GENERATION.prompt and ours.negative_prompt == "blurry, lowres"
    assert ours.settings == {
        "steps": 12,
        "scheduler": "DPM++ 2M Karras",
        "guidance_scale": 6.5,
        "seed": 4242,
        "width": 48,
        "height": 32,
        "model_id": "demo, model",
        "clip_skip": 2,
    }


def test_a_stored_png_becomes_a_peer_copy_with_its_own_parameters(local):
    (gid,) = local.record_generations([GENERATION])
    (image,) = local.get(gid).images
    data = peer_copy(image.path.read_bytes(), "jpeg")
    assert a1111_reads(data) == infotext_for(GENERATION)
    with pytest.raises(GalleryError, match="JPEG or WebP, not 'gif'"):
        peer_copy(image.path.read_bytes(), "gif")


@pytest.mark.parametrize(("fmt", "suffix"), [("jpeg", ".jpg"), ("webp", ".webp"), ("png", ".png")])
def test_export_zip_writes_the_chosen_format(local, tmp_path, fmt, suffix):
    (gid,) = local.record_generations([GENERATION])
    out = local.export_zip([gid], tmp_path / "out.zip", image_format=fmt)
    with zipfile.ZipFile(out) as archive:
        (name,) = [n for n in archive.namelist() if n.startswith("images/")]
        assert name.endswith(suffix)
        data = archive.read(name)
        assert name in archive.read("settings.csv").decode()
    if fmt != "png":
        assert a1111_reads(data) == infotext_for(GENERATION)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_sd_parsers_reads_every_field_of_ours(fmt):
    generation = NewGeneration(
        prompt="a fox, (snow:1.2)",
        negative_prompt="blurry, lowres",
        seed=4242,
        steps=12,
        guidance_scale=6.5,
        width=48,
        height=32,
        scheduler="DPM++ 2M Karras",
        model_id="demo-model",
        model_hash="abcdef0123",
        settings={"clip_skip": 2},
        image=Image.new("RGB", (48, 32)),
    )
    if fmt == "png":
        from gallery.metadata import embed_metadata

        data = embed_metadata(generation.image, generation)
    else:
        data = encode_with_infotext(generation.image, infotext_for(generation), fmt)
    info = ParserManager().parse(io.BytesIO(data))
    assert info is not None and info.generator.name == "AUTOMATIC1111"
    (sampler,) = info.samplers
    assert sampler.name == "DPM++ 2M"
    assert sampler.parameters == {
        "scheduler": "Karras",
        "cfg_scale": "6.5",
        "seed": "4242",
        "steps": "12",
    }
    assert [p.value for p in sampler.prompts] == ["a fox, (snow:1.2)"]
    assert [p.value for p in sampler.negative_prompts] == ["blurry, lowres"]
    assert (sampler.model.name, sampler.model.hash) == ("demo-model", "abcdef0123")
    assert info.metadata == {"Size": "48x32", "Clip skip": "2"}
