"""The Models panel's "Use": the model and the settings it starts with."""

import gradio as gr
import pytest

from ui.generate.models_panel import model_label, models_at_hand, panel_markdown, use_model


def test_use_a_turbo_model_sets_few_steps_and_no_cfg(tmp_path):
    entries = models_at_hand(tmp_path)
    assert [e.name for e in entries[:2]] == ["sketch", "demo"]  # the two built in
    assert use_model("stabilityai/sd-turbo", entries) == (
        "stabilityai/sd-turbo",
        1,
        0.0,
        512,
        512,
        "Euler a",
    )
    assert "hub (downloads on first use)" in model_label(entries[-1])
    with pytest.raises(gr.Error, match="Choose a model"):
        use_model(None, entries)


def test_the_panel_lists_loras_with_their_prompt_syntax(tmp_path):
    text = panel_markdown(models_at_hand(tmp_path), ["toy", "ink<style>"])
    assert "`<lora:toy:1>`" in text and "&lt;style&gt;" in text
    assert "loras/" in panel_markdown(models_at_hand(tmp_path), [])
