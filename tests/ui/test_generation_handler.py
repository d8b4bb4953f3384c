"""The Generate button's handlers, called as plain functions (no browser, no server)."""

import gradio as gr
import pytest

from engine.request import GenerationRequest
from ui.generate_tab import generate_images
from ui.generation_handler import describe_result, stream_generation


def test_stream_yields_each_step_then_the_result(engine):
    request = GenerationRequest("a fox", seed=3, steps=4, width=64, height=64)
    events = list(stream_generation(engine, request, "demo"))
    steps = [e.progress.step for e in events if e.progress]
    assert steps == [1, 2, 3, 4]
    assert events[-1].result is not None and events[-1].result.seeds == [3]
    assert "Seeds** 3" in describe_result(events[-1].result)


def test_closing_the_stream_early_cancels_the_worker(engine):
    request = GenerationRequest("a fox", seed=3, steps=50, width=64, height=64)
    finished = []
    stream = stream_generation(engine, request, "demo", on_result=finished.append)
    first = next(stream)
    assert first.progress.step == 1
    stream.close()  # what Gradio does when Stop cancels the event; it waits for the worker
    assert finished == []  # the worker stopped between steps instead of running all 50
    # The engine lock is free again: a new generation runs at once.
    again = engine.generate(GenerationRequest("a fox", seed=3, steps=2, width=64, height=64))
    assert again.images


def test_the_tab_handler_streams_previews_and_ends_with_the_gallery(engine):
    outputs = list(generate_images(engine, "demo", "a fox", "", 9, 3, 7.0, 64, 64, 2, "Euler a"))
    preview, gallery, _info = outputs[-1]
    assert [caption for _, caption in gallery] == ["seed 9", "seed 10"]
    assert preview.size == (64, 64)
    assert "Step 1 of 3" in outputs[0][2]


def test_the_tab_handler_turns_engine_errors_into_gr_error(engine):
    with pytest.raises(gr.Error, match="multiple of 8"):
        list(generate_images(engine, "demo", "a fox", "", 1, 3, 7.0, 65, 64, 1, "Euler a"))
