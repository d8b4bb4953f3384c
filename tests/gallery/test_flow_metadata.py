"""SD3 and FLUX images in and out: ComfyUI graphs of this era (SamplerCustomAdvanced with
RandomNoise, BasicScheduler, KSamplerSelect, FluxGuidance, BasicGuider/CFGGuider, UNETLoader,
DualCLIPLoader), Forge's FLUX infotext, SwarmUI's FLUX keys, and our own files carrying the
T5 length, true CFG and shift in PNG, JPEG and WebP."""

import io
import json

from PIL import Image

from gallery import LOCAL_OWNER
from gallery.a1111 import format_infotext, infotext_params, parse_infotext, settings_from_params
from gallery.comfyui import parse_comfyui
from gallery.image_reader import read_image_metadata, read_metadata
from gallery.importers import import_file
from gallery.metadata import embed_metadata, read_text_chunks
from gallery.peer_copies import peer_copy
from gallery.peer_formats import parse_swarmui
from gallery.records import NewGeneration


def png_with(chunks: dict[str, str]) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def flux_graph() -> dict:
    """ComfyUI's FLUX.1 dev example workflow as its API graph, with a preview branch whose
    KSampler comes first in node order (its output is only previewed, never saved)."""
    return {
        "1": {
            "class_type": "KSampler",  # a quick preview pass: not the saved image
            "inputs": {
                "seed": 1,
                "steps": 4,
                "cfg": 1.0,
                "sampler_name": "euler_ancestral",
                "scheduler": "normal",
                "denoise": 1.0,
                "model": ["12", 0],
                "positive": ["6", 0],
                "negative": ["6", 0],
                "latent_image": ["5", 0],
            },
        },
        "2": {"class_type": "VAEDecode", "inputs": {"samples": ["1", 0], "vae": ["10", 0]}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
        "5": {
            "class_type": "EmptySD3LatentImage",
            "inputs": {"width": 1024, "height": 768, "batch_size": 1},
        },
        "6": {
            "class_type": "CLIPTextEncode",
            "inputs": {"text": "a red fox in the snow, golden hour\n", "clip": ["11", 0]},
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["13", 0], "vae": ["10", 0]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "flux", "images": ["8", 0]}},
        "10": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
        "11": {
            "class_type": "DualCLIPLoader",
            "inputs": {
                "clip_name1": "t5xxl_fp16.safetensors",
                "clip_name2": "clip_l.safetensors",
                "type": "flux",
            },
        },
        "12": {
            "class_type": "UNETLoader",
            "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"},
        },
        "13": {
            "class_type": "SamplerCustomAdvanced",
            "inputs": {
                "noise": ["25", 0],
                "guider": ["22", 0],
                "sampler": ["16", 0],
                "sigmas": ["17", 0],
                "latent_image": ["5", 0],
            },
        },
        "16": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "17": {
            "class_type": "BasicScheduler",
            "inputs": {"scheduler": "simple", "steps": 28, "denoise": 1.0, "model": ["30", 0]},
        },
        "22": {
            "class_type": "BasicGuider",
            "inputs": {"model": ["30", 0], "conditioning": ["26", 0]},
        },
        "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 219670278747233}},
        "26": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["6", 0]}},
        "30": {
            "class_type": "ModelSamplingFlux",
            "inputs": {
                "max_shift": 1.15,
                "base_shift": 0.5,
                "width": 1024,
                "height": 768,
                "model": ["12", 0],
            },
        },
    }


def test_a_comfyui_flux_graph_reads_the_saved_samplers_settings():
    prompt, negative, settings, extra = parse_comfyui(flux_graph())
    assert prompt == "a red fox in the snow, golden hour" and negative == ""
    assert settings == {
        "seed": 219670278747233,
        "steps": 28,
        "scheduler": "Euler",
        "guidance_scale": 3.5,
        "width": 1024,
        "height": 768,
        "model_id": "flux1-dev",
    }
    assert extra["comfyui_sampler_node"] == "13"  # not "1", the first by node order
    assert extra["comfyui_flux_shift"] == {"max_shift": 1.15, "base_shift": 0.5}


def test_samplers_and_schedules_map_to_a1111_names():
    graph = flux_graph()
    graph["16"]["inputs"]["sampler_name"] = "dpmpp_2m"
    graph["17"]["inputs"]["scheduler"] = "beta"
    assert parse_comfyui(graph)[2]["scheduler"] == "DPM++ 2M Beta"
    graph["17"] = {"class_type": "KarrasScheduler", "inputs": {"steps": 12, "sigma_max": 14.6}}
    graph["16"]["inputs"]["sampler_name"] = "euler"
    settings = parse_comfyui(graph)[2]
    assert (settings["scheduler"], settings["steps"]) == ("Euler Karras", 12)


def test_flux_with_cfg_guider_reads_true_cfg_and_the_negative():
    graph = flux_graph()
    graph["7"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["11", 0]}}
    graph["22"] = {
        "class_type": "CFGGuider",
        "inputs": {"model": ["30", 0], "positive": ["26", 0], "negative": ["7", 0], "cfg": 2.5},
    }
    _, negative, settings, _ = parse_comfyui(graph)
    assert negative == "blurry"
    assert settings["guidance_scale"] == 3.5 and settings["true_cfg_scale"] == 2.5


def test_an_sd3_graph_reads_cfg_negative_and_shift():
    graph = {
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": 42,
                "steps": 28,
                "cfg": 4.5,
                "sampler_name": "dpmpp_2m",
                "scheduler": "sgm_uniform",
                "denoise": 1.0,
                "model": ["13", 0],
                "positive": ["6", 0],
                "negative": ["71", 0],
                "latent_image": ["135", 0],
            },
        },
        "4": {
            "class_type": "CheckpointLoaderSimple",
            "inputs": {"ckpt_name": "sd3.5_large.safetensors"},
        },
        "6": {
            "class_type": "CLIPTextEncode",
            "inputs": {"text": "a lighthouse", "clip": ["11", 0]},
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "sd3", "images": ["8", 0]}},
        "11": {
            "class_type": "TripleCLIPLoader",
            "inputs": {
                "clip_name1": "clip_g.safetensors",
                "clip_name2": "clip_l.safetensors",
                "clip_name3": "t5xxl_fp16.safetensors",
            },
        },
        "13": {"class_type": "ModelSamplingSD3", "inputs": {"shift": 3.0, "model": ["4", 0]}},
        "71": {"class_type": "CLIPTextEncode", "inputs": {"text": "lowres", "clip": ["11", 0]}},
        "135": {
            "class_type": "EmptySD3LatentImage",
            "inputs": {"width": 1024, "height": 1024, "batch_size": 1},
        },
    }
    prompt, negative, settings, _ = parse_comfyui(graph)
    assert (prompt, negative) == ("a lighthouse", "lowres")
    assert settings["guidance_scale"] == 4.5 and settings["shift"] == 3.0
    assert settings["scheduler"] == "DPM++ 2M SGM Uniform"
    assert settings["model_id"] == "sd3.5_large"


def test_sampler_custom_reads_its_sampler_and_sigmas_nodes():
    graph = flux_graph()
    graph["13"] = {
        "class_type": "SamplerCustom",
        "inputs": {
            "model": ["30", 0],
            "add_noise": True,
            "noise_seed": 7,
            "cfg": 1.0,
            "positive": ["26", 0],
            "negative": ["6", 0],
            "sampler": ["16", 0],
            "sigmas": ["17", 0],
            "latent_image": ["5", 0],
        },
    }
    settings = parse_comfyui(graph)[2]
    assert (settings["seed"], settings["steps"], settings["scheduler"]) == (7, 28, "Euler")
    assert settings["guidance_scale"] == 3.5 and "true_cfg_scale" not in settings


def test_a_graph_whose_links_loop_still_ends():
    graph = flux_graph()
    graph["30"]["inputs"]["model"] = ["30", 0]  # a node linked to itself
    graph["26"]["inputs"]["conditioning"] = ["26", 0]
    assert parse_comfyui(graph) is None or parse_comfyui(graph)[2]["seed"] == 219670278747233


def test_the_comfyui_flux_png_reads_through_the_image_reader():
    data = png_with({"prompt": json.dumps(flux_graph()), "workflow": "{}"})
    reading = read_image_metadata(data)
    assert reading.metadata.source == "comfyui"
    assert reading.metadata.settings["guidance_scale"] == 3.5
    assert reading.metadata.settings["scheduler"] == "Euler"


FORGE_FLUX = (
    "a red fox in the snow\n"
    "Steps: 20, Sampler: Euler, Schedule type: Simple, CFG scale: 1, Distilled CFG Scale: 3.5, "
    "Seed: 3057227286, Size: 896x1152, Model hash: bea01d51bd, Model: flux1-dev-bnb-nf4-v2, "
    "Version: f2.0.1v1.10.1-previous-313-g8a042934, Module 1: ae, Module 2: clip_l, "
    "Module 3: t5xxl_fp16"
)


def test_forge_flux_infotext_reads_distilled_guidance():
    parsed = parse_infotext(FORGE_FLUX)
    settings, extra = settings_from_params(parsed.params)
    assert settings["guidance_scale"] == 3.5 and settings["true_cfg_scale"] == 1.0
    assert settings["scheduler"] == "Euler" and settings["steps"] == 20
    assert settings["model_id"] == "flux1-dev-bnb-nf4-v2"
    assert extra["Schedule type"] == "Simple" and extra["Module 3"] == "t5xxl_fp16"


def test_swarmui_flux_keys():
    document = {
        "sui_image_params": {
            "prompt": "a fox",
            "model": "flux1-dev.safetensors",
            "seed": 5,
            "steps": 20,
            "cfgscale": 1,
            "fluxguidancescale": 3.5,
            "sigmashift": 1.15,
            "sampler": "euler",
            "scheduler": "simple",
        }
    }
    settings = parse_swarmui(document)[2]
    assert settings["guidance_scale"] == 3.5 and "true_cfg_scale" not in settings
    assert settings["shift"] == 1.15 and settings["scheduler"] == "Euler"


def flux_generation(**settings) -> NewGeneration:
    request = {
        "clip_skip": 1,
        "max_sequence_length": None,
        "true_cfg_scale": 1.0,
        "shift": None,
        **settings,
    }
    return NewGeneration(
        prompt="a red fox in the snow",
        negative_prompt="blurry",
        seed=7,
        steps=28,
        guidance_scale=3.5,
        width=64,
        height=64,
        scheduler="Euler Beta",
        model_id="demo-flux",
        settings=request,
        provenance={"pipeline_kind": "flux", "versions": {"prompt_atelier": "0.1.0"}},
        image=Image.new("RGB", (64, 64), "red"),
    )


def test_our_flux_png_writes_forge_keys_and_reads_back():
    generation = flux_generation(max_sequence_length=256, true_cfg_scale=2.5, shift=2.0)
    png = embed_metadata(generation.image, generation)
    infotext = read_text_chunks(png)["parameters"]
    last = infotext.splitlines()[-1]
    assert "Sampler: Euler, Schedule type: Beta, CFG scale: 2.5, Distilled CFG Scale: 3.5" in last
    assert "Shift: 2, Max sequence length: 256" in last
    ours = read_metadata(png)
    assert ours.source == "prompt_atelier"
    assert ours.extra["settings"]["max_sequence_length"] == 256
    assert ours.extra["settings"]["true_cfg_scale"] == 2.5
    # A JPEG and a WebP copy carry the same settings in their A1111 text.
    for image_format in ("jpeg", "webp"):
        copy = read_metadata(peer_copy(png, image_format))
        assert copy.settings["guidance_scale"] == 3.5 and copy.settings["true_cfg_scale"] == 2.5
        assert copy.settings["shift"] == 2.0 and copy.settings["max_sequence_length"] == 256
        assert copy.settings["scheduler"] == "Euler Beta"


def test_flux_without_true_cfg_writes_cfg_scale_1_and_sd3_keeps_its_cfg():
    flux = flux_generation()
    flux.scheduler = "Euler"
    plain = read_text_chunks(embed_metadata(Image.new("RGB", (8, 8)), flux))
    assert "Schedule type: Simple, CFG scale: 1, Distilled CFG Scale: 3.5" in plain["parameters"]
    assert "Shift" not in plain["parameters"]
    sd3 = flux_generation()
    sd3.provenance = {"pipeline_kind": "sd3"}
    sd3.scheduler, sd3.guidance_scale = "DPM++ 2M", 4.5
    text = read_text_chunks(embed_metadata(Image.new("RGB", (8, 8)), sd3))["parameters"]
    assert "Schedule type: Simple, CFG scale: 4.5, Seed" in text
    sd1 = NewGeneration(prompt="x", seed=1, scheduler="Euler a", guidance_scale=7)
    sd1_text = format_infotext(
        "x", "", infotext_params(
            steps=20, scheduler="Euler a", guidance_scale=7, seed=1, width=8, height=8,
            model_hash=None, model="demo",
        )
    )  # fmt: skip
    assert "Schedule type: Automatic, CFG scale: 7" in sd1_text and sd1.settings == {}


def test_importing_keeps_t5_length_true_cfg_and_shift(sqlite_store, tmp_path):
    local = sqlite_store.for_owner(LOCAL_OWNER)
    png = embed_metadata(
        Image.new("RGB", (64, 64), "blue"),
        flux_generation(max_sequence_length=128, true_cfg_scale=3.0, shift=1.5),
    )
    (tmp_path / "flux.png").write_bytes(png)
    (tmp_path / "flux.jpg").write_bytes(peer_copy(png, "jpeg"))
    for name in ("flux.png", "flux.jpg"):
        new_id, _ = import_file(local, tmp_path / name)
        record = local.get(new_id)
        assert record.settings["max_sequence_length"] == 128, name
        assert record.settings["true_cfg_scale"] == 3.0 and record.settings["shift"] == 1.5
        assert record.guidance_scale == 3.5 and record.scheduler == "Euler Beta"
