"""What the page shows for the model in the Model box, as plain functions: settings that follow
the model until the artist changes them, the scheduler menu, the guidance wording, the negative
prompt box on FLUX, each encoder's token budget in its own tokenizer's tokens, and a ComfyUI
FLUX image recalled with its guidance, steps and sampler kept."""

from __future__ import annotations

import copy
import json

import pytest
from PIL import Image, PngImagePlugin

from engine.demo_flow_models import FLUX_CONFIGS, build_flux_pipeline
from engine.schedulers import FLOW_SCHEDULERS, NOISE_SCHEDULERS
from engine.t5_tokenizer import load_t5_tokenizer
from engine.tokenizer import load_clip_tokenizer
from gallery.importers import import_file
from tests.gallery.test_flow_metadata import flux_graph
from ui.generate.model_events import model_changed, negative_box
from ui.model_fit import (
    FOLLOWED,
    NEGATIVE_OFF,
    applied_state,
    budget_markdown,
    followed_values,
    guidance_label,
    guidance_note,
    model_profile,
)
from ui.round_trips import GENERATE_FIELDS, recall_settings


@pytest.fixture
def profile_of(models_dir):
    return lambda model: model_profile(model, models_dir, load_clip_tokenizer)


def demo_page() -> dict:
    """The page as it opens on the demo model."""
    return {
        "steps": 20,
        "guidance": 7.0,
        "width": 256,
        "height": 256,
        "scheduler": "Euler a",
        "t5_length": 0,
        "shift": 0,
        "true_cfg": 1.0,
    }


def test_untouched_settings_follow_the_model_and_changed_ones_stay(profile_of):
    flux = profile_of("demo-flux")
    assert flux.kind == "flux" and flux.encoders.exact
    applied = applied_state("demo", demo_page())
    followed = followed_values(flux, demo_page(), applied)
    assert followed == {
        "steps": 28,
        "guidance": 3.5,
        "width": 256,
        "height": 256,
        "scheduler": "Euler",
        "t5_length": 512,  # FLUX.1 dev's
        "shift": 0,
        "true_cfg": 1.0,
    }
    mine = demo_page() | {"steps": 12, "guidance": 5.0, "scheduler": "DPM++ 2M Karras"}
    kept = followed_values(flux, mine, applied)
    assert (kept["steps"], kept["guidance"]) == (12, 5.0)  # the artist's own
    assert kept["scheduler"] == "Euler"  # DPM++ 2M Karras is not on FLUX's menu
    # ... and back to an SD1 model: what followed FLUX follows again, the T5 length goes
    back = followed_values(profile_of("demo"), kept | {"t5_length": 512}, applied_state(
        "demo-flux", followed))  # fmt: skip
    assert back["t5_length"] == 0 and back["steps"] == 12 and back["scheduler"] == "Euler a"


def test_schnell_and_sd35_start_with_their_own_settings(profile_of):
    schnell = profile_of("black-forest-labs/FLUX.1-schnell").start_values()
    assert (schnell["steps"], schnell["guidance"], schnell["t5_length"]) == (4, 0.0, 256)
    large = profile_of("stabilityai/stable-diffusion-3.5-large").start_values()
    assert (large["steps"], large["guidance"], large["t5_length"]) == (28, 4.5, 256)
    assert profile_of("sketch").start_values()["width"] == 128  # the sketch model's size


def test_a_flux_folder_without_guidance_embedding_starts_at_256_t5_tokens(tmp_path, profile_of):
    configs = copy.deepcopy(FLUX_CONFIGS)
    configs["transformer"]["guidance_embeds"] = False  # as FLUX.1 schnell
    folder = tmp_path / "my-flux"  # nothing in the name says schnell
    build_flux_pipeline(configs).save_pretrained(folder)
    assert profile_of(str(folder)).start_values()["t5_length"] == 256


def test_only_fitting_schedulers_are_offered(profile_of):
    assert profile_of("demo").schedulers() == list(NOISE_SCHEDULERS)
    assert set(profile_of("demo-sd3").schedulers()) == set(FLOW_SCHEDULERS)
    flux = profile_of("demo-flux").schedulers()
    assert "Euler" in flux and "Heun" not in flux and "Euler a" not in flux


def test_the_negative_box_is_greyed_on_flux_unless_true_cfg_is_on():
    off = negative_box("flux", 1.0)
    assert off.interactive is False and off.info == NEGATIVE_OFF
    on = negative_box("flux", 2.5)
    assert on.interactive is True and on.info is None
    assert negative_box("sd3", 1.0).interactive is True
    assert negative_box("sd1", 1.0).interactive is True
    assert guidance_label("flux") == "Distilled guidance (FLUX)"
    assert guidance_label("sd3") == "CFG scale"
    assert "distilled guidance" in guidance_note("flux") and "True CFG" in guidance_note("flux")
    assert "true CFG** 2.5" in guidance_note("flux", 2.5)
    assert "CFG with the negative prompt" in guidance_note("sd3")


def test_flux_budget_counts_clip_l_pooled_and_t5_in_their_own_tokens(profile_of):
    flux = profile_of("demo-flux")
    words = " ".join(f"word{i}" for i in range(120))
    prompt = f"a (red:1.3) fox BREAK {words}"
    plain = f"a red fox  {words}"  # weighting gone, BREAK a space (as the engine gives T5)
    clip_count = len(load_clip_tokenizer()(plain).input_ids) - 2  # <|startoftext|>, end
    t5_count = len(load_t5_tokenizer()(plain).input_ids) - 1  # </s>
    assert clip_count > 75 and t5_count > 64
    text = budget_markdown(prompt, flux)
    assert f"reads the first 75 of {clip_count} tokens" in text
    assert f"**T5**: {t5_count}/511 tokens" in text and "cuts" not in text.split("T5")[1]
    assert "- **CLIP-L** (pooled): 3/75 tokens" in budget_markdown("a red fox", flux)
    short = budget_markdown(prompt, flux, t5_length=64)  # the T5 length slider
    assert f"**T5**: {t5_count}/63 tokens" in short and " · cuts: *" in short.split("T5")[1]


def test_sd3_budget_names_each_encoder_and_what_a_77_token_model_cuts(profile_of):
    text = budget_markdown(" ".join(["lighthouse"] * 80), profile_of("demo-sd3"))
    lines = text.splitlines()
    assert lines[0] == "**SD3** token budget:"
    assert lines[1].startswith("- **CLIP-L**: 80 tokens in 2 chunks of 75")
    assert lines[2].startswith("- **CLIP-G**: 80 tokens in 2 chunks of 75")
    assert "a 77-token model cuts" in lines[1]
    assert lines[3].startswith("- **T5**: ") and "/255 tokens" in lines[3]
    demo = profile_of("demo")
    assert budget_markdown("a red fox", demo) == "3 tokens of 75"
    assert budget_markdown("(a red fox:1.3)", demo) == "3 tokens of 75"
    assert budget_markdown("", demo) == "0 tokens"
    assert budget_markdown(" ".join(["fox"] * 80), demo) == "80 tokens · 2 chunks of 75"


def test_budget_text_from_the_prompt_is_escaped(profile_of):
    prompt = "x " * 80 + "<img src=x onerror=alert(1)> [link](http://e.x)"
    text = budget_markdown(prompt, profile_of("demo-sd3"), t5_length=16)
    assert "<img" not in text and "](http" not in text
    assert budget_markdown("(a fox", profile_of("demo-flux")).startswith("⚠")


def test_a_model_whose_files_are_not_here_is_approximate(profile_of):
    text = budget_markdown("a fox", profile_of("black-forest-labs/FLUX.1-dev"))
    assert "approximate" in text and "/511 tokens" in text


def comfyui_flux_png(tmp_path):
    graph = flux_graph()
    graph["16"]["inputs"]["sampler_name"] = "dpmpp_2m"  # not FLUX dev's defaults, so a
    graph["17"]["inputs"]["steps"] = 20  # recall that moved them would show
    graph["26"]["inputs"]["guidance"] = 2.5
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps(graph))
    path = tmp_path / "ComfyUI_00001_.png"
    Image.new("RGB", (64, 48), "teal").save(path, pnginfo=info)
    return path


def test_a_recalled_comfyui_flux_image_keeps_guidance_steps_and_sampler(
    local_gallery, tmp_path, profile_of
):
    gid, _ = import_file(local_gallery, comfyui_flux_png(tmp_path))
    recalled = dict(zip(GENERATE_FIELDS, recall_settings(local_gallery, gid).values, strict=True))
    assert (recalled["steps"], recalled["guidance"], recalled["model"]) == (20, 2.5, "flux1-dev")
    scheduler = recalled["scheduler"]
    assert scheduler.value == "DPM++ 2M" and ("Euler a", "Euler a") not in scheduler.choices
    # The model box's change event runs next, with what the recall applied: nothing moves.
    values = tuple(scheduler.value if name == "scheduler" else recalled[name] for name in FOLLOWED)
    profile = profile_of("flux1-dev")
    assert profile.kind == "flux"
    after = model_changed(profile, recalled["prompt"], recalled["applied"], values)
    assert after[0] == 20 and after[1].value == 2.5 and after[4].value == "DPM++ 2M"
    assert after[8].interactive is False  # FLUX: the negative box is greyed
    # Without the recall's marker (the page's earlier model applied) they would have moved:
    stale = model_changed(profile, "", applied_state("demo", demo_page()), values)
    assert stale[0] == 28


def test_tokenizer_files_that_fail_when_first_counted_give_a_sentence(tmp_path):
    """A model's tokenizers load when first counting (the page is built without them): broken
    files then give one sentence in the budget, not an error on every keystroke."""
    from engine.model_catalog import model_defaults
    from engine.model_tokenizers import LazyTokenizer, ModelEncoders
    from prompts.encoder_budgets import EncoderSpec
    from ui.model_fit import ModelProfile, budget_markdown

    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text("{not json", encoding="utf-8")
    spec = EncoderSpec("CLIP", LazyTokenizer(folder), "chunks")
    profile = ModelProfile("x", "sd1", model_defaults("x", "SD1"), ModelEncoders("sd1", (spec,)))
    assert budget_markdown("a fox", profile) == (
        "Tokens cannot be counted: this model's tokenizer files cannot be read."
    )
