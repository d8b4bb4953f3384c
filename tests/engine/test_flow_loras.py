"""LoRAs for SD3 and FLUX named with A1111's `<lora:name:weight>`: a rank-4 PEFT LoRA on each
tiny transformer's attention and feed-forward layers, saved as diffusers saves LoRAs, loaded
through the pipeline's own `load_lora_weights`. The engine's pictures equal the bare pipeline
with that adapter set."""

import numpy as np
import pytest
import torch
from diffusers import FluxPipeline, StableDiffusion3Pipeline

from engine.demo_flow_models import DEMO_FLUX_ID, DEMO_SD3_ID, ensure_flow_demo
from engine.generate import Engine
from engine.loading import ModelManager
from engine.loras import short_hash
from engine.request import GenerationRequest

SMALL = {"width": 64, "height": 64, "steps": 3, "seed": 11, "scheduler": "Euler"}
PIPELINES = {DEMO_SD3_ID: StableDiffusion3Pipeline, DEMO_FLUX_ID: FluxPipeline}


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.fixture(scope="module")
def lora_engines(models_dir, tmp_path_factory):
    """model -> (an engine of its own with loras/tiny-<model>.safetensors, the file)."""
    from diffusers import FluxTransformer2DModel, SD3Transformer2DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    loras = tmp_path_factory.mktemp("flow-loras")
    transformers = {DEMO_SD3_ID: SD3Transformer2DModel, DEMO_FLUX_ID: FluxTransformer2DModel}
    engines = {}
    for model, pipeline_class in PIPELINES.items():
        folder = ensure_flow_demo(models_dir, model)
        transformer = transformers[model].from_pretrained(folder / "transformer")
        torch.manual_seed(0)
        transformer.add_adapter(
            LoraConfig(
                r=4,
                lora_alpha=4,
                # attention, feed-forward and the output projections
                target_modules=[
                    "to_q",
                    "to_k",
                    "to_v",
                    "to_out.0",
                    "ff.net.2",
                    "proj_mlp",
                    "proj_out",
                ],
                init_lora_weights=False,  # random B too, so the LoRA is not a no-op
            )
        )
        name = f"tiny-{model}"
        pipeline_class.save_lora_weights(
            loras,
            transformer_lora_layers=get_peft_model_state_dict(transformer),
            weight_name=f"{name}.safetensors",
        )
        engine = Engine(ModelManager(models_dir), loras_dir=loras)
        engines[model] = (engine, loras / f"{name}.safetensors")
    return engines


def generate(engine, model, prompt, guidance=3.5):
    request = GenerationRequest(prompt, guidance_scale=guidance, **SMALL)
    return engine.generate(request, model=model)


@pytest.mark.parametrize("model", [DEMO_SD3_ID, DEMO_FLUX_ID])
def test_a_lora_changes_the_picture_only_when_named(lora_engines, model):
    engine, path = lora_engines[model]
    name = path.stem
    plain = generate(engine, model, "a red fox")
    named = generate(engine, model, f"a red fox <lora:{name}:0.8>")
    zero = generate(engine, model, f"a red fox <lora:{name}:0>")
    again = generate(engine, model, "a red fox")
    assert np.abs(pixels(plain.images[0]) - pixels(named.images[0])).max() > 10
    assert np.abs(pixels(plain.images[0]) - pixels(zero.images[0])).max() <= 1
    assert np.array_equal(pixels(plain.images[0]), pixels(again.images[0]))
    assert named.provenance["loras"] == [
        {"name": name, "weight": 0.8, "short_hash": short_hash(path)}
    ]
    # The bare pipeline with the same adapter at the same weight draws the same picture.
    bare = PIPELINES[model].from_pretrained(ensure_flow_demo(engine.models.models_dir, model))
    bare.set_progress_bar_config(disable=True)
    bare.load_lora_weights(str(path), adapter_name="tiny")
    bare.set_adapters(["tiny"], adapter_weights=[0.8])
    theirs = bare(
        "a red fox",
        guidance_scale=3.5,
        num_inference_steps=SMALL["steps"],
        width=64,
        height=64,
        generator=[torch.Generator().manual_seed(SMALL["seed"])],
    ).images[0]
    assert np.abs(pixels(named.images[0]) - pixels(theirs)).max() <= 1
