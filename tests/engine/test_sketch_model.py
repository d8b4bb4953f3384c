"""The shipped sketch model: loads like any diffusers folder, draws, follows weights; its CLIP
scores; its training script runs a step per part, resumes, and exports a loadable folder."""

import numpy as np
import pytest
import torch
from safetensors import safe_open

from engine.generate import Engine
from engine.loading import ModelManager
from engine.model_ref import resolve_model_ref
from engine.request import GenerationRequest
from engine.sketch import clip_path, load_sketch_clip, sketch_model_dir
from engine.sketch.checker import subject_mask
from engine.sketch.world import Scene, full_caption, render_scene


@pytest.fixture(scope="module")
def sketch_engine(tmp_path_factory):
    return Engine(ModelManager(tmp_path_factory.mktemp("models")))


def test_the_shipped_files_are_fp16_safetensors_under_25_mb():
    files = [p for p in sketch_model_dir().rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 25 * 1024 * 1024
    weights = [p for p in files if p.suffix == ".safetensors"]
    # the text encoder's whole CLIP, and the scoring CLIP
    assert {p.parent.name for p in weights} == {"unet", "vae", "text_encoder", "clip"}
    for path in weights:
        with safe_open(path, "pt") as f:
            dtypes = {f.get_tensor(k).dtype for k in f.keys()}  # noqa: SIM118 (not a dict)
            assert dtypes <= {torch.float16, torch.int64}, path


def test_sketch_resolves_and_draws_at_128_and_192(sketch_engine):
    assert resolve_model_ref("sketch").source == "sketch"
    for size in (128, 192):
        result = sketch_engine.generate(
            GenerationRequest("a red circle, night", seed=1, steps=2, width=size, height=size),
            model="sketch",
        )
        assert result.images[0].size == (size, size)
    loaded = sketch_engine.models.current
    assert loaded.kind == "sd1" and loaded.dtype == torch.float32 and loaded.model_hash


def redness(image) -> float:
    pixels = np.asarray(image.convert("RGB").resize((128, 128)), dtype=np.float32)
    mask = subject_mask(pixels.astype(np.uint8))
    region = pixels[mask] if mask.sum() > 20 else pixels.reshape(-1, 3)
    return float((region[:, 0] - region[:, 2]).mean())


def mean_redness(engine, prompt, seeds):
    values = []
    for seed in seeds:
        request = GenerationRequest(prompt, seed=seed, steps=12, width=128, height=128)
        values.append(redness(engine.generate(request, model="sketch").images[0]))
    return np.mean(values)


def test_colour_words_change_the_colour(sketch_engine):
    red = mean_redness(sketch_engine, "a red circle", (1, 2, 3))
    blue = mean_redness(sketch_engine, "a blue circle", (1, 2, 3))
    assert red > blue + 60  # measured: about 154 against -193


def test_prompt_weights_change_the_colour(sketch_engine):
    seeds = range(1, 7)
    red_heavy = mean_redness(sketch_engine, "a (red:1.4) (blue:0.7) circle", seeds)
    blue_heavy = mean_redness(sketch_engine, "a (red:0.7) (blue:1.4) circle", seeds)
    assert red_heavy > blue_heavy + 15, (red_heavy, blue_heavy)
    # the weights, not the word order, decide
    red_last = mean_redness(sketch_engine, "a (blue:0.7) (red:1.4) circle", seeds)
    blue_last = mean_redness(sketch_engine, "a (blue:1.4) (red:0.7) circle", seeds)
    assert red_last > blue_last + 15, (red_last, blue_last)
    # measured: 97.7 against -172.4, and 132.1 against -186.7 (the previous release: 90.9
    # against 79.3 for the first pair)


def subject_x(image) -> float:
    """Where the subject's pixels are across the picture, 0 (left) to 1 (right)."""
    pixels = np.asarray(image.convert("RGB").resize((128, 128)), dtype=np.uint8)
    mask = subject_mask(pixels)
    return float(np.nonzero(mask)[1].mean() / 127) if mask.sum() > 20 else 0.5


def test_position_words_move_the_subject(sketch_engine):
    xs = {}
    for side in ("left", "right"):
        prompt = f"a large red circle, {side}, overcast"
        requests = [GenerationRequest(prompt, seed=s, steps=12, width=128, height=128)
                    for s in (1, 2, 3, 4)]  # fmt: skip
        xs[side] = [subject_x(sketch_engine.generate(r, model="sketch").images[0])
                    for r in requests]  # fmt: skip
    left, right = np.array(xs["left"]), np.array(xs["right"])
    assert (left + 0.1 < right).all(), xs  # on every seed
    assert left.mean() < 0.45 and right.mean() > 0.55, xs
    # measured: means 0.36 and 0.59, the closest seeds 0.45 against 0.60 (the world puts a
    # subject's centre at 0.27 and 0.73; large ones are drawn a little towards the middle)


def test_the_text_tower_tells_position_and_shape_words_apart():
    model, _, tokenizer = load_sketch_clip()

    def states(caption: str) -> torch.Tensor:
        ids = tokenizer([caption], padding="max_length", max_length=77, return_tensors="pt")
        with torch.no_grad():
            return model.text_model(ids.input_ids).last_hidden_state[0, :20]

    base = states("a small green triangle, left, sunrise, pixel art")
    for other in ("a small green triangle, right, sunrise, pixel art",
                  "a small green star, left, sunrise, pixel art"):  # fmt: skip
        gap = float((states(other) - base).norm(dim=-1).mean())
        assert gap > 1.0, (other, gap)  # 0.3 and 0.7 before the joint stage


def test_the_sketch_clip_prefers_the_right_caption():
    model, processor, tokenizer = load_sketch_clip()
    assert clip_path().name == "clip"  # the scoring CLIP
    scene = Scene("star", "yellow", "large", "centre", "night", "flat")
    captions = [
        full_caption(scene),
        full_caption(Scene("star", "blue", "large", "centre", "night", "flat")),
        full_caption(Scene("house", "yellow", "large", "centre", "golden hour", "flat")),
    ]
    with torch.no_grad():
        pixels = processor(images=[render_scene(scene)], return_tensors="pt").pixel_values
        ids = tokenizer(captions, padding="max_length", max_length=77, return_tensors="pt")
        logits = model(input_ids=ids.input_ids, pixel_values=pixels).logits_per_image[0]
    assert int(logits.argmax()) == 0


def test_one_training_step_per_part_resumes_and_exports(tmp_path):
    from diffusers import StableDiffusionPipeline

    from engine.sketch.export import export_model
    from engine.sketch.train import Checkpoint, parse_args, run_all

    work = tmp_path / "work"
    tiny = ["--scenes", "24", "--vae-batch", "2", "--clip-batch", "4", "--unet-batch", "2",
            "--joint-emphasis-from", "0", "--joint-emphasis-share", "0.5",
            "--weights-steps", "1"]  # fmt: skip
    run_all(
        parse_args(
            [
                "all",
                "--workdir",
                str(work),
                *tiny,
                "--vae-steps",
                "1",
                "--clip-steps",
                "1",
                "--unet-steps",
                "1",
                "--joint-steps",
                "1",
            ]
        )
    )
    assert Checkpoint(work, "unet").load()["step"] == 1
    run_all(
        parse_args(
            [
                "all",
                "--workdir",
                str(work),
                *tiny,
                "--vae-steps",
                "1",
                "--clip-steps",
                "1",
                "--unet-steps",
                "2",
                "--joint-steps",
                "2",
            ]
        )
    )
    assert Checkpoint(work, "unet").load()["step"] == 2  # resumed, not restarted
    joint = Checkpoint(work, "joint").load()
    assert joint["step"] == 2
    table = "text_model.embeddings.token_embedding.weight"
    before = Checkpoint(work, "clip").load()["model"][table]
    assert not torch.equal(before, joint["clip"][table])  # the denoising loss reached the text
    weights = Checkpoint(work, "weights").load()
    assert weights["step"] == 1 and weights["done"]
    assert set(weights["text_heads"]) == set(joint["text_heads"])
    assert Checkpoint(work, "vae").load()["step"] == 1
    folder = export_model(work, tmp_path / "model")
    pipe = StableDiffusionPipeline.from_pretrained(folder, dtype=torch.float32)
    image = pipe("a red circle", num_inference_steps=1, height=64, width=64, output_type="np")
    assert image.images[0].shape == (64, 64, 3)


def test_emphasis_captions_weight_the_scene_colour_up_and_another_down():
    import random

    from engine.sketch.train import emphasis_caption
    from engine.sketch.world import COLOURS, sample_scene
    from prompts.weighting import parse_weighted

    rng = random.Random(3)
    for _ in range(50):
        scene = sample_scene(rng)
        weights = {
            seg.text: seg.weight for seg in parse_weighted(emphasis_caption(scene, rng))
            if seg.text in COLOURS
        }  # fmt: skip
        (other,) = set(weights) - {scene.colour}
        assert weights[scene.colour] >= 1.2 and weights[other] <= 0.8


def test_hard_negative_groups_differ_from_their_scene_in_one_attribute_each():
    import random

    from engine.sketch.train import HARD_ATTRIBUTES, hard_negative_group

    for seed in range(20):
        base, *variants = hard_negative_group(random.Random(seed))
        assert len(variants) == len(HARD_ATTRIBUTES)
        for attribute, variant in zip(HARD_ATTRIBUTES, variants, strict=True):
            changed = [k for k, v in base.__dict__.items() if getattr(variant, k) != v]
            assert changed == [attribute]


def test_clip_hard_tunes_the_clip_the_unet_resumes_on(tmp_path):
    from engine.sketch.train import Checkpoint, build_clip, main

    work = tmp_path / "work"
    work.mkdir()
    clip = build_clip()
    Checkpoint(work, "clip").save({"model": clip.state_dict(), "step": 0, "done": True})
    main(["clip-hard", "--workdir", str(work), "--clip-steps", "1", "--clip-batch", "10",
          "--threads", "1"])  # fmt: skip
    tuned = Checkpoint(work, "clip").load()
    assert tuned["hard"] and Checkpoint(work, "clip-hard").load()["step"] == 1
    before = clip.state_dict()["text_model.embeddings.token_embedding.weight"]
    after = tuned["model"]["text_model.embeddings.token_embedding.weight"]
    assert not torch.equal(before, after)


def test_bare_padding_gives_a_caption_the_empty_captions_summary_states():
    from engine.sketch.train import build_clip, weighted_states
    from engine.tokenizer import load_clip_tokenizer

    text_model, tokenizer = build_clip().text_model.eval(), load_clip_tokenizer()
    captions = ["a red circle, left", "a blue star"]

    def plain(caption: str) -> torch.Tensor:
        ids = tokenizer([caption], padding="max_length", max_length=77, return_tensors="pt")
        return text_model(ids.input_ids).last_hidden_state[0]

    with torch.no_grad():
        states = weighted_states(text_model, tokenizer, captions, [True, False])
        red, blue, empty = plain(captions[0]), plain(captions[1]), plain("")
    end = 6  # "a red circle, left" is five tokens after the start token
    assert torch.allclose(states[0, :end], red[:end], atol=1e-5)
    assert torch.allclose(states[0, end:], empty[end:], atol=1e-5)
    assert not torch.allclose(red[end:], empty[end:], atol=1e-2)
    assert torch.allclose(states[1], blue, atol=1e-5)
