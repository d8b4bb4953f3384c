"""The SDXL path: two CLIP encoders, pooled embeddings, weights, chunks, through the real loader.

A tiny SDXL pipeline (tests/engine/conftest.py: random weights, the shapes diffusers' own tests
use, a second tokenizer that pads with `!`) is loaded by the engine like any model folder.
"""

import numpy as np
import pytest
import torch

from engine.generate import Engine
from engine.loading import ModelManager
from engine.request import GenerationRequest

SMALL = {"width": 64, "height": 64, "steps": 2}


@pytest.fixture(scope="module")
def sdxl_engine(sdxl_folder, models_dir):
    return Engine(ModelManager(models_dir))


def test_sdxl_is_recognised_and_generates(sdxl_engine, sdxl_folder):
    result = sdxl_engine.generate(
        GenerationRequest("a red fox", seed=3, **SMALL), model=str(sdxl_folder)
    )
    assert result.provenance["pipeline_kind"] == "sdxl"
    assert result.provenance["pipeline_class"] == "StableDiffusionXLPipeline"
    assert result.images[0].size == (64, 64)


def test_unweighted_embeddings_equal_diffusers_own(sdxl_engine, sdxl_folder):
    loaded = sdxl_engine.models.get(str(sdxl_folder))
    ours = sdxl_engine.encoder.encode(loaded.pipeline, "sdxl", "a lighthouse at dusk")
    embeds, _, pooled, _ = loaded.pipeline.encode_prompt(
        "a lighthouse at dusk", device="cpu", do_classifier_free_guidance=False
    )
    assert torch.allclose(ours.embeds, embeds, atol=1e-6)
    assert torch.allclose(ours.pooled, pooled, atol=1e-6)


def test_weights_and_long_prompts_reach_the_model(sdxl_engine, sdxl_folder):
    model = str(sdxl_folder)
    plain = sdxl_engine.generate(GenerationRequest("apple", seed=5, **SMALL), model=model)
    weighted = sdxl_engine.generate(
        GenerationRequest("(red:1.5) apple", seed=5, **SMALL), model=model
    )
    assert not np.array_equal(np.asarray(plain.images[0]), np.asarray(weighted.images[0]))
    long_prompt = ", ".join(f"detail {n}" for n in range(60))
    loaded = sdxl_engine.models.get(model)
    embedding = sdxl_engine.encoder.encode(loaded.pipeline, "sdxl", long_prompt)
    assert embedding.chunks >= 2 and embedding.embeds.shape[-1] == 64


@pytest.mark.parametrize("negative", ["", "blurry"])
def test_engine_output_equals_a_bare_sdxl_call(sdxl_engine, sdxl_folder, negative):
    request = GenerationRequest("a lighthouse", negative_prompt=negative, seed=9, **SMALL)
    ours = sdxl_engine.generate(request, model=str(sdxl_folder))
    pipe = sdxl_engine.models.current.pipeline
    bare = pipe(
        prompt="a lighthouse",
        negative_prompt=negative or None,
        num_inference_steps=2,
        guidance_scale=request.guidance_scale,
        width=64,
        height=64,
        generator=torch.Generator("cpu").manual_seed(9),
    ).images[0]
    assert np.array_equal(np.asarray(ours.images[0]), np.asarray(bare))
