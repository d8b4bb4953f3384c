"""Images as other tools write them, built the way each tool's own source code builds them.

- A1111 / Forge (modules/images.py `save_image_with_geninfo`): PNG `parameters` text chunk;
  JPEG/WebP saved, then `piexif.insert` of an EXIF block whose ExifIFD UserComment is
  `piexif.helper.UserComment.dump(geninfo, encoding="unicode")` = b"UNICODE\\0" + UTF-16-BE.
- Fooocus (modules/meta_parser.py): PNG `parameters` + `fooocus_scheme`; JPEG/WebP `exif`
  from `get_exif`: IFD0 0x9286 = the text, 0x0131 = "Fooocus v…", 0x927C = the scheme.
- FooocusPlus (modules/async_worker.py `save_and_log`, modules/meta_parser.py
  `SIMPLEMetadataParser.to_string`, modules/private_logger.py `log`): the log's
  (label, key, value) rows as `{label: value}` plus the full prompts, model, hash, VAE and
  LoRAs, sorted and `json.dumps`-ed; PNG: a `Comment` text chunk; JPEG/WebP: `get_exif` with
  Software "FooocusPlus <version>, Preset: <name>" and MakerNote "simple".
- RuinedFooocus (modules/sdxl_pipeline.py): `parameters` = `json.dumps` of its dict.
- ComfyUI (nodes.py SaveImage): PNG `prompt` and `workflow` JSON chunks; WebP
  (SaveAnimatedWEBP): EXIF 0x0110 = "prompt:{json}", 0x010F = "workflow:{json}".
- stealth info (sd_webui_stealth_pnginfo): bits in column-major order, see `gallery.stealth`.
"""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
from PIL import Image, PngImagePlugin

A1111_TEXT = (
    "a lighthouse at dusk, (storm clouds:1.2)\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567890, "
    'Size: 64x48, Model hash: 6ce0161689, Model: "my, model", Clip skip: 2, Version: v1.10.1'
)
FORGE_TEXT = A1111_TEXT.replace("Version: v1.10.1", "Version: f2.0.1v1.10.1-previous-313")


def image(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """A small image with some texture (so lossy formats have something to keep)."""
    ramp = np.linspace(0, 255, size[0] * size[1] * len(mode), dtype=np.uint8)
    return Image.fromarray(ramp.reshape(size[1], size[0], len(mode)), mode)


def png(chunks: dict[str, str], *, base: Image.Image | None = None, itxt: bool = False) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        if itxt:
            info.add_itxt(key, value)
        else:
            info.add_text(key, value)
    out = io.BytesIO()
    (base or image()).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def user_comment_unicode(text: str, *, little_endian: bool = False) -> bytes:
    """piexif.helper.UserComment.dump(text, encoding="unicode") (or the LE variant)."""
    return b"UNICODE\x00" + text.encode("utf-16-le" if little_endian else "utf-16-be")


def user_comment_ascii(text: str) -> bytes:
    """piexif.helper.UserComment.dump(text, encoding="ascii")."""
    return b"ASCII\x00\x00\x00" + text.encode("ascii")


def with_exif(fmt: str, exif: Image.Exif, base: Image.Image | None = None) -> bytes:
    out = io.BytesIO()
    (base or image()).save(out, format=fmt, exif=exif.tobytes(), quality=90)
    return out.getvalue()


def a1111_exif_image(fmt: str, geninfo: str, *, encoding: str = "unicode-be") -> bytes:
    """A JPEG or WebP as A1111 saves it: the image, then `piexif.insert` of
    `piexif.dump({"Exif": {UserComment: UserComment.dump(geninfo, encoding="unicode")}})`.
    `unicode-le` is the little-endian variant some tools write (built by hand)."""
    if encoding == "unicode-le":
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9286] = user_comment_unicode(geninfo, little_endian=True)
        return with_exif(fmt, exif)
    import piexif
    import piexif.helper

    out = io.BytesIO()
    image().save(out, format=fmt, quality=80)
    comment = piexif.helper.UserComment.dump(
        geninfo, encoding="ascii" if encoding == "ascii" else "unicode"
    )
    exif_bytes = piexif.dump({"Exif": {piexif.ExifIFD.UserComment: comment}})
    inserted = io.BytesIO()
    piexif.insert(exif_bytes, out.getvalue(), inserted)
    return inserted.getvalue()


def fooocus_exif_image(fmt: str, metadata: str, scheme: str) -> bytes:
    """Fooocus's `get_exif`: the text straight into IFD0 tags."""
    exif = Image.Exif()
    exif[0x9286] = metadata
    exif[0x0131] = "Fooocus v2.5.5"
    exif[0x927C] = scheme
    return with_exif(fmt, exif)


FOOOCUS_JSON = {
    "adm_guidance": "(1.5, 0.8, 0.3)",
    "base_model": "juggernautXL_v8Rundiffusion",
    "base_model_hash": "aeb7e9e689",
    "clip_skip": 2,
    "full_negative_prompt": ["(worst quality, low quality:1.4)", "blurry"],
    "full_prompt": ["a red fox in the snow, cinematic", "highly detailed"],
    "guidance_scale": 4.0,
    "loras": [["sd_xl_offset_example-lora_1.0", 0.1, "4852686128"]],
    "metadata_scheme": "fooocus",
    "negative_prompt": "blurry",
    "performance": "Speed",
    "prompt": "a red fox in the snow",
    "refiner_model": "None",
    "refiner_switch": 0.5,
    "resolution": "(1152, 896)",
    "sampler": "dpmpp_2m_sde_gpu",
    "scheduler": "karras",
    "seed": "2806154612",
    "sharpness": 2.0,
    "steps": 30,
    "styles": "['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']",
    "vae": "Default (model)",
    "version": "Fooocus v2.5.5",
}
FOOOCUS_PLUS_LOG = [  # save_and_log's rows for a text-to-image run (label, key, value)
    ("Prompt", "prompt", "a red fox in the snow"),
    ("Negative Prompt", "negative_prompt", "blurry"),
    ("Fooocus V2 Expansion", "prompt_expansion", "a red fox in the snow, cinematic"),
    ("Styles", "styles", str(["Fooocus V2", "Fooocus Enhance", "Fooocus Sharp"])),
    ("Performance", "performance", "Speed"),
    ("Steps", "steps", 30),
    ("Resolution", "resolution", str((1152, 896))),
    ("Guidance Scale", "guidance_scale", 4.0),
    ("Sharpness", "sharpness", 2.0),
    ("ADM Guidance", "adm_guidance", str((1.5, 0.8, 0.3))),
    ("Base Model", "base_model", "juggernautXL_v8Rundiffusion.safetensors"),
    ("Refiner Model", "refiner_model", "None"),
    ("Refiner Switch", "refiner_switch", 0.5),
    ("CLIP Skip", "clip_skip", 2),
    ("Sampler", "sampler", "dpmpp_2m_sde_gpu"),
    ("Scheduler", "scheduler", "karras"),
    ("VAE", "vae", "Default (model)"),
    ("Seed", "seed", "2806154612"),
    ("Backend Engine", "backend_engine", "SDXL-Fooocus"),
    ("Metadata Scheme", "metadata_scheme", "Fooocus"),
    ("Preset", "current_preset", "Default"),
    ("Version", "version", "1.0.8.3"),
]


def fooocus_plus_json() -> str:
    """SIMPLEMetadataParser.to_string: the rows by label, what `set_data` was given, sorted."""
    res = {label: value for label, _key, value in FOOOCUS_PLUS_LOG}
    res["Full Prompt"] = ["a red fox in the snow, cinematic", "highly detailed"]
    res["Full Negative Prompt"] = ["(worst quality, low quality:1.4)", "blurry"]
    res["Steps"] = 30
    res["Base Model"] = "juggernautXL_v8Rundiffusion.safetensors"
    res["Base Model Hash"] = "aeb7e9e689"
    res["VAE"] = "Default (model)"
    res["LoRAs"] = [["sd_xl_offset_example-lora_1.0", 0.1, "4852686128"]]
    res["styles_definition"] = {}
    return json.dumps(dict(sorted(res.items())))


def fooocus_plus_png() -> bytes:
    """private_logger.log with the "simple" scheme: `pnginfo.add_text("Comment", ...)`."""
    return png({"Comment": fooocus_plus_json()})


def fooocus_plus_exif_image(fmt: str) -> bytes:
    """FooocusPlus's `get_exif` for a JPEG or WebP."""
    exif = Image.Exif()
    exif[0x9286] = fooocus_plus_json()
    exif[0x0131] = "FooocusPlus 1.0.8.03, Preset: Default"
    exif[0x927C] = "simple"
    return with_exif(fmt, exif)


RUINED_FOOOCUS_JSON = {  # modules/sdxl_pipeline.py, the dict saved as `parameters`
    "Prompt": "cinematic film still a red fox in the snow, shallow depth of field",
    "Negative": "anime, cartoon, graphic",
    "steps": 30,
    "cfg": 8.5,
    "width": 1152,
    "height": 896,
    "seed": 3864674281,
    "sampler_name": "dpmpp_2m_sde_gpu",
    "scheduler": "karras",
    "base_model_name": "sd_xl_base_1.0_0.9vae.safetensors",
    "base_model_hash": "be9edd61",
    "loras": [["4852686128", "0.1 - sd_xl_offset_example-lora_1.0.safetensors"]],
    "start_step": 0,
    "denoise": None,
    "clip_skip": 1,
    "software": "RuinedFooocus",
}
# Settings a script keeps as JSON in its own words, naming no tool.
SCRIPT_JSON = {
    "prompt": "a lighthouse at dusk",
    "negative_prompt": "blurry",
    "num_inference_steps": 30,
    "guidance_scale": 7.5,
    "seed": 42,
    "resolution": "1024 x 1024",
    "sampler": "Euler a",
}


def screenshot_jpeg() -> bytes:
    """A screenshot's JPEG: its ExifIFD UserComment is the word "Screenshot", no settings."""
    import piexif
    import piexif.helper

    out = io.BytesIO()
    image().save(out, format="JPEG", quality=80)
    comment = piexif.helper.UserComment.dump("Screenshot", encoding="ascii")
    exif_bytes = piexif.dump({"Exif": {piexif.ExifIFD.UserComment: comment}})
    inserted = io.BytesIO()
    piexif.insert(exif_bytes, out.getvalue(), inserted)
    return inserted.getvalue()


# Fooocus's A1111 scheme (A1111MetadataParser.to_string): the styled prompt first, the typed
# one under "Raw prompt", Fooocus's own keys after A1111's.
FOOOCUS_A1111_TEXT = (
    "a red fox in the snow, cinematic, highly detailed\n"
    "Negative prompt: (worst quality, low quality:1.4), blurry\n"
    "Steps: 30, Sampler: DPM++ 2M SDE Karras, Seed: 2806154612, Size: 1152x896, "
    'CFG scale: 4.0, Sharpness: 2.0, ADM Guidance: "(1.5, 0.8, 0.3)", '
    "Model: juggernautXL_v8Rundiffusion, Model hash: aeb7e9e689, Performance: Speed, "
    "Scheduler: karras, VAE: Default (model), Raw prompt: a red fox in the snow, "
    "Raw negative prompt: blurry, Version: Fooocus v2.5.5"
)

COMFYUI_PROMPT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 156680208700286,
            "steps": 20,
            "cfg": 8,
            "sampler_name": "euler_ancestral",
            "scheduler": "normal",
            "denoise": 1,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5.safetensors"}},
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": 512, "height": 640, "batch_size": 1},
    },
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "\n\nglass bottle galaxy\n", "clip": ["10", 0]},
    },
    "7": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "text, watermark\n", "clip": ["10", 0]},
    },
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "10": {
        "class_type": "CLIPSetLastLayer",
        "inputs": {"stop_at_clip_layer": -2, "clip": ["4", 1]},
    },
}
COMFYUI_WORKFLOW = {"last_node_id": 10, "nodes": [{"id": n} for n in range(1, 9)], "links": []}


def comfyui_webp() -> bytes:
    """SaveAnimatedWEBP: the graph in the EXIF Model tag, the workflow in Make."""
    exif = Image.Exif()
    exif[0x0110] = "prompt:" + json.dumps(COMFYUI_PROMPT)
    exif[0x010F] = "workflow:" + json.dumps(COMFYUI_WORKFLOW)
    return with_exif("WEBP", exif)


NOVELAI_COMMENT = {
    "prompt": "1girl, library, night, masterpiece",
    "steps": 28,
    "height": 1216,
    "width": 832,
    "scale": 5.0,
    "uncond_scale": 1.0,
    "cfg_rescale": 0.0,
    "seed": 3047293749,
    "n_samples": 1,
    "noise_schedule": "karras",
    "sampler": "k_euler_ancestral",
    "uc": "lowres, bad anatomy",
    "request_type": "PromptGenerateRequest",
}
NOVELAI_CHUNKS = {
    "Title": "AI generated image",
    "Description": "1girl, library, night, masterpiece",
    "Software": "NovelAI",
    "Source": "NovelAI Diffusion V3 7BCCAA2C",
    "Generation time": "4.2",
    "Comment": json.dumps(NOVELAI_COMMENT),
}

SWARMUI_DOCUMENT = {
    "sui_image_params": {
        "prompt": "a photo of a cat on a windowsill",
        "negativeprompt": "dog",
        "model": "OfficialStableDiffusion/sd_xl_base_1.0",
        "seed": 1618033988,
        "steps": 24,
        "cfgscale": 6.5,
        "aspectratio": "Custom",
        "width": 1024,
        "height": 768,
        "sampler": "dpmpp_2m",
        "scheduler": "karras",
        "clipstopatlayer": -2,
        "swarm_version": "0.9.3.1",
    },
    "sui_extra_data": {"date": "2025-01-25", "generation_time": "4.84 sec"},
}

INVOKEAI2_SD_METADATA = {
    "model": "stable diffusion",
    "model_id": "stable-diffusion-1.5",
    "model_hash": "cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516",
    "model_weights": "stable-diffusion-1.5",
    "app_id": "invoke-ai/InvokeAI",
    "app_version": "2.2.5",
    "image": {
        "prompt": [{"prompt": "a watercolor fox [blurry, text]", "weight": 1.0}],
        "steps": 50,
        "cfg_scale": 7.5,
        "threshold": 0,
        "perlin": 0,
        "height": 512,
        "width": 576,
        "seed": 3357757885,
        "seamless": False,
        "hires_fix": False,
        "type": "txt2img",
        "postprocessing": None,
        "sampler": "k_lms",
        "variations": [],
    },
}
INVOKEAI2_DREAM = (
    '"a watercolor fox [blurry, text]" -s 50 -S 3357757885 -W 576 -H 512 -C 7.5 -A k_lms'
)

EASY_DIFFUSION_CHUNKS = {
    "prompt": "a cozy cabin in the woods",
    "negative_prompt": "people",
    "seed": "42424242",
    "use_stable_diffusion_model": "sd-v1-5.safetensors",
    "clip_skip": "False",
    "use_vae_model": "",
    "sampler_name": "euler_a",
    "width": "512",
    "height": "768",
    "num_inference_steps": "25",
    "guidance_scale": "7.5",
}

DRAW_THINGS_JSON = {
    "c": "an astronaut riding a horse & a dog",
    "uc": "ugly <bad>",
    "seed": 2519398721,
    "steps": 30,
    "scale": 5.5,
    "sampler": "DPM++ 2M Karras",
    "model": "sd_xl_base_1.0_f16.ckpt",
    "size": "1024x768",
    "strength": 1,
}


def draw_things_xmp() -> str:
    """The XMP packet Draw Things writes (UserComment JSON XML-escaped in an rdf:Alt)."""
    from xml.sax.saxutils import escape

    return (
        "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/"
        "22-rdf-syntax-ns#'><rdf:Description rdf:about='' xmlns:exif='http://ns.adobe.com/exif/"
        "1.0/' xmlns:xmp='http://ns.adobe.com/xap/1.0/'><xmp:CreatorTool>Draw Things"
        "</xmp:CreatorTool><exif:UserComment><rdf:Alt><rdf:li xml:lang='x-default'>"
        + escape(json.dumps(DRAW_THINGS_JSON))
        + "</rdf:li></rdf:Alt></exif:UserComment></rdf:Description></rdf:RDF></x:xmpmeta>"
    )


def stealth_png(text: str, *, mode: str = "alpha", compressed: bool = True, size=(64, 48)) -> bytes:
    """A PNG with `text` hidden as sd_webui_stealth_pnginfo's `add_data` hides it."""
    kind = "png" if mode == "alpha" else "rgb"
    signature = f"stealth_{kind}{'comp' if compressed else 'info'}".encode()
    payload = gzip.compress(text.encode("utf-8")) if compressed else text.encode("utf-8")
    binary = "".join(f"{b:08b}" for b in signature)
    binary += f"{len(payload) * 8:032b}"
    binary += "".join(f"{b:08b}" for b in payload)
    base = image(size, "RGBA" if mode == "alpha" else "RGB")
    if mode == "alpha":
        base.putalpha(255)
    pixels = base.load()
    index = 0
    width, height = base.size
    for x in range(width):
        for y in range(height):
            if index >= len(binary):
                break
            values = list(pixels[x, y])
            if mode == "alpha":
                values[3] = (values[3] & ~1) | int(binary[index])
                index += 1
            else:
                for channel in range(3):
                    if index < len(binary):
                        values[channel] = (values[channel] & ~1) | int(binary[index])
                        index += 1
            pixels[x, y] = tuple(values)
    out = io.BytesIO()
    base.save(out, format="PNG")
    return out.getvalue()
