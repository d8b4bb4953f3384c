"""PNG metadata: our files round-trip; A1111, InvokeAI and ComfyUI files read into a recipe."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image, PngImagePlugin

from gallery import MetadataError, NewGeneration, embed_metadata, read_metadata
from gallery.metadata import infotext_for, read_text_chunks


def png_with(chunks: dict[str, str], size: tuple[int, int] = (32, 24)) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", size, (40, 80, 120)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


INVOKEAI_METADATA = {
    "generation_mode": "txt2img",
    "positive_prompt": "a lighthouse on a cliff, stormy sea",
    "negative_prompt": "blurry, text",
    "width": 768,
    "height": 512,
    "seed": 3141592653,
    "rand_device": "cpu",
    "cfg_scale": 6.5,
    "cfg_rescale_multiplier": 0,
    "steps": 30,
    "scheduler": "dpmpp_2m_k",
    "clip_skip": 0,
    "model": {
        "key": "7c9a1d0e-0000-4000-8000-000000000000",
        "hash": "blake3:ab12cd34",
        "name": "Juggernaut XL",
        "base": "sdxl",
        "type": "main",
    },
    "app_version": "5.4.2",
}

# The API graph ComfyUI writes to the `prompt` chunk for its default workflow, with a LoRA.
COMFYUI_PROMPT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 156680208700286,
            "steps": 20,
            "cfg": 8,
            "sampler_name": "dpmpp_2m",
            "scheduler": "karras",
            "denoise": 1,
            "model": ["10", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": "SD1.5/v1-5-pruned-emaonly.safetensors"},
    },
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": 512, "height": 640, "batch_size": 1},
    },
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "beautiful scenery, purple galaxy bottle", "clip": ["10", 1]},
    },
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["10", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "10": {
        "class_type": "LoraLoader",
        "inputs": {
            "lora_name": "detail.safetensors",
            "strength_model": 0.8,
            "strength_clip": 0.8,
            "model": ["4", 0],
            "clip": ["4", 1],
        },
    },
}


def test_our_png_round_trips_recipe_settings_and_provenance():
    generation = NewGeneration(
        prompt="a fox, (snow:1.2)\nBREAK night sky",
        negative_prompt="blurry, lowres",
        seed=987654321,
        steps=25,
        guidance_scale=5.5,
        width=64,
        height=48,
        scheduler="DPM++ 2M Karras",
        model_id="stabilityai/sd-turbo",
        model_revision="main",
        model_hash="abcdef0123",
        recipe={"version": 1, "subject": "a fox", "styles": ["Cinematic"], "lighting": ["dusk"]},
        settings={"num_images": 4, "clip_skip": 2},
        provenance={"model_source": "hub", "versions": {"torch": "2.13"}, "timings": {"s": 1.0}},
        image=Image.new("RGB", (64, 48)),
    )
    metadata = read_metadata(embed_metadata(generation.image, generation))
    assert metadata is not None
    assert metadata.source == "prompt_atelier"
    assert metadata.prompt == generation.prompt
    assert metadata.negative_prompt == generation.negative_prompt
    assert metadata.recipe == generation.recipe
    assert metadata.settings == {
        "seed": 987654321,
        "steps": 25,
        "guidance_scale": 5.5,
        "width": 64,
        "height": 48,
        "scheduler": "DPM++ 2M Karras",
        "model_id": "stabilityai/sd-turbo",
        "model_revision": "main",
        "model_hash": "abcdef0123",
    }
    # Timings differ run to run: kept in the database, left out of the file.
    assert metadata.provenance == {"model_source": "hub", "versions": {"torch": "2.13"}}
    assert metadata.extra == {"settings": {"num_images": 4, "clip_skip": 2}}


def test_our_png_is_also_readable_as_a1111_infotext():
    generation = NewGeneration(
        prompt="ünïcode fox 狐",
        negative_prompt="",
        seed=1,
        steps=4,
        guidance_scale=1.0,
        width=8,
        height=8,
        scheduler="LCM",
        model_id="demo",
        image=Image.new("RGB", (8, 8)),
    )
    chunks = read_text_chunks(embed_metadata(generation.image, generation))
    assert chunks["parameters"] == infotext_for(generation)
    assert "Negative prompt" not in chunks["parameters"]
    # What an A1111-only reader sees:
    metadata = read_metadata(png_with({"parameters": chunks["parameters"]}))
    assert metadata.source == "a1111"
    assert metadata.prompt == "ünïcode fox 狐"
    assert metadata.settings["scheduler"] == "LCM"


def test_a1111_png():
    text = (
        "a castle\nNegative prompt: fog\n"
        "Steps: 12, Sampler: Euler a, Schedule type: Automatic, CFG scale: 4, Seed: 77, "
        'Size: 32x24, Model: "x, y"'
    )
    metadata = read_metadata(png_with({"parameters": text}))
    assert metadata.source == "a1111"
    assert (metadata.prompt, metadata.negative_prompt) == ("a castle", "fog")
    assert metadata.settings["scheduler"] == "Euler a"
    assert metadata.settings["model_id"] == "x, y"


def test_invokeai_png():
    metadata = read_metadata(png_with({"invokeai_metadata": json.dumps(INVOKEAI_METADATA)}))
    assert metadata is not None and metadata.source == "invokeai"
    assert metadata.prompt == "a lighthouse on a cliff, stormy sea"
    assert metadata.negative_prompt == "blurry, text"
    assert metadata.settings == {
        "seed": 3141592653,
        "steps": 30,
        "guidance_scale": 6.5,
        "width": 768,
        "height": 512,
        "scheduler": "DPM++ 2M Karras",
        "model_id": "Juggernaut XL",
        "model_hash": "blake3:ab12cd34",
    }
    assert metadata.extra["app_version"] == "5.4.2"
    assert metadata.recipe["free_text"] == "a lighthouse on a cliff, stormy sea"


def test_comfyui_png_follows_links_through_a_lora_loader():
    chunks = {"prompt": json.dumps(COMFYUI_PROMPT), "workflow": json.dumps({"nodes": []})}
    metadata = read_metadata(png_with(chunks))
    assert metadata is not None and metadata.source == "comfyui"
    assert metadata.prompt == "beautiful scenery, purple galaxy bottle"
    assert metadata.negative_prompt == "text, watermark"
    assert metadata.settings == {
        "seed": 156680208700286,
        "steps": 20,
        "guidance_scale": 8.0,
        "scheduler": "DPM++ 2M Karras",
        "width": 512,
        "height": 640,
        "model_id": "v1-5-pruned-emaonly",
    }
    assert metadata.recipe == {
        "version": 1,
        "free_text": "beautiful scenery, purple galaxy bottle",
        "negative": ["text, watermark"],
    }


def test_comfyui_text_behind_a_combine_node():
    graph = json.loads(json.dumps(COMFYUI_PROMPT))
    graph["11"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "stars", "clip": ["4", 1]}}
    graph["12"] = {
        "class_type": "ConditioningCombine",
        "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["11", 0]},
    }
    graph["3"]["inputs"]["positive"] = ["12", 0]
    metadata = read_metadata(png_with({"prompt": json.dumps(graph)}))
    assert metadata.prompt == "beautiful scenery, purple galaxy bottle, stars"


def test_unknown_or_broken_metadata_gives_none():
    assert read_metadata(png_with({})) is None
    assert read_metadata(png_with({"prompt": "{not json"})) is None
    assert (
        read_metadata(png_with({"prompt": json.dumps({"1": {"class_type": "SaveImage"}})})) is None
    )
    assert read_metadata(png_with({"invokeai_metadata": json.dumps(["odd"])})) is None


def test_our_chunk_wins_over_a_foreign_parameters_chunk():
    generation = NewGeneration(prompt="ours", seed=1, image=Image.new("RGB", (4, 4)))
    chunks = read_text_chunks(embed_metadata(generation.image, generation))
    chunks["parameters"] = "theirs\nSteps: 1, Sampler: Euler, CFG scale: 1, Seed: 2"
    assert read_metadata(png_with(chunks)).prompt == "ours"


def test_other_image_formats_are_a_metadata_error_and_plain_jpegs_have_no_settings(tmp_path):
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    with pytest.raises(MetadataError, match="not a PNG, JPEG or WebP"):
        read_metadata(gif.getvalue())
    jpeg = io.BytesIO()
    Image.new("RGB", (4, 4)).save(jpeg, format="JPEG")
    assert read_metadata(jpeg.getvalue()) is None
    with pytest.raises(MetadataError, match="could not be read"):
        read_metadata(b"\x89PNG\r\n\x1a\ngarbage")
