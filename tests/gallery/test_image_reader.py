"""`read_image_metadata` on PNG, JPEG and WebP files as each tool writes them; every field."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from PIL import Image

from gallery.errors import MetadataError
from gallery.image_container import decode_user_comment
from gallery.image_reader import read_image_metadata
from tests.gallery import peer_fixtures as fx

A1111_SETTINGS = {
    "steps": 28,
    "scheduler": "DPM++ 2M Karras",
    "guidance_scale": 6.5,
    "seed": 1234567890,
    "width": 64,
    "height": 48,
    "model_hash": "6ce0161689",
    "model_id": "my, model",
    "clip_skip": 2,
}


def check(reading, source, prompt, negative, settings, fmt):
    assert reading.format == fmt
    assert reading.metadata is not None, reading.summary()
    assert reading.metadata.source == source
    assert reading.metadata.prompt == prompt
    assert reading.metadata.negative_prompt == negative
    assert reading.metadata.settings == settings
    assert reading.metadata.recipe["free_text"] == prompt


def test_a1111_png():
    reading = read_image_metadata(fx.png({"parameters": fx.A1111_TEXT}))
    check(reading, "a1111", "a lighthouse at dusk, (storm clouds:1.2)", "blurry, lowres",
          A1111_SETTINGS, "PNG")  # fmt: skip
    assert reading.summary() == "PNG: AUTOMATIC1111, parameters"


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
@pytest.mark.parametrize("encoding", ["unicode-be", "unicode-le", "ascii"])
def test_a1111_jpeg_and_webp_with_exif_user_comment(fmt, encoding):
    text = fx.A1111_TEXT if encoding == "ascii" else fx.A1111_TEXT.replace("lighthouse", "phare ✨")
    reading = read_image_metadata(fx.a1111_exif_image(fmt, text, encoding=encoding))
    prompt = "a lighthouse at dusk, (storm clouds:1.2)"
    if encoding != "ascii":
        prompt = prompt.replace("lighthouse", "phare ✨")
    check(reading, "a1111", prompt, "blurry, lowres", A1111_SETTINGS, fmt)
    assert reading.metadata.extra["read_from"] == "EXIF UserComment"


def test_a1111_settings_in_a_png_exif_chunk():
    """A PNG whose settings sit only in an `eXIf` chunk (an editor moved them there), as
    Pillow writes the chunk: the UserComment is read as in a JPEG."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = fx.user_comment_unicode(fx.A1111_TEXT)
    data = fx.with_exif("PNG", exif)
    assert b"eXIf" in data and b"tEXt" not in data
    reading = read_image_metadata(data)
    check(reading, "a1111", "a lighthouse at dusk, (storm clouds:1.2)", "blurry, lowres",
          A1111_SETTINGS, "PNG")  # fmt: skip
    assert reading.metadata.extra["read_from"] == "EXIF UserComment"


def test_a_broken_png_exif_chunk_is_a_note_not_an_error():
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = fx.user_comment_unicode(fx.A1111_TEXT)
    data = bytearray(fx.with_exif("PNG", exif))
    start = data.index(b"eXIf") + 4
    (length,) = struct.unpack(">I", data[start - 8 : start - 4])
    data[start : start + 8] = b"XXXXXXXX"  # no TIFF header any more, a valid CRC still
    crc = zlib.crc32(bytes(data[start - 4 : start + length]))
    data[start + length : start + length + 4] = struct.pack(">I", crc)
    reading = read_image_metadata(bytes(data))
    assert reading.metadata is None
    assert reading.notes == ("The EXIF block could not be read and was skipped.",)


def test_user_comment_prefixes_as_piexif_defines_them():
    assert decode_user_comment(b"UNICODE\x00" + "ä,b".encode("utf-16-be")) == "ä,b"
    assert decode_user_comment(b"UNICODE\x00" + "ä,b".encode("utf-16-le")) == "ä,b"
    assert decode_user_comment(b"UNICODE\x00" + "ä".encode("utf-16")) == "ä"  # with a BOM
    assert decode_user_comment(b"ASCII\x00\x00\x00Steps: 1") == "Steps: 1"
    assert decode_user_comment(b"\x00" * 8 + "ü".encode()) == "ü"


def test_forge_is_named_from_its_version():
    reading = read_image_metadata(fx.a1111_exif_image("JPEG", fx.FORGE_TEXT))
    assert reading.metadata.source == "forge"
    assert reading.metadata.settings == A1111_SETTINGS
    assert reading.tool == "Forge"


FOOOCUS_SETTINGS = {
    "seed": 2806154612,
    "steps": 30,
    "guidance_scale": 4.0,
    "width": 1152,
    "height": 896,
    "scheduler": "DPM++ 2M SDE Karras",
    "model_id": "juggernautXL_v8Rundiffusion",
    "model_hash": "aeb7e9e689",
    "clip_skip": 2,
}


def test_fooocus_json_scheme_png():
    data = fx.png({"parameters": json.dumps(fx.FOOOCUS_JSON), "fooocus_scheme": "fooocus"})
    reading = read_image_metadata(data)
    check(reading, "fooocus", "a red fox in the snow", "blurry", FOOOCUS_SETTINGS, "PNG")
    extra = reading.metadata.extra
    assert extra["full_prompt"] == ["a red fox in the snow, cinematic", "highly detailed"]
    assert extra["styles"] == "['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']"
    assert extra["performance"] == "Speed" and extra["version"] == "Fooocus v2.5.5"


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_fooocus_json_scheme_in_exif(fmt):
    reading = read_image_metadata(
        fx.fooocus_exif_image(fmt, json.dumps(fx.FOOOCUS_JSON), "fooocus")
    )
    check(reading, "fooocus", "a red fox in the snow", "blurry", FOOOCUS_SETTINGS, fmt)


def test_fooocusplus_png_keeps_its_labelled_json_in_a_comment_chunk():
    reading = read_image_metadata(fx.fooocus_plus_png())
    check(reading, "fooocus", "a red fox in the snow", "blurry", FOOOCUS_SETTINGS, "PNG")
    assert reading.tool == "Fooocus"  # the PNG names its scheme, not which fork wrote it
    extra = reading.metadata.extra
    assert extra["read_from"] == "Comment" and extra["preset"] == "Default"
    assert extra["full_prompt"] == ["a red fox in the snow, cinematic", "highly detailed"]


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_fooocusplus_jpeg_and_webp_are_named_from_their_software_tag(fmt):
    reading = read_image_metadata(fx.fooocus_plus_exif_image(fmt))
    check(reading, "fooocusplus", "a red fox in the snow", "blurry", FOOOCUS_SETTINGS, fmt)
    assert reading.tool == "FooocusPlus"
    assert reading.metadata.extra["software"].startswith("FooocusPlus 1.0.8")


def test_ruinedfooocus_json_in_parameters():
    reading = read_image_metadata(fx.png({"parameters": json.dumps(fx.RUINED_FOOOCUS_JSON)}))
    settings = {
        "seed": 3864674281,
        "steps": 30,
        "guidance_scale": 8.5,
        "width": 1152,
        "height": 896,
        "scheduler": "DPM++ 2M SDE Karras",
        "model_id": "sd_xl_base_1.0_0.9vae",
        "model_hash": "be9edd61",
    }
    prompt = "cinematic film still a red fox in the snow, shallow depth of field"
    check(reading, "ruined_fooocus", prompt, "anime, cartoon, graphic", settings, "PNG")
    assert reading.tool == "RuinedFooocus"
    assert reading.metadata.extra["loras"] == fx.RUINED_FOOOCUS_JSON["loras"]


@pytest.mark.parametrize("where", ["parameters", "UserComment"])
def test_json_settings_that_name_no_tool_are_read_and_no_tool_is_named(where):
    text = json.dumps(fx.SCRIPT_JSON)
    if where == "parameters":
        data = fx.png({"parameters": text})
    else:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9286] = fx.user_comment_unicode(text)
        data = fx.with_exif("JPEG", exif)
    reading = read_image_metadata(data)
    settings = {
        "steps": 30,
        "guidance_scale": 7.5,
        "seed": 42,
        "width": 1024,
        "height": 1024,
        "scheduler": "Euler a",
    }
    fmt = "PNG" if where == "parameters" else "JPEG"
    check(reading, "json_settings", "a lighthouse at dusk", "blurry", settings, fmt)
    assert reading.tool == "an unnamed tool (JSON settings)"
    assert "Easy Diffusion" not in reading.summary()


def test_a_comment_without_settings_is_no_settings_found():
    """A screenshot's UserComment ("Screenshot") is not an A1111 prompt."""
    reading = read_image_metadata(fx.screenshot_jpeg())
    assert reading.metadata is None
    assert reading.summary() == "JPEG: no settings found"
    # with A1111's settings line the same field is an infotext, as A1111 writes it
    with_settings = read_image_metadata(
        fx.a1111_exif_image("JPEG", fx.A1111_TEXT, encoding="ascii")
    )
    assert with_settings.metadata.source == "a1111"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_fooocus_a1111_scheme_keeps_the_typed_prompt_and_the_full_one(fmt):
    if fmt == "PNG":
        data = fx.png({"parameters": fx.FOOOCUS_A1111_TEXT, "fooocus_scheme": "a1111"})
    else:
        data = fx.fooocus_exif_image(fmt, fx.FOOOCUS_A1111_TEXT, "a1111")
    reading = read_image_metadata(data)
    settings = {
        "steps": 30,
        "scheduler": "DPM++ 2M SDE Karras",
        "seed": 2806154612,
        "width": 1152,
        "height": 896,
        "guidance_scale": 4.0,
        "model_id": "juggernautXL_v8Rundiffusion",
        "model_hash": "aeb7e9e689",
    }
    check(reading, "fooocus", "a red fox in the snow", "blurry", settings, fmt)
    extra = reading.metadata.extra
    assert extra["Full prompt"] == "a red fox in the snow, cinematic, highly detailed"
    assert extra["Full negative prompt"] == "(worst quality, low quality:1.4), blurry"
    assert extra["ADM Guidance"] == "(1.5, 0.8, 0.3)" and extra["Sharpness"] == "2.0"


def test_comfyui_png_trims_prompts_and_reads_clip_skip():
    data = fx.png(
        {"prompt": json.dumps(fx.COMFYUI_PROMPT), "workflow": json.dumps(fx.COMFYUI_WORKFLOW)}
    )
    reading = read_image_metadata(data)
    settings = {
        "seed": 156680208700286,
        "steps": 20,
        "guidance_scale": 8.0,
        "scheduler": "Euler a",
        "width": 512,
        "height": 640,
        "model_id": "v1-5",
        "clip_skip": 2,
    }
    check(reading, "comfyui", "glass bottle galaxy", "text, watermark", settings, "PNG")
    assert reading.metadata.extra["workflow_nodes"] == 8


def test_comfyui_webp_keeps_the_graph_in_exif():
    reading = read_image_metadata(fx.comfyui_webp())
    assert reading.format == "WEBP" and reading.metadata.source == "comfyui"
    assert reading.metadata.prompt == "glass bottle galaxy"
    assert reading.metadata.extra["workflow_nodes"] == 8


def test_novelai_png():
    reading = read_image_metadata(fx.png(fx.NOVELAI_CHUNKS))
    settings = {
        "seed": 3047293749,
        "steps": 28,
        "guidance_scale": 5.0,
        "width": 832,
        "height": 1216,
        "scheduler": "Euler a Karras",
        "model_id": "NovelAI Diffusion V3",
        "model_hash": "7BCCAA2C",
    }
    check(reading, "novelai", "1girl, library, night, masterpiece", "lowres, bad anatomy",
          settings, "PNG")  # fmt: skip
    assert reading.metadata.extra["cfg_rescale"] == 0.0


def test_novelai_v4_base_captions_and_character_prompts():
    """NovelAI V4/4.5 keeps the prompts in `v4_prompt` / `v4_negative_prompt` objects; the
    base captions are the prompts when `prompt` / `uc` are absent, and the character
    prompts are kept, in order, beside them."""
    v4 = {
        "caption": {
            "base_caption": "2girls, park, spring",
            "char_captions": [
                {"char_caption": "girl, red hair", "centers": [{"x": 0.3, "y": 0.5}]},
                {"char_caption": "girl, blue hair", "centers": [{"x": 0.7, "y": 0.5}]},
            ],
        },
        "use_coords": True,
        "use_order": True,
    }
    negative = {"caption": {"base_caption": "lowres", "char_captions": []}, "legacy_uc": False}
    comment = {"steps": 23, "scale": 5.0, "seed": 7, "width": 832, "height": 1216,
               "sampler": "k_euler_ancestral",
               "v4_prompt": v4, "v4_negative_prompt": negative}  # fmt: skip
    chunks = {**fx.NOVELAI_CHUNKS, "Comment": json.dumps(comment), "Description": "other"}
    reading = read_image_metadata(fx.png(chunks))
    assert reading.metadata.prompt == "2girls, park, spring"
    assert reading.metadata.negative_prompt == "lowres"
    assert reading.metadata.extra["characters"] == ["girl, red hair", "girl, blue hair"]
    with_prompt = {**comment, "prompt": "typed prompt", "uc": "typed negative"}
    chunks["Comment"] = json.dumps(with_prompt)
    reading = read_image_metadata(fx.png(chunks))
    assert reading.metadata.prompt == "typed prompt"
    assert reading.metadata.negative_prompt == "typed negative"


def test_swarmui_png_and_jpeg():
    settings = {
        "seed": 1618033988,
        "steps": 24,
        "guidance_scale": 6.5,
        "width": 1024,
        "height": 768,
        "scheduler": "DPM++ 2M Karras",
        "model_id": "sd_xl_base_1.0",
        "clip_skip": 2,
    }
    text = json.dumps(fx.SWARMUI_DOCUMENT)
    for data, fmt in (
        (fx.png({"parameters": text}), "PNG"),
        (fx.a1111_exif_image("JPEG", text), "JPEG"),
    ):
        reading = read_image_metadata(data)
        check(reading, "swarmui", "a photo of a cat on a windowsill", "dog", settings, fmt)
        assert reading.metadata.extra["swarm_version"] == "0.9.3.1"


def test_invokeai_2_sd_metadata_and_dream():
    settings = {
        "seed": 3357757885,
        "steps": 50,
        "guidance_scale": 7.5,
        "width": 576,
        "height": 512,
        "scheduler": "LMS",
    }
    both = fx.png(
        {"Dream": fx.INVOKEAI2_DREAM, "sd-metadata": json.dumps(fx.INVOKEAI2_SD_METADATA)}
    )
    reading = read_image_metadata(both)
    check(reading, "invokeai", "a watercolor fox", "blurry, text",
          {**settings, "model_id": "stable-diffusion-1.5",
           "model_hash": fx.INVOKEAI2_SD_METADATA["model_hash"]}, "PNG")  # fmt: skip
    assert reading.metadata.extra["app_version"] == "2.2.5"
    dream_only = read_image_metadata(fx.png({"Dream": fx.INVOKEAI2_DREAM}))
    check(dream_only, "invokeai", "a watercolor fox", "blurry, text", settings, "PNG")


def test_easy_diffusion_png_chunks():
    reading = read_image_metadata(fx.png(fx.EASY_DIFFUSION_CHUNKS))
    settings = {
        "seed": 42424242,
        "steps": 25,
        "guidance_scale": 7.5,
        "width": 512,
        "height": 768,
        "scheduler": "Euler a",
        "model_id": "sd-v1-5",
    }
    check(reading, "easy_diffusion", "a cozy cabin in the woods", "people", settings, "PNG")


def test_draw_things_xmp_in_png():
    reading = read_image_metadata(fx.png({"XML:com.adobe.xmp": fx.draw_things_xmp()}, itxt=True))
    settings = {
        "seed": 2519398721,
        "steps": 30,
        "guidance_scale": 5.5,
        "width": 1024,
        "height": 768,
        "scheduler": "DPM++ 2M Karras",
        "model_id": "sd_xl_base_1.0_f16",
    }
    check(
        reading, "draw_things", "an astronaut riding a horse & a dog", "ugly <bad>", settings, "PNG"
    )


@pytest.mark.parametrize("mode", ["alpha", "rgb"])
@pytest.mark.parametrize("compressed", [True, False])
def test_a1111_stealth_info(mode, compressed):
    reading = read_image_metadata(fx.stealth_png(fx.A1111_TEXT, mode=mode, compressed=compressed))
    check(reading, "a1111", "a lighthouse at dusk, (storm clouds:1.2)", "blurry, lowres",
          A1111_SETTINGS, "PNG")  # fmt: skip
    assert reading.metadata.extra["read_from"] == "stealth pixels"


def test_novelai_stealth_alpha_holds_its_chunks_as_json():
    hidden = json.dumps(fx.NOVELAI_CHUNKS)
    reading = read_image_metadata(fx.stealth_png(hidden, size=(96, 96)))
    assert reading.metadata.source == "novelai"
    assert reading.metadata.negative_prompt == "lowres, bad anatomy"
    assert reading.metadata.settings["seed"] == 3047293749


def test_no_settings_found_is_said_plainly():
    for data in (
        fx.png({}),
        fx.png({"parameters": json.dumps({"odd": 1})}),
        fx.with_exif("JPEG", Image.Exif()),
    ):
        reading = read_image_metadata(data)
        assert reading.metadata is None
        assert reading.summary().endswith("no settings found")


def test_not_an_image_is_one_sentence(tmp_path):
    for data in (b"GIF89a....", b"hello", b"\x89PNG\r\n\x1a\n"):
        with pytest.raises(MetadataError) as caught:
            read_image_metadata(data)
        assert "\n" not in str(caught.value) and str(caught.value).endswith(".")
    with pytest.raises(MetadataError, match="does not exist"):
        read_image_metadata(tmp_path / "missing.png")


def test_invokeai_3_metadata_with_its_model_object_and_clip_skip():
    document = {
        "generation_mode": "txt2img",
        "positive_prompt": "a koi pond, ukiyo-e",
        "negative_prompt": "photo",
        "width": 512,
        "height": 768,
        "seed": 1234,
        "rand_device": "cpu",
        "cfg_scale": 7.5,
        "steps": 25,
        "scheduler": "dpmpp_2m_sde_k",
        "clip_skip": 1,
        "model": {
            "model_name": "stable-diffusion-v1-5",
            "base_model": "sd-1",
            "model_type": "main",
        },
        "app_version": "3.4.0",
    }
    reading = read_image_metadata(fx.png({"invokeai_metadata": json.dumps(document)}))
    settings = {
        "seed": 1234,
        "steps": 25,
        "guidance_scale": 7.5,
        "width": 512,
        "height": 768,
        "scheduler": "DPM++ 2M SDE Karras",
        "model_id": "stable-diffusion-v1-5",
        "clip_skip": 2,
    }
    check(reading, "invokeai", "a koi pond, ukiyo-e", "photo", settings, "PNG")
    assert reading.metadata.extra["app_version"] == "3.4.0"
