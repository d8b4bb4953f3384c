"""The Models panel: the models with their kinds; "Use" puts a model in the box with all of
the settings it starts with."""

import gradio as gr
import pytest

from engine.tokenizer import load_clip_tokenizer
from ui.generate.models_panel import model_label, models_at_hand, panel_markdown, use_model
from ui.model_fit import followed_values, model_profile


def test_use_a_turbo_model_sets_few_steps_and_no_cfg(tmp_path):
    entries = models_at_hand(tmp_path)
    assert [(e.name, e.kind) for e in entries[:4]] == [
        ("sketch", "SD1"),
        ("demo", "SD1"),
        ("demo-sd3", "SD3"),
        ("demo-flux", "FLUX"),
    ]
    assert model_label(entries[3]) == "demo-flux · FLUX · built in"
    model, applied = use_model("stabilityai/sd-turbo", entries)
    assert (model, applied) == ("stabilityai/sd-turbo", None)  # nothing applied: all follow
    page = {"steps": 12, "guidance": 9.0, "width": 64, "height": 64, "scheduler": "DDIM"}
    page |= {"t5_length": 0, "shift": 0, "true_cfg": 1.0}
    own = followed_values(model_profile(model, tmp_path, load_clip_tokenizer), page, applied)
    assert [own[k] for k in ("steps", "guidance", "width", "height", "scheduler")] == [
        1,
        0.0,
        512,
        512,
        "Euler a",
    ]
    assert "hub (downloads on first use)" in model_label(entries[-1])
    with pytest.raises(gr.Error, match="Choose a model"):
        use_model(None, entries)
    with pytest.raises(gr.Error, match="Rescan"):
        use_model("gone/model", entries)


def test_the_panel_lists_loras_with_their_prompt_syntax(tmp_path):
    text = panel_markdown(models_at_hand(tmp_path), ["toy", "ink<style>"])
    assert "`<lora:toy:1>`" in text and "&lt;style&gt;" in text
    assert "loras/" in panel_markdown(models_at_hand(tmp_path), [])
