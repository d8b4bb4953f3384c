"""The engine's generate path on the real diffusers pipeline with the demo model."""

import threading

import numpy as np
import pytest
import torch

from engine.errors import GenerationCancelled, InvalidRequestError, ModelLoadError
from engine.request import GenerationRequest

SMALL = {"width": 64, "height": 64, "steps": 3}


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_same_seed_same_pixels_and_another_seed_differs(engine):
    first = engine.generate(GenerationRequest("a red fox", seed=7, **SMALL))
    again = engine.generate(GenerationRequest("a red fox", seed=7, **SMALL))
    other = engine.generate(GenerationRequest("a red fox", seed=8, **SMALL))
    assert np.array_equal(pixels(first.images[0]), pixels(again.images[0]))
    assert not np.array_equal(pixels(first.images[0]), pixels(other.images[0]))


def test_a_random_seed_is_drawn_and_reported(engine):
    result = engine.generate(GenerationRequest("a red fox", seed=None, **SMALL))
    assert result.request.seed == result.seeds[0]
    assert 0 <= result.seeds[0] < 2**32


def test_image_k_of_a_batch_matches_a_single_run_with_its_seed(engine):
    batch = engine.generate(GenerationRequest("a red fox", seed=40, num_images=3, **SMALL))
    assert batch.seeds == [40, 41, 42]
    for image, seed in zip(batch.images, batch.seeds, strict=True):
        single = engine.generate(GenerationRequest("a red fox", seed=seed, **SMALL))
        # CPU matrix kernels are not batch-invariant (about 1e-7 apart), so allow one level.
        assert np.abs(pixels(image) - pixels(single.images[0])).max() <= 1
    assert np.abs(pixels(batch.images[0]) - pixels(batch.images[1])).max() > 10


def test_each_image_starts_from_the_noise_of_its_own_seed(engine):
    pipe = engine.models.get("demo").pipeline
    shape = (4, 8, 8)

    def noise(seeds):
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        return pipe.prepare_latents(len(seeds), 4, 64, 64, torch.float32, "cpu", generators)

    batch = noise([40, 41, 42])
    for k, seed in enumerate([40, 41, 42]):
        assert torch.equal(batch[k], noise([seed])[0])
    assert batch[0].shape == shape


def test_engine_output_equals_a_bare_diffusers_call(engine):
    request = GenerationRequest("a lighthouse at dusk", negative_prompt="blurry", seed=3, **SMALL)
    ours = engine.generate(request)
    pipe = engine.models.current.pipeline
    bare = pipe(
        prompt="a lighthouse at dusk",
        negative_prompt="blurry",
        num_inference_steps=3,
        guidance_scale=request.guidance_scale,
        width=64,
        height=64,
        generator=torch.Generator("cpu").manual_seed(3),
    ).images[0]
    assert np.array_equal(pixels(ours.images[0]), pixels(bare))


def test_scheduler_swap_keeps_the_loaded_model(engine):
    engine.generate(GenerationRequest("a fox", seed=1, scheduler="Euler", **SMALL))
    pipeline = engine.models.current.pipeline
    result = engine.generate(
        GenerationRequest("a fox", seed=1, scheduler="DPM++ 2M Karras", **SMALL)
    )
    assert engine.models.current.pipeline is pipeline
    assert result.provenance["scheduler_class"] == "DPMSolverMultistepScheduler"
    assert result.provenance["scheduler_config"]["use_karras_sigmas"] is True
    back = engine.generate(GenerationRequest("a fox", seed=1, scheduler="DPM++ 2M", **SMALL))
    assert back.provenance["scheduler_config"]["use_karras_sigmas"] is False


def test_the_same_prompt_with_a_new_seed_is_not_encoded_again(engine):
    engine.generate(GenerationRequest("a cache test prompt", seed=1, **SMALL))
    misses = engine.encoder.misses
    hits = engine.encoder.hits
    engine.generate(GenerationRequest("a cache test prompt", seed=2, **SMALL))
    assert engine.encoder.misses == misses
    assert engine.encoder.hits >= hits + 2  # positive and negative


@pytest.mark.parametrize(("scheduler", "calls"), [("Euler", 4), ("Heun", 7)])
def test_progress_counts_every_step(engine, scheduler, calls):
    updates = []
    engine.generate(
        GenerationRequest("a fox", seed=1, scheduler=scheduler, width=64, height=64, steps=4),
        on_progress=updates.append,
    )
    assert [u.step for u in updates] == list(range(1, calls + 1))
    assert {u.total for u in updates} == {calls}  # Heun calls back twice per step
    assert updates[-1].preview is not None and updates[-1].preview.size == (8, 8)


def test_cancel_stops_between_steps_and_the_engine_goes_on(engine):
    cancel = threading.Event()
    seen = []

    def on_progress(update):
        seen.append(update.step)
        if update.step == 2:
            cancel.set()

    with pytest.raises(GenerationCancelled):
        engine.generate(
            GenerationRequest("a fox", seed=1, width=64, height=64, steps=10),
            on_progress=on_progress,
            cancel=cancel,
        )
    assert seen == [1, 2]
    assert engine.generate(GenerationRequest("a fox", seed=1, **SMALL)).images


def test_weighting_changes_the_picture(engine):
    plain = engine.generate(GenerationRequest("apple", seed=11, **SMALL))
    weighted = engine.generate(GenerationRequest("(red:1.5) apple", seed=11, **SMALL))
    unweighted_red = engine.generate(GenerationRequest("red apple", seed=11, **SMALL))
    assert not np.array_equal(pixels(plain.images[0]), pixels(weighted.images[0]))
    assert not np.array_equal(pixels(unweighted_red.images[0]), pixels(weighted.images[0]))


def test_long_prompts_are_chunked_not_cut(engine):
    long_prompt = ", ".join(f"detail number {n}" for n in range(40))  # about 160 tokens
    pipe_chunks = engine.encoder.count_chunks(engine.models.get("demo").pipeline, long_prompt)
    assert pipe_chunks == 3
    result = engine.generate(GenerationRequest(long_prompt, seed=1, **SMALL))
    tail_changed = engine.generate(GenerationRequest(long_prompt + ", purple", seed=1, **SMALL))
    # A word beyond token 77 still reaches the model.
    assert not np.array_equal(pixels(result.images[0]), pixels(tail_changed.images[0]))


def test_provenance_is_complete(engine):
    result = engine.generate(GenerationRequest("a fox", seed=1, **SMALL))
    p = result.provenance
    assert p["model_id"] == "demo" and p["is_demo"] is True and p["model_source"] == "demo"
    assert len(p["model_hash"]) == 10
    assert p["dtype"] == "fp32" and p["device"] == "cpu"
    assert set(p["versions"]) >= {"python", "torch", "diffusers", "transformers"}
    assert p["timings"]["total_s"] > 0
    assert result.request.to_dict()["steps"] == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"width": 100}, "multiple of 8"),
        ({"height": 4096}, "outside 64..2048"),
        ({"steps": 0}, "Steps"),
        ({"steps": 500}, "Steps"),
        ({"guidance_scale": -1.0}, "Guidance"),
        ({"num_images": 0}, "Number of images"),
        ({"seed": -5}, "Seed"),
        ({"seed": 2**64}, "Seed"),
        ({"seed": 2**64 - 2, "num_images": 3}, "at most 18446744073709551613"),
        ({"clip_skip": 0}, "Clip skip"),
        ({"clip_skip": 13}, "Clip skip"),
        ({"scheduler": "Warp drive"}, "Unknown scheduler"),
        ({"prompt": "x" * 9000}, "characters"),
        ({"prompt": "a (red fox"}, "never closed"),
    ],
)
def test_bad_settings_get_one_clear_sentence(engine, changes, message):
    request = GenerationRequest(**{"prompt": "a fox", "seed": 1, **SMALL, **changes})
    with pytest.raises(InvalidRequestError, match=message):
        engine.generate(request)


def test_an_unknown_model_is_a_clear_error_and_the_engine_survives(engine):
    with pytest.raises(ModelLoadError, match="not in the local cache"):
        engine.generate(GenerationRequest("a fox", seed=1, **SMALL), model="nobody/no-such-model")
    with pytest.raises(ModelLoadError, match="No model folder"):
        engine.generate(GenerationRequest("a fox", seed=1, **SMALL), model="./no/such/folder")
    assert engine.generate(GenerationRequest("a fox", seed=1, **SMALL)).images


def test_the_demo_as_a_single_file_checkpoint_generates_the_same_pixels(engine, models_dir):
    from engine.single_file import ensure_demo_checkpoint

    checkpoint = ensure_demo_checkpoint(models_dir)
    request = GenerationRequest("a red fox", seed=21, **SMALL)
    from_folder = engine.generate(request, model="demo")
    from_file = engine.generate(request, model=str(checkpoint))
    assert from_file.provenance["model_source"] == "single_file"
    assert from_file.provenance["model_hash"] is not None
    assert np.array_equal(pixels(from_folder.images[0]), pixels(from_file.images[0]))
    engine.models.get("demo")  # leave the shared engine on the demo folder


def test_rows_with_their_own_prompts_equal_single_runs(engine):
    from engine.request import ImageSpec

    settings = GenerationRequest("ignored", seed=999, num_images=5, **SMALL)
    specs = [ImageSpec("a red fox", "", 12), ImageSpec("a blue whale, long", "blurry", 3)]
    rows = engine.generate_rows(specs, settings)
    assert rows.seeds == [12, 3]
    assert rows.prompts == ["a red fox", "a blue whale, long"]
    assert rows.negative_prompts == ["", "blurry"]
    assert rows.request is settings
    for image, spec in zip(rows.images, specs, strict=True):
        single = engine.generate(
            GenerationRequest(spec.prompt, spec.negative_prompt, spec.seed, **SMALL)
        )
        assert np.abs(pixels(image) - pixels(single.images[0])).max() <= 1


def test_bad_rows_get_one_clear_sentence(engine):
    from engine.request import ImageSpec

    settings = GenerationRequest("x", **SMALL)
    with pytest.raises(InvalidRequestError, match="Number of images"):
        engine.generate_rows([], settings)
    with pytest.raises(InvalidRequestError, match="Seed"):
        engine.generate_rows([ImageSpec("a", "", -1)], settings)
    with pytest.raises(InvalidRequestError, match="never closed"):
        engine.generate_rows([ImageSpec("a (fox", "", 1)], settings)


def test_unexpected_failures_leave_the_engine_as_one_sentence_with_the_cause(engine, monkeypatch):
    from engine.errors import EngineError

    def broken(*args, **kwargs):
        raise RuntimeError("a bug deep inside a library\nwith a second line")

    monkeypatch.setattr(engine, "_text_inputs", broken)
    with pytest.raises(EngineError) as caught:
        engine.generate(GenerationRequest("a fox", seed=1, **SMALL))
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_reloading_changed_weights_from_the_same_path_encodes_again(tmp_path, models_dir):
    from diffusers import StableDiffusionPipeline

    from engine.demo_model import build_demo_pipeline
    from engine.generate import Engine
    from engine.loading import ModelManager

    folder = tmp_path / "my-model"
    build_demo_pipeline().save_pretrained(folder)
    engine = Engine(ModelManager(models_dir))
    request = GenerationRequest("a red fox", seed=4, **SMALL)
    before = engine.generate(request, model=str(folder))
    # The artist retrains the text encoder and saves it over the old files.
    changed = StableDiffusionPipeline.from_pretrained(folder)
    with torch.no_grad():
        for parameter in changed.text_encoder.parameters():
            parameter.mul_(1.5)
    changed.save_pretrained(folder)
    engine.models.unload()
    after = engine.generate(request, model=str(folder))
    fresh = Engine(ModelManager(models_dir)).generate(request, model=str(folder))
    assert np.array_equal(pixels(after.images[0]), pixels(fresh.images[0]))
    assert not np.array_equal(pixels(after.images[0]), pixels(before.images[0]))


def test_a_broken_prompt_resolver_is_an_engine_error(engine):
    from engine.errors import EngineError
    from engine.generate import Engine

    def unreadable(text, seed):
        raise PermissionError(13, "Permission denied", "/srv/wildcards/hat.txt")

    broken = Engine(engine.models, resolve_prompt=unreadable)
    with pytest.raises(EngineError, match="could not be resolved") as caught:
        broken.generate(GenerationRequest("a __hat__", seed=1, **SMALL))
    assert "/srv" not in str(caught.value)
    assert isinstance(caught.value.__cause__, PermissionError)


@pytest.mark.parametrize("seed", [2**32, 2**63, 2**64 - 1])
def test_64_bit_seeds_are_the_seeds_torch_takes(engine, seed):
    ours = engine.generate(GenerationRequest("a red fox", seed=seed, **SMALL))
    pipe = engine.models.current.pipeline
    bare = pipe(
        prompt="a red fox",
        num_inference_steps=3,
        guidance_scale=7.0,
        width=64,
        height=64,
        generator=torch.Generator("cpu").manual_seed(seed),
    ).images[0]
    assert ours.seeds == [seed]
    assert np.array_equal(pixels(ours.images[0]), pixels(bare))
