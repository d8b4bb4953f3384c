"""The models at hand and the settings each starts with."""

import json

from engine.model_catalog import (
    ModelDefaults,
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
    assert pipeline_kind(pipeline_folder(tmp_path / "d", "FluxPipeline")) == "other"
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
