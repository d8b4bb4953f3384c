"""The models at hand and the settings each starts with."""

import json

from engine.model_catalog import (
    ModelDefaults,
    builtin_models,
    cached_models,
    folder_models,
    model_defaults,
    pipeline_kind,
    suggested_models,
)


def pipeline_folder(root, class_name, cross_attention_dim=768):
    root.mkdir(parents=True)
    (root / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
    (root / "unet").mkdir()
    (root / "unet" / "config.json").write_text(
        json.dumps({"cross_attention_dim": cross_attention_dim})
    )
    return root


def test_kinds_from_the_pipeline_files(tmp_path):
    assert pipeline_kind(pipeline_folder(tmp_path / "a", "StableDiffusionPipeline")) == "SD1"
    assert pipeline_kind(pipeline_folder(tmp_path / "b", "StableDiffusionPipeline", 1024)) == "SD2"
    assert pipeline_kind(pipeline_folder(tmp_path / "c", "StableDiffusionXLPipeline")) == "SDXL"
    assert pipeline_kind(pipeline_folder(tmp_path / "d", "FluxPipeline")) == "other"  # no parts
    assert pipeline_kind(tmp_path / "missing") == "other"


def test_the_cache_and_the_models_folder_are_listed(tmp_path, models_dir):
    cache = tmp_path / "hub"
    pipeline_folder(cache / "models--org--turbo" / "snapshots" / "abc", "StableDiffusionPipeline")
    (cache / "models--org--tokenizer-only" / "snapshots" / "abc").mkdir(parents=True)
    found = cached_models(cache)
    assert [(e.name, e.kind, e.source) for e in found] == [("org/turbo", "SD1", "cache")]
    folder = tmp_path / "models"
    pipeline_folder(folder / "my-xl", "StableDiffusionXLPipeline")
    (folder / "dreamshaper_8.safetensors").write_bytes(b"\0" * 16)
    (folder / "demo-sd-123").mkdir()
    listed = [(e.name.rsplit("/", 1)[-1], e.kind, e.source) for e in folder_models(folder)]
    assert listed == [
        ("dreamshaper_8.safetensors", "SD1", "checkpoint"),
        ("my-xl", "SDXL", "folder"),
    ]
    assert {e.name for e in suggested_models()} >= {"stabilityai/sd-turbo"}


def test_turbo_and_lcm_models_start_at_few_steps_and_low_cfg():
    turbo = model_defaults("stabilityai/sd-turbo", "SD2")
    assert 1 <= turbo.steps <= 4 and 0 <= turbo.guidance_scale <= 1.5 and turbo.width == 512
    lcm = model_defaults("SimianLuo/LCM_Dreamshaper_v7", "SD1")
    assert 1 <= lcm.steps <= 4 and 0 <= lcm.guidance_scale <= 1.5 and lcm.scheduler == "LCM"
    assert model_defaults("stabilityai/stable-diffusion-xl-base-1.0", "SDXL").width == 1024
    assert model_defaults("demo").width == 256
    # The sketch model as its card measures it: 128 px, 20 Euler a steps, CFG 7.
    assert model_defaults("sketch") == ModelDefaults(20, 7.0, 128, 128, "Euler a")
    plain = model_defaults("stable-diffusion-v1-5/stable-diffusion-v1-5", "SD1")
    assert plain.steps >= 20 and plain.guidance_scale >= 5


def flow_folder(root, class_name, transformer, third_encoder=False):
    root.mkdir(parents=True)
    index = {"_class_name": class_name, "transformer": ["diffusers", transformer]}
    if third_encoder:
        index["text_encoder_3"] = ["transformers", "T5EncoderModel"]
    (root / "model_index.json").write_text(json.dumps(index))
    (root / "transformer").mkdir()
    (root / "transformer" / "config.json").write_text(json.dumps({"_class_name": transformer}))
    (root / "text_encoder_2").mkdir()
    encoder = "CLIPTextModelWithProjection" if third_encoder else "T5EncoderModel"
    (root / "text_encoder_2" / "config.json").write_text(json.dumps({"architectures": [encoder]}))
    return root


def test_sd3_and_flux_folders_are_known_by_their_components(tmp_path, models_dir):
    sd3 = flow_folder(tmp_path / "s", "StableDiffusion3Pipeline", "SD3Transformer2DModel", True)
    assert pipeline_kind(sd3) == "SD3"
    assert pipeline_kind(flow_folder(tmp_path / "f", "FluxPipeline", "FluxTransformer2DModel"))
    assert pipeline_kind(tmp_path / "f") == "FLUX"
    # A FLUX pipeline of another task (inpainting, control) is not text-to-image FLUX.
    fill = flow_folder(tmp_path / "fill", "FluxFillPipeline", "FluxTransformer2DModel")
    assert pipeline_kind(fill) == "other"
    from engine.demo_flow_models import ensure_flow_demo

    assert pipeline_kind(ensure_flow_demo(models_dir, "demo-sd3")) == "SD3"
    assert pipeline_kind(ensure_flow_demo(models_dir, "demo-flux")) == "FLUX"
    assert [(e.name, e.kind) for e in builtin_models()] == [
        ("demo", "SD1"),
        ("demo-sd3", "SD3"),
        ("demo-flux", "FLUX"),
    ]
    kinds = {e.name: e.kind for e in suggested_models()}
    assert kinds["black-forest-labs/FLUX.1-schnell"] == "FLUX"
    assert kinds["stabilityai/stable-diffusion-3.5-large"] == "SD3"


def test_sd3_and_flux_start_with_their_own_settings():
    schnell = model_defaults("black-forest-labs/FLUX.1-schnell", "FLUX")
    assert (schnell.steps, schnell.guidance_scale, schnell.max_sequence_length) == (4, 0.0, 256)
    dev = model_defaults("black-forest-labs/FLUX.1-dev", "FLUX")
    assert (dev.steps, dev.guidance_scale, dev.max_sequence_length) == (28, 3.5, 512)
    large = model_defaults("stabilityai/stable-diffusion-3.5-large", "SD3")
    assert (large.steps, large.guidance_scale, large.width) == (28, 4.5, 1024)
    turbo = model_defaults("stabilityai/stable-diffusion-3.5-large-turbo", "SD3")
    assert (turbo.steps, turbo.guidance_scale) == (4, 0.0)  # not the SD-Turbo rule's 1 step
    # Known by name alone too (a folder or an id not in the catalog).
    assert model_defaults("/models/flux1-schnell-fp8").steps == 4
    assert model_defaults("/models/sd3.5_large_turbo").guidance_scale == 0.0
    assert model_defaults("/home/fluxuser/dreamshaper").scheduler == "DPM++ 2M Karras"
    for name in ("black-forest-labs/FLUX.1-dev", "stabilityai/stable-diffusion-3.5-large"):
        assert model_defaults(name).scheduler == "Euler"
    assert model_defaults("demo-flux").width == 256 and model_defaults("demo-sd3").steps == 28
    assert model_defaults("stabilityai/sd-turbo", "SD2").max_sequence_length is None
