"""Prompt embeddings follow A1111: per-token weights, mean restored, 75-token chunks, BREAK."""

import numpy as np
import pytest
import torch

from engine.request import GenerationRequest
from engine.text_encoding import PromptEncoder


@pytest.fixture(scope="module")
def pipe(engine):
    return engine.models.get("demo").pipeline


def encode_ids(pipe, ids):
    with torch.no_grad():
        return pipe.text_encoder(torch.tensor([ids])).last_hidden_state


def test_unweighted_prompt_equals_diffusers_own_encoding(pipe):
    ours = PromptEncoder().encode(pipe, "sd1", "a red apple on a table").embeds
    theirs, _ = pipe.encode_prompt("a red apple on a table", "cpu", 1, False)
    assert torch.equal(ours, theirs)


def test_weights_scale_their_tokens_and_keep_the_chunk_mean(pipe):
    tokenizer = pipe.tokenizer
    ids = tokenizer("red apple", padding="max_length", max_length=77).input_ids
    plain = encode_ids(pipe, ids)
    # A1111: z * weights, then rescaled so the mean equals the unweighted mean.
    weights = torch.ones(1, 77, 1)
    weights[0, 1] = 1.5  # "red" is the first token after the start token
    expected = plain * weights
    expected = expected * (plain.mean() / expected.mean())
    ours = PromptEncoder().encode(pipe, "sd1", "(red:1.5) apple").embeds
    assert torch.allclose(ours, expected, atol=1e-6)
    assert torch.isclose(ours.mean(), plain.mean(), atol=1e-6)


def test_nested_emphasis_multiplies(pipe):
    encoder = PromptEncoder()
    double = encoder.encode(pipe, "sd1", "((red)) apple").embeds
    explicit = encoder.encode(pipe, "sd1", "(red:1.21) apple").embeds
    assert torch.allclose(double, explicit, atol=1e-6)


def test_break_starts_a_new_chunk(pipe):
    encoder = PromptEncoder()
    assert encoder.count_chunks(pipe, "a fox") == 1
    assert encoder.count_chunks(pipe, "a fox BREAK a hat") == 2
    embeds = encoder.encode(pipe, "sd1", "a fox BREAK a hat").embeds
    assert embeds.shape[1] == 154


def test_shorter_side_is_padded_to_the_same_chunk_count(pipe):
    encoder = PromptEncoder()
    embeds = encoder.encode(pipe, "sd1", "blurry", chunks=3).embeds
    assert embeds.shape[1] == 3 * 77


def test_models_without_weighted_encoders_get_plain_text_and_a_note(engine):
    loaded = engine.models.get("demo")
    loaded.kind = "other"  # treat the pipeline as one whose text encoder takes plain strings
    try:
        noted = engine.generate(
            GenerationRequest("(red:1.5) apple", seed=4, width=64, height=64, steps=2)
        )
        plain = engine.generate(
            GenerationRequest("red apple", seed=4, width=64, height=64, steps=2)
        )
    finally:
        loaded.kind = "sd1"
    assert any("plain text" in note for note in noted.provenance["notes"])
    assert np.array_equal(np.asarray(noted.images[0]), np.asarray(plain.images[0]))


def test_one_encoder_serves_each_pipeline_its_own_embeddings(pipe, models_dir):
    """Two loaded pipelines (the demo model and the sketch model, each from its own manager)
    through one encoder with nothing cleared between them: each gets what a fresh encoder
    gives it, never the other's cached embeddings of the same text."""
    from engine.loading import ModelManager

    sketch = ModelManager(models_dir).get("sketch").pipeline
    shared = PromptEncoder()
    for _ in range(2):  # the second round is served from the cache
        for pipeline in (pipe, sketch):
            got = shared.encode(pipeline, "sd1", "a red circle, night", clip_skip=1)
            fresh = PromptEncoder().encode(pipeline, "sd1", "a red circle, night", clip_skip=1)
            assert torch.equal(got.embeds, fresh.embeds)
    demo_states = PromptEncoder().encode(pipe, "sd1", "a red circle, night").embeds
    sketch_states = PromptEncoder().encode(sketch, "sd1", "a red circle, night").embeds
    assert demo_states.shape != sketch_states.shape or not torch.allclose(
        demo_states, sketch_states
    )
