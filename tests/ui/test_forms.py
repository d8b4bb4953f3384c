"""One form, whoever asks: the page, the API and the command line give the same typed form for
the same request, and bad input is one sentence from the same place."""

from __future__ import annotations

import pytest

from ui.cli import compare as compare_command
from ui.cli import generate as generate_command
from ui.cli.errors import CommandError
from ui.cli.main import build_parser
from ui.forms import CompareForm, FormError, GenerateForm


def flags(*argv: str):
    return build_parser().parse_args(list(argv))


def test_a_generate_form_is_the_same_from_the_page_the_api_and_the_flags():
    page = GenerateForm.read(
        {
            "prompt": "a fox",
            "negative_prompt": "",
            "seed": "18446744073709551615",
            "steps": 4.0,
            "guidance_scale": 6.5,
            "width": 64.0,
            "height": 128.0,
            "num_images": 1.0,
            "scheduler": "DPM++ 2M",
            "model": " demo ",
            "clip_skip": 2.0,
        }
    )  # fmt: skip  (sliders give floats, the seed box text)
    api = GenerateForm.read(
        {
            "prompt": "a fox",
            "seed": "18446744073709551615",
            "steps": 4,
            "guidance_scale": 6.5,
            "width": 64,
            "height": 128,
            "scheduler": "DPM++ 2M",
            "model": "demo",
            "clip_skip": 2,
        }
    )  # fmt: skip  (what a gradio_client caller names; the rest default)
    cli = generate_command.read_form(
        flags("generate", "a fox", "--seed", "18446744073709551615", "--steps", "4",
              "--guidance", "6.5", "--width", "64", "--height", "128", "--scheduler",
              "DPM++ 2M", "--model", "demo", "--clip-skip", "2")
    )  # fmt: skip
    assert page == api == cli
    assert page.request.seed == 2**64 - 1 and page.model == "demo"
    assert GenerateForm.read({"prompt": "a", "seed": "-1"}).request.seed is None  # random


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"steps": 2.5}, "Steps must be a whole number, not 2.5."),
        ({"width": "wide"}, "Width must be a whole number, not 'wide'."),
        ({"guidance_scale": "lots"}, "CFG scale must be a number, not 'lots'."),
        ({"seed": "lucky"}, "Seed must be a whole number"),
        ({"seed": "18446744073709551616"}, "Seed must be a whole number"),
        ({"max_sequence_length": "long"}, "Max sequence length must be a whole number"),
        ({"true_cfg_scale": "on"}, "True CFG scale must be a number, not 'on'."),
        ({"shift": "x"}, "Shift must be a number, not 'x'."),
    ],
)
def test_bad_generate_values_are_one_sentence_naming_the_setting(values, message):
    with pytest.raises(FormError, match=message.replace(".", r"\.")):
        GenerateForm.read({"prompt": "a fox", **values})
    with pytest.raises(TypeError, match="reads no stepz"):  # a typo in code, not the user's
        GenerateForm.read({"prompt": "a fox", "stepz": 2})


def test_t5_length_true_cfg_and_shift_read_the_same_from_the_page_the_api_and_the_flags(tmp_path):
    shared = {"prompt": "a fox", "negative_prompt": "blurry", "seed": "4", "steps": 2,
              "guidance_scale": 3.5, "width": 64, "height": 64, "scheduler": "Euler",
              "model": "demo-flux"}  # fmt: skip
    page = GenerateForm.read(
        {**shared, "max_sequence_length": 128.0, "true_cfg_scale": 2.0, "shift": 0.0}
    )  # the sliders: shift 0 is the model's own
    api = GenerateForm.read({**shared, "max_sequence_length": 128, "true_cfg_scale": 2})
    cli = generate_command.read_form(
        flags("--data-dir", str(tmp_path), "generate", "a fox", "--negative", "blurry",
              "--seed", "4", "--steps", "2", "--guidance", "3.5", "--width", "64",
              "--height", "64", "--scheduler", "Euler", "--model", "demo-flux",
              "--max-sequence-length", "128", "--true-cfg", "2")
    )  # fmt: skip
    assert page == api == cli
    request = page.request
    assert (request.max_sequence_length, request.true_cfg_scale, request.shift) == (128, 2.0, None)
    assert GenerateForm.read({**shared, "shift": 3}).request.shift == 3.0
    own = GenerateForm.read({**shared, "max_sequence_length": 0, "true_cfg_scale": ""}).request
    assert (own.max_sequence_length, own.true_cfg_scale) == (None, 1.0)  # the model's own, off
    compare = CompareForm.read(
        {"variants": ["a fox", "a cat"], "seeds": "1", "model": "demo-flux", "width": 64,
         "height": 64, "scheduler": "Euler", "max_sequence_length": 64, "shift": 1.5}
    )  # fmt: skip
    assert (compare.settings.max_sequence_length, compare.settings.shift) == (64, 1.5)


def test_a_compare_form_is_the_same_from_the_page_the_api_and_the_flags():
    shared = {"negative_prompt": "blurry", "seeds": "3, 4", "model": "demo", "steps": 2,
              "guidance_scale": 7.0, "width": 64, "height": 64, "scheduler": "Euler a"}  # fmt: skip
    page = CompareForm.read(
        {
            **shared,
            "variants": [["red", "a red fox"], ["", "a blue fox"], ["", ""]],
            "random_seeds": 2,
            "axis_name": "cfg",
            "axis_values": "5, 7",
            "name": "",
        }
    )  # fmt: skip  (the table's blank row is dropped)
    api = CompareForm.read(
        {**shared, "variants": ["a red fox", "a blue fox"], "labels": ["red"], "axis": "cfg=5,7"}
    )
    cli = compare_command.read_form(
        flags("compare", "--variant", "a red fox", "--variant", "a blue fox", "--label", "red",
              "--negative", "blurry", "--seeds", "3,4", "--axis", "cfg=5,7", "--steps", "2",
              "--width", "64", "--height", "64", "--model", "demo")
    )  # fmt: skip
    assert page == api == cli
    assert [v.label for v in page.variants] == ["red", "a blue fox"]
    assert page.axis.values == (5.0, 7.0) and page.seeds == (3, 4)


def test_an_ablation_form_names_itself_after_the_prompt():
    form = CompareForm.read({"ablate": "a fox, snow", "seeds": "1", "width": 64, "height": 64})
    assert form.kind == "ablation" and form.name == "Ablation: a fox, snow"
    assert [v.removed_term for v in form.variants][1:] == ["a fox", "snow"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"variants": [["a", "a fox"]]}, "Give 2 to 8 variants with a prompt; there are 1."),
        ({"seeds": "1, x"}, "Seed 'x' is not a whole number"),
        ({"axis_name": "cfg", "axis_values": " "}, "Give the values of the CFG scale axis"),
        ({"axis": "colour=red"}, "An axis is NAME=V1,V2"),
        ({"random_seeds": "many", "seeds": ""}, "The number of random seeds must be a whole"),
        ({"width": 65}, "multiple of 8"),
    ],
)
def test_bad_compare_input_is_one_sentence(values, message):
    base = {"variants": [["a", "a fox"], ["b", "a cat"]], "seeds": "1", "width": 64, "height": 64}
    with pytest.raises(FormError, match=message):
        CompareForm.read({**base, **values})


def test_the_flags_own_mistakes_are_named_by_their_flags():
    with pytest.raises(CommandError, match="either --variant prompts or --ablate"):
        compare_command.read_form(flags("compare", "--variant", "a", "--ablate", "a, b"))
    with pytest.raises(CommandError, match="more --label values than --variant prompts"):
        compare_command.read_form(
            flags("compare", "--variant", "a", "--variant", "b", *["--label", "x"] * 3)
        )
