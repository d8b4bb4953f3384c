"""SD3 and FLUX.1 through the engine, against the same call made straight on bare diffusers.

The models are the built-in tiny `demo-sd3` and `demo-flux` (FLUX dev's shape: guidance
embedding, resolution shift) and a FLUX schnell-like folder (no guidance embedding, fixed shift),
all built from configs and loaded back from folders through `from_pretrained`. For a plain
prompt and every scheduler each model offers, the engine's pixels equal `pipe(prompt=...)`
within one level; weights follow ComfyUI's rule `z = (z - z_empty) * w + z_empty` on every
encoder, written out here from diffusers' own `_get_clip_prompt_embeds` and
`_get_t5_prompt_embeds`.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from engine.demo_flow_models import FLUX_CONFIGS, build_flux_pipeline
from engine.errors import InvalidRequestError
from engine.flow_encoding import FlowEmbedding
from engine.generate import Engine
from engine.loading import ModelManager, pipeline_kind
from engine.request import GenerationRequest
from engine.schedulers import make_scheduler, schedulers_for

SMALL = {"width": 64, "height": 64, "steps": 3}
PROMPT = "a red fox in the snow, golden hour"
# model -> (kind, the guidance it is run with, the T5 length diffusers' users give it)
MODELS = {"sd3": ("sd3", 4.5, 256), "flux": ("flux", 3.5, 512), "schnell": ("flux", 0.0, 256)}


@pytest.fixture(scope="module")
def schnell_folder(tmp_path_factory):
    """FLUX schnell in miniature: no guidance embedding, a fixed shift of 1."""
    configs = copy.deepcopy(FLUX_CONFIGS)
    configs["transformer"]["guidance_embeds"] = False
    configs["scheduler"] = {
        "num_train_timesteps": 1000,
        "shift": 1.0,
        "use_dynamic_shifting": False,
        "base_shift": 0.5,
        "max_shift": 1.15,
        "base_image_seq_len": 256,
        "max_image_seq_len": 4096,
    }
    folder = tmp_path_factory.mktemp("flow") / "FLUX.1-schnell-tiny"
    build_flux_pipeline(configs).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def flow(models_dir, schnell_folder):
    """One engine per model, each keeping its model loaded: name -> (engine, model ref)."""
    refs = {"sd3": "demo-sd3", "flux": "demo-flux", "schnell": str(schnell_folder)}
    return {name: (Engine(ModelManager(models_dir)), ref) for name, ref in refs.items()}


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def run(flow, name, prompt=PROMPT, **settings):
    engine, ref = flow[name]
    guidance = MODELS[name][1]
    options = {"seed": 5, "guidance_scale": guidance, "scheduler": "Euler", **SMALL, **settings}
    return engine.generate(GenerationRequest(prompt, **options), model=ref)


def loaded(flow, name):
    engine, ref = flow[name]
    return engine.models.get(ref)


def bare(flow, name, scheduler="Euler", prompt=PROMPT, seed=5, shift=None, **call):
    """The call a diffusers user makes: text prompts, one CPU generator per image."""
    model = loaded(flow, name)
    kind, guidance, length = MODELS[name]
    model.pipeline.scheduler = make_scheduler(scheduler, model.base_scheduler_config, kind, shift)
    options = {
        "guidance_scale": guidance,
        "max_sequence_length": length,
        "num_inference_steps": SMALL["steps"],
        "width": 64,
        "height": 64,
        **call,
    }
    generator = [torch.Generator("cpu").manual_seed(seed)]
    return model.pipeline(prompt=prompt, generator=generator, **options).images[0]


def test_the_kind_is_read_from_the_components(flow, engine):
    assert loaded(flow, "sd3").kind == "sd3"
    assert loaded(flow, "flux").kind == "flux"
    assert loaded(flow, "schnell").kind == "flux"
    assert pipeline_kind(engine.models.get("demo").pipeline) == "sd1"
    sd3 = loaded(flow, "sd3").pipeline
    assert type(sd3.text_encoder_3).__name__ == "T5EncoderModel"
    assert sd3.tokenizer.pad_token == "<|endoftext|>" and sd3.tokenizer_2.pad_token == "!"
    assert sd3.tokenizer_3.pad_token_id == 0 and sd3.tokenizer_3.eos_token_id == 1


CASES = [(name, scheduler) for name in MODELS for scheduler in schedulers_for(MODELS[name][0])]


@pytest.mark.parametrize(("name", "scheduler"), CASES)
def test_a_plain_prompt_gives_the_pixels_of_a_bare_diffusers_call(flow, name, scheduler):
    negative = "blurry, lowres" if name == "sd3" else ""
    ours = run(flow, name, negative_prompt=negative, scheduler=scheduler)
    call = {"negative_prompt": negative} if name == "sd3" else {}
    theirs = bare(flow, name, scheduler, **call)
    assert ours.provenance["pipeline_kind"] == MODELS[name][0]
    assert ours.provenance["scheduler"] == scheduler
    assert np.abs(pixels(ours.images[0]) - pixels(theirs)).max() <= 1


def test_the_flow_schedulers_are_the_classes_forge_names_mean(flow):
    base = loaded(flow, "sd3").base_scheduler_config
    euler = make_scheduler("Euler", base, "sd3")
    assert type(euler).__name__ == "FlowMatchEulerDiscreteScheduler" and euler.config.shift == 3
    assert make_scheduler("Euler Beta", base, "sd3").config.use_beta_sigmas is True
    heun = make_scheduler("Heun", base, "sd3")
    assert type(heun).__name__ == "FlowMatchHeunDiscreteScheduler" and heun.config.shift == 3
    for name, class_name in (
        ("DPM++ 2M", "DPMSolverMultistepScheduler"),
        ("UniPC", "UniPCMultistepScheduler"),
        ("DEIS", "DEISMultistepScheduler"),
    ):
        solver = make_scheduler(name, base, "sd3")
        assert type(solver).__name__ == class_name
        assert solver.config.prediction_type == "flow_prediction"
        assert solver.config.use_flow_sigmas is True and solver.config.flow_shift == 3
    assert "Heun" in schedulers_for("sd3") and "Heun" not in schedulers_for("flux")
    assert "Euler a" not in schedulers_for("flux") and "Euler Beta" not in schedulers_for("sd1")


@pytest.mark.parametrize(("name", "scheduler"), [("flux", "Euler"), ("sd3", "DPM++ 2M")])
def test_image_k_of_a_batch_equals_a_single_run_of_seed_plus_k(flow, name, scheduler):
    batch = run(flow, name, seed=70, num_images=2, scheduler=scheduler)
    single = run(flow, name, seed=71, scheduler=scheduler)
    assert batch.seeds == [70, 71]
    assert np.abs(pixels(batch.images[1]) - pixels(single.images[0])).max() <= 1
    assert np.abs(pixels(batch.images[0]) - pixels(batch.images[1])).max() > 10
    assert "DPM++ 2M SDE" not in schedulers_for(MODELS[name][0])  # its noise is not seeded


@pytest.mark.parametrize("name", ["sd3", "flux"])
def test_weights_of_one_are_exactly_the_plain_prompt(flow, name):
    engine, _ = flow[name]
    pipe, kind = loaded(flow, name).pipeline, MODELS[name][0]
    weighted = engine.encoder.encode(pipe, kind, "a (red:1.0) fox, (snow:1)", 1, 1, 256)
    plain = engine.encoder.encode(pipe, kind, "a red fox, snow", 1, 1, 256)
    assert torch.equal(weighted.embeds, plain.embeds)
    assert torch.equal(weighted.pooled, plain.pooled)
    first = run(flow, name, "a (red:1.0) fox, (snow:1)")
    second = run(flow, name, "a red fox, snow")
    assert np.array_equal(pixels(first.images[0]), pixels(second.images[0]))


def move(z: torch.Tensor, empty: torch.Tensor, positions: dict[int, float]) -> torch.Tensor:
    """ComfyUI's token weights, written from the formula for the given token positions."""
    z = z.clone()
    for position, weight in positions.items():
        z[:, position] = (z[:, position] - empty[:, position]) * weight + empty[:, position]
    return z


def positions_of(tokenizer, plain: str, words: dict[str, float], offset: int) -> dict[int, float]:
    """Token positions (after `offset` leading special tokens) of each weighted word."""
    pieces = tokenizer.tokenize(plain)
    found = {}
    for word, weight in words.items():
        hits = [i for i, piece in enumerate(pieces) if piece.strip("▁").replace("</w>", "") == word]
        assert hits, f"{word!r} is not one token of {pieces}"
        found |= {offset + i: weight for i in hits}
    return found


WEIGHTED = "a (red:1.5) fox in [deep] snow"
PLAIN = "a red fox in deep snow"
WORDS = {"red": 1.5, "deep": 1 / 1.1}


def test_sd3_weights_move_each_encoders_states_from_the_empty_prompts(flow):
    engine, _ = flow["sd3"]
    pipe = loaded(flow, "sd3").pipeline
    ours = engine.encoder.encode(pipe, "sd3", WEIGHTED, 1, 1, 256)
    with torch.no_grad():
        clip = []
        pooled = []
        for index, tokenizer in enumerate((pipe.tokenizer, pipe.tokenizer_2)):
            z, pool = pipe._get_clip_prompt_embeds(PLAIN, clip_model_index=index)
            empty, _ = pipe._get_clip_prompt_embeds("", clip_model_index=index)
            clip.append(move(z, empty, positions_of(tokenizer, PLAIN, WORDS, 1)))
            pooled.append(pool)  # pooled vectors are not weighted
        t5 = pipe._get_t5_prompt_embeds(PLAIN, max_sequence_length=256)
        t5_empty = pipe._get_t5_prompt_embeds("", max_sequence_length=256)
        t5 = move(t5, t5_empty, positions_of(pipe.tokenizer_3, PLAIN, WORDS, 0))
        clip_states = torch.cat(clip, dim=-1)
        clip_states = torch.nn.functional.pad(
            clip_states, (0, t5.shape[-1] - clip_states.shape[-1])
        )
        expected = torch.cat([clip_states, t5], dim=-2)
    assert isinstance(ours, FlowEmbedding) and ours.clip_chunks == 1
    torch.testing.assert_close(ours.embeds, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.pooled, torch.cat(pooled, dim=-1), rtol=0, atol=0)
    # Each encoder's part moved: CLIP-L, CLIP-G and T5 all differ from the plain prompt's.
    plain = engine.encoder.encode(pipe, "sd3", PLAIN, 1, 1, 256).embeds
    width_l = pipe.text_encoder.config.hidden_size
    width_g = pipe.text_encoder_2.config.hidden_size
    for part in (
        (slice(0, 77), slice(0, width_l)),
        (slice(0, 77), slice(width_l, width_l + width_g)),
        (slice(77, None), slice(None)),
    ):
        assert not torch.equal(ours.embeds[0][part], plain[0][part])


def test_flux_weights_move_t5_from_the_empty_prompt_and_leave_the_pooled_clip(flow):
    engine, _ = flow["flux"]
    pipe = loaded(flow, "flux").pipeline
    ours = engine.encoder.encode(pipe, "flux", WEIGHTED, 0, 1, 512)
    with torch.no_grad():
        t5 = pipe._get_t5_prompt_embeds(PLAIN, max_sequence_length=512)
        empty = pipe._get_t5_prompt_embeds("", max_sequence_length=512)
        expected = move(t5, empty, positions_of(pipe.tokenizer_2, PLAIN, WORDS, 0))
        pooled = pipe._get_clip_prompt_embeds(PLAIN)
    torch.testing.assert_close(ours.embeds, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.pooled, pooled, rtol=0, atol=0)
    assert not torch.equal(ours.embeds, t5)


def long_prompt() -> str:
    """About 400 T5 tokens, no commas (so A1111's comma backtrack moves nothing)."""
    words = ("a", "red", "fox", "walks", "through", "deep", "snow", "under", "a", "golden")
    words += ("sky", "near", "old", "pine", "trees")
    return " ".join(words[i % len(words)] for i in range(360))


def test_a_400_token_prompt_reaches_t5_whole_and_clip_in_chunks(flow):
    text = long_prompt()
    engine, _ = flow["sd3"]
    pipe = loaded(flow, "sd3").pipeline
    t5_count = len(pipe.tokenizer_3(text).input_ids)
    clip_count = len(pipe.tokenizer(text, add_special_tokens=False).input_ids)
    assert 380 <= t5_count <= 511 and clip_count > 150
    ours = engine.encoder.encode(pipe, "sd3", text, 0, 1, 512)
    chunks = -(-clip_count // 75)
    assert ours.clip_chunks == chunks
    assert ours.embeds.shape[1] == 77 * chunks + 512
    with torch.no_grad():
        whole_t5 = pipe._get_t5_prompt_embeds(text, max_sequence_length=512)
        first_l, _ = pipe._get_clip_prompt_embeds(text, clip_model_index=0)  # cut at 77
    torch.testing.assert_close(ours.embeds[:, 77 * chunks :], whole_t5, rtol=0, atol=0)
    torch.testing.assert_close(ours.embeds[:, :77, : first_l.shape[-1]], first_l, rtol=0, atol=0)
    empty = engine.encoder.encode(pipe, "sd3", "", 0, 1, 512).embeds[:, :77]
    for chunk in range(1, chunks):  # the later chunks carry the rest of the prompt
        assert not torch.equal(ours.embeds[:, 77 * chunk : 77 * (chunk + 1)], empty)
    # FLUX: T5 reads it whole; CLIP pools its first chunk.
    flux_engine, _ = flow["flux"]
    flux = loaded(flow, "flux").pipeline
    embedded = flux_engine.encoder.encode(flux, "flux", text, 0, 1, 512)
    with torch.no_grad():
        torch.testing.assert_close(
            embedded.embeds,
            flux._get_t5_prompt_embeds(text, max_sequence_length=512),
            rtol=0,
            atol=0,
        )
        torch.testing.assert_close(
            embedded.pooled, flux._get_clip_prompt_embeds(text), rtol=0, atol=0
        )
    result = run(flow, "flux", text)
    assert not any("T5 reads" in note for note in result.provenance["notes"])
    cut = run(flow, "flux", text, max_sequence_length=256)
    assert any(note.startswith("T5 reads 256 tokens") for note in cut.provenance["notes"])


def test_each_model_reads_t5_to_its_own_length_unless_told(flow):
    assert run(flow, "sd3").provenance["max_sequence_length"] == 256
    assert run(flow, "flux").provenance["max_sequence_length"] == 512  # FLUX dev
    assert run(flow, "schnell").provenance["max_sequence_length"] == 256  # FLUX schnell
    short = run(flow, "flux", max_sequence_length=64)
    assert short.provenance["max_sequence_length"] == 64
    assert short.request.max_sequence_length == 64
    theirs = bare(flow, "flux", max_sequence_length=64)
    assert np.abs(pixels(short.images[0]) - pixels(theirs)).max() <= 1
    default = run(flow, "flux")
    assert np.abs(pixels(short.images[0]) - pixels(default.images[0])).max() > 0


def test_flux_takes_a_negative_prompt_only_with_true_cfg(flow):
    plain = run(flow, "flux")
    ignored = run(flow, "flux", negative_prompt="blurry, lowres")
    assert np.array_equal(pixels(plain.images[0]), pixels(ignored.images[0]))
    assert "The negative prompt was not used" in " ".join(ignored.provenance["notes"])
    assert ignored.provenance["true_cfg_scale"] == 1.0
    assert ignored.provenance["guidance"] == "distilled"
    true_cfg = run(flow, "flux", negative_prompt="blurry, lowres", true_cfg_scale=2.5)
    theirs = bare(flow, "flux", negative_prompt="blurry, lowres", true_cfg_scale=2.5)
    assert np.abs(pixels(true_cfg.images[0]) - pixels(theirs)).max() <= 1
    assert np.abs(pixels(true_cfg.images[0]) - pixels(plain.images[0])).max() > 0
    assert true_cfg.provenance["true_cfg_scale"] == 2.5
    assert not true_cfg.provenance["notes"]
    assert run(flow, "schnell").provenance["guidance"] == "none"


def test_sd3_uses_cfg_with_its_negative_prompt(flow):
    with_negative = run(flow, "sd3", negative_prompt="blurry")
    without = run(flow, "sd3")
    assert np.abs(pixels(with_negative.images[0]) - pixels(without.images[0])).max() > 0
    # CFG 0 (SD3.5 Large Turbo's setting): no guidance, so the negative prompt changes nothing.
    turbo = run(flow, "sd3", negative_prompt="blurry", guidance_scale=0.0)
    plain = run(flow, "sd3", guidance_scale=0.0)
    assert np.array_equal(pixels(turbo.images[0]), pixels(plain.images[0]))
    assert "SD3 reads it only with CFG above 1" in " ".join(turbo.provenance["notes"])
    noted = run(flow, "sd3", true_cfg_scale=3.0)
    assert "True CFG was ignored" in " ".join(noted.provenance["notes"])


def test_sd3_clip_skip_is_diffusers_clip_skip(flow):
    ours = run(flow, "sd3", clip_skip=2, guidance_scale=1.0)
    theirs = bare(flow, "sd3", clip_skip=1, guidance_scale=1.0)  # diffusers counts from 0
    assert np.abs(pixels(ours.images[0]) - pixels(theirs)).max() <= 1
    assert np.abs(pixels(ours.images[0]) - pixels(run(flow, "sd3").images[0])).max() > 0


def test_what_a_flow_model_cannot_do_is_refused_in_one_sentence(flow):
    with pytest.raises(InvalidRequestError, match="Clip skip does not apply to FLUX"):
        run(flow, "flux", clip_skip=2)
    with pytest.raises(InvalidRequestError, match="Width 72 is not a multiple of 16"):
        run(flow, "flux", width=72)
    with pytest.raises(InvalidRequestError, match=r"Height 88 is not a multiple of 16.*try 80"):
        run(flow, "sd3", height=88)
    with pytest.raises(InvalidRequestError, match="'Euler a' for a FLUX model; choose one of"):
        run(flow, "flux", scheduler="Euler a")
    with pytest.raises(InvalidRequestError, match="'Heun' for a FLUX model"):
        run(flow, "flux", scheduler="Heun")
    with pytest.raises(InvalidRequestError, match="Max sequence length must be"):
        run(flow, "flux", max_sequence_length=1024)


def test_the_shift_replaces_the_models_own(flow):
    shifted = run(flow, "flux", shift=2.0)
    assert shifted.provenance["shift"] == 2.0
    assert shifted.provenance["scheduler_config"]["shift"] == 2.0
    assert run(flow, "flux").provenance["shift"] is None  # FLUX dev shifts by resolution
    assert run(flow, "sd3").provenance["shift"] == 3.0
    from diffusers import DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler

    pipe = loaded(flow, "flux").pipeline
    base = loaded(flow, "flux").base_scheduler_config
    pipe.scheduler = FlowMatchEulerDiscreteScheduler.from_config(
        base, shift=2.0, use_dynamic_shifting=False
    )
    theirs = pipe(
        PROMPT,
        guidance_scale=3.5,
        num_inference_steps=3,
        width=64,
        height=64,
        generator=[torch.Generator().manual_seed(5)],
    ).images[0]
    assert np.abs(pixels(shifted.images[0]) - pixels(theirs)).max() <= 1
    # SD3 with DPM++ 2M on flow sigmas shifted by 2, built straight from diffusers.
    ours = run(flow, "sd3", scheduler="DPM++ 2M", shift=2.0)
    sd3 = loaded(flow, "sd3").pipeline
    sd3.scheduler = DPMSolverMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=2.0
    )
    theirs = sd3(
        PROMPT,
        guidance_scale=4.5,
        num_inference_steps=3,
        width=64,
        height=64,
        generator=[torch.Generator().manual_seed(5)],
    ).images[0]
    assert np.abs(pixels(ours.images[0]) - pixels(theirs)).max() <= 1


def test_settings_other_models_do_not_take_are_noted(engine):
    result = engine.generate(
        GenerationRequest("a fox", seed=1, max_sequence_length=128, shift=2.0, **SMALL)
    )
    assert "Ignored max sequence length, shift: only SD3 and FLUX" in " ".join(
        result.provenance["notes"]
    )


@pytest.mark.parametrize("name", ["sd3", "flux"])
def test_the_live_preview_shows_the_forming_picture(flow, name):
    previews = []
    engine, ref = flow[name]
    engine.generate(
        GenerationRequest(PROMPT, seed=5, scheduler="Euler", **SMALL),
        model=ref,
        on_progress=lambda update: previews.append(update.preview),
    )
    assert len(previews) == SMALL["steps"]
    assert all(p is not None and p.size == (8, 8) for p in previews)


def test_the_budget_of_each_encoder_is_what_the_engine_feeds_it(flow):
    from engine.model_kinds import encoder_specs
    from prompts.encoder_budgets import encoder_budgets

    text = long_prompt()
    sd3 = loaded(flow, "sd3").pipeline
    budgets = encoder_budgets(text, encoder_specs(sd3, "sd3", 512))
    assert [(b.name, b.role) for b in budgets] == [
        ("CLIP-L", "chunks"),
        ("CLIP-G", "chunks"),
        ("T5", "sequence"),
    ]
    engine, _ = flow["sd3"]
    embedding = engine.encoder.encode(sd3, "sd3", text, 0, 1, 512)
    assert len(budgets[0].clip.chunks) == embedding.clip_chunks
    assert budgets[2].sequence.limit == 512 and budgets[2].sequence.fits
    assert budgets[2].token_count == len(sd3.tokenizer_3(text).input_ids) - 1  # without </s>
    assert encoder_specs(sd3, "sd3")[2].limit == 256  # SD3's default
    flux = loaded(flow, "flux").pipeline
    flux_budgets = encoder_budgets(text, encoder_specs(flux, "flux"))
    assert [(b.name, b.role) for b in flux_budgets] == [("CLIP-L", "pooled"), ("T5", "sequence")]
    assert flux_budgets[1].sequence.limit == 512
    schnell = loaded(flow, "schnell").pipeline
    assert encoder_specs(schnell, "flux")[1].limit == 256
    cut = encoder_budgets(text, encoder_specs(schnell, "flux"))[1].sequence
    assert not cut.fits and cut.cut_words


def test_a_comparison_over_shift_matches_single_generations(flow):
    from engine.compare_plan import ComparePlan, CompareVariant, batches, parse_axis
    from engine.compare_run import run_plan

    engine, ref = flow["flux"]
    axis = parse_axis("shift=1,3")
    assert axis.label == "Shift" and axis.values == (1.0, 3.0)
    settings = GenerationRequest("", guidance_scale=3.5, scheduler="Euler", **SMALL)
    plan = ComparePlan((CompareVariant("A", PROMPT),), (5,), settings, model=ref, axis=axis)
    assert len(batches(plan.cells())) == 2  # different shifts never share a pipeline call
    grid = run_plan(engine, plan)
    images = [pixels(cell.image) for cell in grid.cells]
    assert np.abs(images[0] - images[1]).max() > 0
    for cell, image in zip(grid.cells, images, strict=True):
        single = run(flow, "flux", shift=cell.cell.settings.shift)
        assert np.abs(image - pixels(single.images[0])).max() <= 1
    assert parse_axis("true_cfg=1,2").values == (1.0, 2.0)
    assert parse_axis("t5_length=128,256").name == "max_sequence_length"


def test_break_starts_a_clip_chunk_and_is_a_space_to_t5(flow):
    engine, _ = flow["sd3"]
    pipe = loaded(flow, "sd3").pipeline
    ours = engine.encoder.encode(pipe, "sd3", "a red fox BREAK deep snow", 0, 1, 256)
    assert ours.clip_chunks == 2
    with torch.no_grad():
        t5 = pipe._get_t5_prompt_embeds("a red fox deep snow", max_sequence_length=256)
        first, _ = pipe._get_clip_prompt_embeds("a red fox", clip_model_index=0)
        second, _ = pipe._get_clip_prompt_embeds("deep snow", clip_model_index=0)
    torch.testing.assert_close(ours.embeds[:, 154:], t5, rtol=0, atol=0)
    width = first.shape[-1]
    torch.testing.assert_close(ours.embeds[:, :77, :width], first, rtol=0, atol=0)
    torch.testing.assert_close(ours.embeds[:, 77:154, :width], second, rtol=0, atol=0)
