"""A1111 infotext: quoting, multi-line prompts, missing negative prompt, unknown keys."""

from __future__ import annotations

import re

import pytest

from gallery.a1111 import (
    format_infotext,
    infotext_params,
    parse_infotext,
    quote,
    scheduler_from_a1111,
    scheduler_to_a1111,
    settings_from_params,
    unquote,
)
from gallery.metadata import from_infotext

REAL_A1111 = (
    "masterpiece, best quality, a red fox in the snow\n"
    "Negative prompt: lowres, bad anatomy\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567890, "
    'Size: 512x768, Model hash: 6ce0161689, Model: "my, model", Denoising strength: 0.4, '
    'Hires upscale: 2, Lora hashes: "detail: 5a4d8b3c2e1f", Version: v1.10.1'
)


def test_a_real_a1111_infotext_parses_into_prompts_settings_and_extras():
    metadata = from_infotext(REAL_A1111)
    assert metadata.source == "a1111"
    assert metadata.prompt == "masterpiece, best quality, a red fox in the snow"
    assert metadata.negative_prompt == "lowres, bad anatomy"
    assert metadata.settings == {
        "steps": 28,
        "scheduler": "DPM++ 2M Karras",
        "guidance_scale": 6.5,
        "seed": 1234567890,
        "width": 512,
        "height": 768,
        "model_hash": "6ce0161689",
        "model_id": "my, model",
    }
    assert metadata.extra == {
        "Denoising strength": "0.4",
        "Hires upscale": "2",
        "Lora hashes": "detail: 5a4d8b3c2e1f",
        "Version": "v1.10.1",
    }
    assert metadata.recipe == {
        "version": 1,
        "free_text": "masterpiece, best quality, a red fox in the snow",
        "negative": ["lowres, bad anatomy"],
    }


def test_multi_line_prompt_and_negative_prompt():
    text = (
        "a fox\nin the snow\n\nBREAK at dusk\n"
        "Negative prompt: blurry\nwatermark\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512"
    )
    parsed = parse_infotext(text)
    assert parsed.prompt == "a fox\nin the snow\n\nBREAK at dusk"
    assert parsed.negative_prompt == "blurry\nwatermark"
    assert parsed.params["Sampler"] == "Euler a"


def test_no_negative_prompt():
    parsed = parse_infotext("a fox\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64")
    assert parsed.prompt == "a fox"
    assert parsed.negative_prompt == ""
    assert parsed.params == {
        "Steps": "20",
        "Sampler": "Euler",
        "CFG scale": "7",
        "Seed": "5",
        "Size": "64x64",
    }


def test_text_without_a_parameters_line_is_all_prompt():
    parsed = parse_infotext("just a prompt: with a colon\nand a second line")
    assert parsed.prompt == "just a prompt: with a colon\nand a second line"
    assert parsed.params == {}


# A1111's rule (modules/infotext_utils.py, parse_generation_parameters): the last line is the
# parameters only when its pattern finds at least 3 `key: value` pairs on it.
A1111_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


@pytest.mark.parametrize(
    "last_line",
    [
        "style: anime, mood: calm",
        "style: anime",
        "Steps: 20, Seed: 5",
        "style: anime, mood: calm, palette: warm",
        "Steps: 20, Sampler: Euler, CFG scale: 7, Seed: 5",
    ],
)
def test_the_last_line_is_parameters_only_with_three_pairs_as_in_a1111(last_line):
    text = f"a portrait of a fox\n{last_line}"
    parsed = parse_infotext(text)
    is_parameters = len(A1111_PARAM.findall(last_line)) >= 3  # the reference's decision
    if is_parameters:
        assert parsed.prompt == "a portrait of a fox" and len(parsed.params) >= 3
    else:
        assert parsed.prompt == text and parsed.params == {}


def test_a_prompt_line_with_two_pairs_stays_prompt():
    """'style: anime, mood: calm' is how people write prompts; A1111 keeps it as prompt."""
    parsed = parse_infotext("style: anime, mood: calm")
    assert (parsed.prompt, parsed.params) == ("style: anime, mood: calm", {})
    metadata = from_infotext("a fox\nstyle: anime, mood: calm")
    assert metadata.prompt == "a fox\nstyle: anime, mood: calm"


def test_empty_prompt_with_parameters_only():
    parsed = parse_infotext("Steps: 20, Sampler: Euler, CFG scale: 7, Seed: 5")
    assert (parsed.prompt, parsed.negative_prompt) == ("", "")
    assert parsed.params["Seed"] == "5"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("my, model", '"my, model"'),
        ("a: b", '"a: b"'),
        ("two\nlines", '"two\\nlines"'),
        ('say "hi", ok', '"say \\"hi\\", ok"'),
        ("café, ü", '"café, ü"'),
    ],
)
def test_values_with_commas_colons_or_newlines_are_json_quoted(value, written):
    assert quote(value) == written
    assert unquote(written) == value


def test_unquote_leaves_broken_quotes_alone():
    assert unquote('"not json') == '"not json'
    assert unquote('"') == '"'


def test_format_then_parse_round_trips_awkward_values():
    params = infotext_params(
        steps=30,
        scheduler="DPM++ SDE Karras",
        guidance_scale=7.0,
        seed=2**40,
        width=768,
        height=512,
        model_hash=None,
        model="folder/model: v2, final",
        extra={"Notes": "line one\nline two", "Plain": "x"},
    )
    text = format_infotext("a fox,\n(snow:1.2)", "ugly, blurry", params)
    lines = text.split("\n")
    assert lines[:3] == ["a fox,", "(snow:1.2)", "Negative prompt: ugly, blurry"]
    assert lines[3].startswith(
        "Steps: 30, Sampler: DPM++ SDE, Schedule type: Karras, CFG scale: 7,"
    )
    assert "Model hash" not in text  # None values are left out
    parsed = parse_infotext(text)
    assert parsed.prompt == "a fox,\n(snow:1.2)"
    assert parsed.negative_prompt == "ugly, blurry"
    settings, extra = settings_from_params(parsed.params)
    assert settings == {
        "steps": 30,
        "scheduler": "DPM++ SDE Karras",
        "guidance_scale": 7.0,
        "seed": 2**40,
        "width": 768,
        "height": 512,
        "model_id": "folder/model: v2, final",
    }
    assert extra == {"Notes": "line one\nline two", "Plain": "x"}


def test_format_without_negative_prompt_has_no_negative_line():
    text = format_infotext("a fox", "", {"Steps": 20, "Seed": 3, "Sampler": "Euler"})
    assert text == "a fox\nSteps: 20, Seed: 3, Sampler: Euler"


@pytest.mark.parametrize(
    ("ours", "a1111"),
    [
        ("Euler a", ("Euler a", "Automatic")),
        ("DPM++ 2M", ("DPM++ 2M", "Automatic")),
        ("DPM++ 2M Karras", ("DPM++ 2M", "Karras")),
        ("DPM++ SDE Karras", ("DPM++ SDE", "Karras")),
        ("UniPC", ("UniPC", "Automatic")),
        ("DPM++ 3M SDE Exponential", ("DPM++ 3M SDE", "Exponential")),
        ("Euler SGM Uniform", ("Euler", "SGM Uniform")),
        ("DPM++ 2M SDE Karras", ("DPM++ 2M SDE", "Karras")),
    ],
)
def test_scheduler_names_map_both_ways(ours, a1111):
    assert scheduler_to_a1111(ours) == a1111
    assert scheduler_from_a1111(*a1111) == ours


def test_old_files_with_karras_in_the_sampler_name():
    assert scheduler_from_a1111("DPM++ 2M Karras", None) == "DPM++ 2M Karras"
    assert scheduler_from_a1111("DPM++ 2M Karras", "Karras") == "DPM++ 2M Karras"


def test_unknown_schedule_types_are_kept_in_extra():
    settings, extra = settings_from_params(
        {"Sampler": "DPM++ 2M", "Schedule type": "Polyexponential", "Steps": "x", "Size": "big"}
    )
    assert settings == {"scheduler": "DPM++ 2M"}
    assert extra == {"Schedule type": "Polyexponential", "Steps": "x", "Size": "big"}


def test_known_schedule_types_and_clip_skip_are_read():
    settings, extra = settings_from_params(
        {"Sampler": "DPM++ 3M SDE", "Schedule type": "exponential", "Clip skip": "2"}
    )
    assert settings == {"scheduler": "DPM++ 3M SDE Exponential", "clip_skip": 2}
    assert extra == {}


def test_every_menu_scheduler_goes_through_the_infotext_and_back():
    from engine.schedulers import scheduler_names

    for name in scheduler_names():
        params = infotext_params(
            steps=20,
            scheduler=name,
            guidance_scale=7,
            seed=2**64 - 1,
            width=64,
            height=64,
            model_hash=None,
            model="demo",
            clip_skip=2,
        )
        parsed = parse_infotext(format_infotext("a fox", "", params))
        settings, extra = settings_from_params(parsed.params)
        assert settings["scheduler"] == name and extra == {}
        assert settings["seed"] == 2**64 - 1 and settings["clip_skip"] == 2
    plain = infotext_params(
        steps=20,
        scheduler="Euler",
        guidance_scale=7,
        seed=1,
        width=64,
        height=64,
        model_hash=None,
        model=None,
        clip_skip=1,
    )
    assert "Clip skip" not in format_infotext("a fox", "", plain)


@pytest.mark.parametrize("scale", ["1e309", "-1e309", "nan", "inf"])
def test_a_cfg_scale_that_is_no_finite_number_is_kept_as_text_not_as_a_setting(scale):
    metadata = from_infotext(f"a fox\nSteps: 20, CFG scale: {scale}, Seed: 5, Size: 64x64")
    assert "guidance_scale" not in metadata.settings
    assert metadata.extra["CFG scale"] == scale
    assert metadata.settings["steps"] == 20 and metadata.settings["seed"] == 5


def test_other_tools_numbers_that_are_not_finite_are_dropped_too():
    from gallery.peer_formats import parse_fooocus

    data = {"prompt": "a fox", "seed": 5, "steps": 20, "guidance_scale": float("inf")}
    _, _, settings, _ = parse_fooocus(data)
    assert "guidance_scale" not in settings and settings["steps"] == 20
    _, _, settings, _ = parse_fooocus({**data, "guidance_scale": "1e309"})
    assert "guidance_scale" not in settings
