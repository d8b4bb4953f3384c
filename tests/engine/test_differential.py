"""The engine against the same call made straight on bare diffusers.

For SD1.x (the demo), SD 2.x and SDXL (tiny pipelines whose tokenizers pad with `!`, as the real
ones do) and every scheduler, a plain prompt through the engine gives the pixels of
`pipe(prompt=..., generator=...)` within one level. Weighted prompts whose weights are all 1.0
equal the plain ones, the engine's chunks are the token budget's, and SDXL's weighting is checked
against a reference computed the A1111 way (each encoder weighted and mean-restored on its own).
"""

import numpy as np
import pytest
import torch

from engine.generate import Engine
from engine.loading import ModelManager
from engine.request import GenerationRequest
from engine.schedulers import make_scheduler, scheduler_names
from engine.text_encoding import PromptEncoder, apply_weights, token_chunks
from prompts.token_budget import count_tokens

SMALL = {"width": 64, "height": 64, "steps": 2}
MODELS = ("demo", "sd2", "sdxl")


@pytest.fixture(scope="module")
def engines(models_dir, sd2_folder, sdxl_folder):
    """One engine per model, each keeping its model loaded."""
    refs = {"demo": "demo", "sd2": str(sd2_folder), "sdxl": str(sdxl_folder)}
    return {name: (Engine(ModelManager(models_dir)), ref) for name, ref in refs.items()}


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def sd1_clip_skip_embeds(pipe, text, clip_skip):
    """diffusers' own SD1.x clip-skip encoding, written out: its `text_model.final_layer_norm`
    is no longer there in transformers 5, so `pipe(clip_skip=...)` fails for SD1.x today."""
    ids = pipe.tokenizer(
        text, padding="max_length", max_length=pipe.tokenizer.model_max_length, truncation=True
    ).input_ids
    encoder = pipe.text_encoder
    with torch.no_grad():
        hidden = encoder(torch.tensor([ids]), output_hidden_states=True)[-1][-(clip_skip + 1)]
        return getattr(encoder, "text_model", encoder).final_layer_norm(hidden)


def bare_call(pipe, scheduler_name, base_config, prompt, negative, seed, clip_skip=None):
    """The call a diffusers user makes: text prompts, one CPU generator, the scheduler set."""
    scheduler = make_scheduler(scheduler_name, base_config)
    if hasattr(scheduler, "noise_sampler_seed"):  # the Brownian tree takes its own seed
        scheduler = type(scheduler).from_config(scheduler.config, noise_sampler_seed=[seed])
    pipe.scheduler = scheduler
    texts = {"prompt": prompt, "negative_prompt": negative}
    if clip_skip and not hasattr(pipe, "text_encoder_2"):
        texts = {
            "prompt_embeds": sd1_clip_skip_embeds(pipe, prompt, clip_skip),
            "negative_prompt_embeds": sd1_clip_skip_embeds(pipe, negative, clip_skip),
        }
        clip_skip = None
    return pipe(
        **texts,
        num_inference_steps=SMALL["steps"],
        guidance_scale=7.0,
        width=64,
        height=64,
        clip_skip=clip_skip,
        generator=torch.Generator("cpu").manual_seed(seed),
    ).images[0]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("scheduler", scheduler_names("sd1"))
def test_a_plain_prompt_gives_the_pixels_of_a_bare_diffusers_call(engines, model, scheduler):
    engine, ref = engines[model]
    request = GenerationRequest(
        "a lighthouse at dusk", "blurry", seed=17, scheduler=scheduler, **SMALL
    )
    ours = engine.generate(request, model=ref).images[0]
    loaded = engine.models.get(ref)
    bare = bare_call(
        loaded.pipeline,
        scheduler,
        loaded.base_scheduler_config,
        "a lighthouse at dusk",
        "blurry",
        17,
    )
    assert np.abs(pixels(ours) - pixels(bare)).max() <= 1


@pytest.mark.parametrize("model", ("demo", "sd2"))
def test_clip_skip_2_is_diffusers_clip_skip_1(engines, model):
    engine, ref = engines[model]
    request = GenerationRequest("a red fox", "blurry", seed=5, clip_skip=2, **SMALL)
    ours = engine.generate(request, model=ref).images[0]
    plain = engine.generate(GenerationRequest("a red fox", "blurry", seed=5, **SMALL), model=ref)
    loaded = engine.models.get(ref)
    bare = bare_call(
        loaded.pipeline, "Euler a", loaded.base_scheduler_config, "a red fox", "blurry", 5, 1
    )
    assert np.abs(pixels(ours) - pixels(bare)).max() <= 1
    assert np.abs(pixels(ours) - pixels(plain.images[0])).max() > 1


def test_sdxl_clip_skip_2_is_diffusers_clip_skip_1(engines):
    # Compared on the embeddings: diffusers applies clip_skip to the positive prompt only,
    # A1111 (and we) to both.
    engine, ref = engines["sdxl"]
    pipe = engine.models.get(ref).pipeline
    ours = PromptEncoder().encode(pipe, "sdxl", "a red fox", clip_skip=2)
    embeds, _, pooled, _ = pipe.encode_prompt(
        "a red fox", device="cpu", do_classifier_free_guidance=False, clip_skip=1
    )
    assert torch.allclose(ours.embeds, embeds, atol=1e-6)
    assert torch.allclose(ours.pooled, pooled, atol=1e-6)
    plain = PromptEncoder().encode(pipe, "sdxl", "a red fox")
    assert not torch.allclose(plain.embeds, embeds, atol=1e-3)


@pytest.mark.parametrize("model", MODELS)
def test_weights_of_one_equal_the_plain_prompt(engines, model):
    engine, ref = engines[model]
    plain = engine.generate(GenerationRequest("a red fox, snow", seed=8, **SMALL), model=ref)
    weighted = engine.generate(
        GenerationRequest("a (red:1.0) fox, (snow:1)", seed=8, **SMALL), model=ref
    )
    assert np.array_equal(pixels(plain.images[0]), pixels(weighted.images[0]))


@pytest.mark.parametrize("model", MODELS)
def test_chunks_end_where_the_token_budget_says(engines, model):
    engine, ref = engines[model]
    tokenizer = engine.models.get(ref).pipeline.tokenizer
    prompts = [
        ", ".join(f"detail number {n}" for n in range(40)),
        "a fox BREAK a hat, " + " ".join(["word"] * 90),
        "(red:1.3) " + ", ".join(f"thing{n}" for n in range(70)),
    ]
    for prompt in prompts:
        budget = count_tokens(prompt, tokenizer)
        ours = token_chunks(tokenizer, prompt)
        assert len(ours) == len(budget.chunks)
        for (ids, _), chunk in zip(ours, budget.chunks, strict=True):
            real = ids[1 : 1 + chunk.token_count]
            assert tokenizer.convert_ids_to_tokens(real) == [t.piece for t in chunk.tokens]
            assert ids[1 + chunk.token_count] == tokenizer.eos_token_id
            assert set(ids[2 + chunk.token_count :]) <= {tokenizer.pad_token_id}


@pytest.mark.parametrize("model", ("sd2", "sdxl"))
def test_padding_comes_from_the_tokenizer(engines, model):
    engine, ref = engines[model]
    pipe = engine.models.get(ref).pipeline
    tokenizer = pipe.tokenizer_2 if model == "sdxl" else pipe.tokenizer
    assert tokenizer.pad_token == "!"
    ids, _ = token_chunks(tokenizer, "a fox")[0]
    assert ids == tokenizer("a fox", padding="max_length", max_length=77).input_ids


def test_sdxl_weights_each_encoder_on_its_own_as_a1111(engines):
    engine, ref = engines["sdxl"]
    pipe = engine.models.get(ref).pipeline
    text = "a (red:1.4) fox in (snow:0.7)"
    ours = PromptEncoder().encode(pipe, "sdxl", text)
    plain_ids = [
        tok("a red fox in snow", padding="max_length", max_length=77).input_ids
        for tok in (pipe.tokenizer, pipe.tokenizer_2)
    ]
    weights = [1.0] * 77
    weights[2], weights[5] = 1.4, 0.7  # "red" and "snow", after the start token
    halves = []
    encoders = (pipe.text_encoder, pipe.text_encoder_2)
    with torch.no_grad():
        for encoder, ids in zip(encoders, plain_ids, strict=True):
            hidden = encoder(torch.tensor([ids]), output_hidden_states=True).hidden_states[-2]
            scaled = hidden * torch.tensor(weights).reshape(1, -1, 1)
            halves.append(scaled * (hidden.mean() / scaled.mean()))
    expected = torch.cat(halves, dim=-1)
    assert torch.allclose(ours.embeds, expected, atol=1e-5)
    # Restoring the mean over both encoders together (the old way) is measurably different.
    both = torch.cat(
        [
            encoder(torch.tensor([ids]), output_hidden_states=True).hidden_states[-2]
            for encoder, ids in zip(
                (pipe.text_encoder, pipe.text_encoder_2), plain_ids, strict=True
            )
        ],
        dim=-1,
    ).detach()
    together = apply_weights(both, weights)
    assert not torch.allclose(together, expected, atol=1e-5)
