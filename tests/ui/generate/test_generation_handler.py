"""The Generate button's handlers, called as plain functions (no browser, no server)."""

import threading

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from engine.request import GenerationRequest
from ui.generate.handlers import (
    RunRegistry,
    describe_result,
    generate_images,
    read_form,
    reuse_seed,
)
from ui.hosting.batch import RunControl
from ui.hosting.zerogpu import PipelineCall, register_engine, run_on_gpu


def form(prompt="a fox", **values):
    """The page's form: the demo model at 64 px unless a test says otherwise."""
    return read_form({"model": "demo", "prompt": prompt, "width": 64, "height": 64, **values})


def test_stream_yields_each_step_then_the_result(engine):
    request = GenerationRequest("a fox", seed=3, steps=4, width=64, height=64)
    events = list(run_on_gpu(register_engine(engine), [PipelineCall(request, "demo")]))
    steps = [e.progress.step for e in events if e.progress]
    assert steps == [1, 2, 3, 4]
    assert events[-1].result is not None and events[-1].result.seeds == [3]
    assert "Seeds** 3" in describe_result(events[-1].result)


def test_closing_the_stream_early_cancels_the_worker(engine):
    request = GenerationRequest("a fox", seed=3, steps=150, width=64, height=64)
    stream = run_on_gpu(register_engine(engine), [PipelineCall(request, "demo")])
    first = next(stream)
    assert first.progress.step == 1
    stream.close()  # what Gradio does when Stop cancels the event; it waits for the worker
    assert not [t for t in threading.enumerate() if t.name == "pipeline"]  # the worker ended
    # The engine lock is free again: a new generation runs at once.
    again = engine.generate(GenerationRequest("a fox", seed=3, steps=2, width=64, height=64))
    assert again.images


def test_the_tab_handler_streams_previews_and_ends_with_the_gallery(hosted):
    outputs = list(generate_images(hosted, form(seed=9, steps=3, num_images=2)))
    last = outputs[-1]
    assert [item["caption"] for item in last.results.value] == ["seed 9", "seed 10"]
    assert all(item["image"]["path"].endswith(".png") for item in last.results.value)
    assert last.results.elem_classes == []  # no longer dimmed
    assert outputs[0].results.elem_classes == ["stale-results"]  # dimmed while it runs
    assert outputs[0].preview.visible is True  # the preview shows while it runs...
    previews = [out.preview for out in outputs if isinstance(out.preview, Image.Image)]
    assert previews and all(p.size == (64, 64) for p in previews)
    assert last.preview.visible is False  # ...and goes once it ended: each image shown once
    assert last.used == "9" and last.seeds == [9, 10]
    assert any("Step 1 of 3 · image 1 of 2" in out.info for out in outputs)
    assert any("image 2 of 2" in out.info for out in outputs)
    # Each image joins the results as it finishes, with its seed ready for a click.
    first = next(out for out in outputs if out.info == "Finished image 1 of 2")
    assert [item["caption"] for item in first.results.value] == ["seed 9"]
    assert first.seeds == [9]


def test_the_tab_handler_turns_engine_errors_into_gr_error(hosted):
    with pytest.raises(gr.Error, match="multiple of 8"):
        list(generate_images(hosted, form(seed=1, steps=3, width=65)))


def test_a_fractional_setting_is_refused_not_rounded(hosted):
    with pytest.raises(gr.Error, match="Steps must be a whole number"):
        list(generate_images(hosted, form(seed=1, steps=2.7)))


def test_a_batch_image_by_image_equals_one_batched_call(engine, hosted):
    request = GenerationRequest("a fox", seed=21, steps=2, width=64, height=64, num_images=2)
    events = list(hosted.stream_batch(request, "demo"))
    whole = events[-1].finished
    assert events[-1].done and not events[-1].stopped
    batched = engine.generate(request)
    assert whole.seeds == batched.seeds == [21, 22]
    for mine, theirs in zip(whole.images, batched.images, strict=True):
        difference = np.abs(np.asarray(mine, dtype=int) - np.asarray(theirs, dtype=int))
        assert difference.max() <= 1


def test_stop_keeps_the_finished_images(hosted):
    request = GenerationRequest("a fox", seed=5, steps=3, width=64, height=64, num_images=3)
    control = RunControl()
    events = []
    for event in hosted.stream_batch(request, "demo", control):
        events.append(event)
        if event.finished is not None and not event.done:  # the first image is done
            control.stop.set()
    last = events[-1]
    assert last.done and last.stopped and not last.skipped
    assert last.finished.seeds == [5]  # the finished image is kept, the rest never made
    assert len(last.finished.images) == 1


def test_stop_in_the_middle_of_an_image_drops_only_that_image(hosted):
    request = GenerationRequest("a fox", seed=5, steps=4, width=64, height=64, num_images=2)
    control = RunControl()
    events = []
    for event in hosted.stream_batch(request, "demo", control):
        events.append(event)
        if event.progress is not None and event.index == 1 and event.progress.step == 2:
            control.stop.set()
    last = events[-1]
    assert last.stopped and last.finished.seeds == [5]


def test_skip_finishes_the_current_image_and_drops_the_rest(hosted):
    request = GenerationRequest("a fox", seed=5, steps=3, width=64, height=64, num_images=3)
    control = RunControl()
    events = []
    for event in hosted.stream_batch(request, "demo", control):
        events.append(event)
        if event.progress is not None and event.index == 1 and event.progress.step == 1:
            control.skip.set()  # during image 2: it finishes, image 3 is never started
    last = events[-1]
    assert last.skipped and not last.stopped
    assert last.finished.seeds == [5, 6]
    assert all(e.index < 2 for e in events[:-1])


def test_a_stopped_run_says_so_and_records_what_finished(hosted):
    kept = []
    runs = RunRegistry()
    outputs = []
    for out in generate_images(
        hosted,
        form(seed=7, steps=3, num_images=3),
        on_result=lambda result, recipe: kept.append(result),
        runs=runs,
    ):
        outputs.append(out)
        if "Finished image 1" in str(out.info):
            assert runs.stop("local")
    _preview, results, info, _used, seeds = outputs[-1]
    assert info.startswith("**Stopped**: kept 1 of 3 images")
    assert "Error" not in info
    assert seeds == [7] and len(results.value) == 1
    assert [r.seeds for r in kept] == [[7]]
    assert not runs.stop("local"), "nothing runs any more"


def test_seed_helpers():
    assert reuse_seed("123") == 123


def test_a_gallery_failure_keeps_the_images_and_becomes_a_warning(hosted):
    from gallery.errors import GalleryError
    from ui.generate.handlers import recording_warning

    def broken_gallery(result, recipe):
        raise GalleryError("The database is locked.\nat /srv/secret/path")

    warnings = []
    original, gr.Warning = gr.Warning, warnings.append
    try:
        outputs = list(generate_images(hosted, form(seed=3, steps=2), on_result=broken_gallery))
    finally:
        gr.Warning = original
    assert outputs[-1].seeds == [3] and len(outputs[-1].results.value) == 1  # it is shown
    assert warnings == [
        "The images were not recorded in the gallery (The database is locked.); "
        "download them from the results."
    ]
    assert recording_warning(GalleryError("x\n/srv")) == warnings[0].replace(
        "The database is locked.", "x"
    )


def test_an_outage_is_its_own_sentence_and_a_driver_error_shows_no_host_or_port():
    """The toast for a database outage or a full disk is the gallery's own sentence; a raw
    driver error (a real connection refused by a port nobody listens on) shows nothing of it."""
    import socket

    import sqlalchemy

    from gallery.errors import DiskFullError, GalleryUnavailableError
    from gallery.outages import UNAVAILABLE_WHILE_RECORDING
    from ui.generate.handlers import recording_warning

    assert recording_warning(GalleryUnavailableError(UNAVAILABLE_WHILE_RECORDING)) == (
        UNAVAILABLE_WHILE_RECORDING
    )
    assert recording_warning(DiskFullError("The disk is full: free 64 MB.")) == (
        "The disk is full: free 64 MB."
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = sqlalchemy.create_engine(f"postgresql+psycopg://u:p@127.0.0.1:{port}/gallery")
    with pytest.raises(sqlalchemy.exc.OperationalError) as raised:
        engine.connect()
    engine.dispose()
    assert str(port) in str(raised.value)  # what the driver says
    sentence = recording_warning(raised.value)
    assert sentence.startswith("The images were not recorded in the gallery")
    for leak in (str(port), "127.0.0.1", "psycopg", "sqlalche.me", "http"):
        assert leak not in sentence, sentence


def test_the_tab_shows_the_images_when_recording_fails(hosted, monkeypatch):
    shown = []
    monkeypatch.setattr(gr, "Warning", shown.append)

    def broken_gallery(result, recipe):
        raise OSError(28, "No space left on device", "/srv/gallery/x.png")

    outputs = list(generate_images(hosted, form(seed="5", steps=2), on_result=broken_gallery))
    _preview, results, _info, _used, seeds = outputs[-1]
    assert seeds == [5] and len(results.value) == 1
    assert len(shown) == 1 and "No space left on device" in shown[0] and "/srv" not in shown[0]


@pytest.mark.parametrize(
    ("seed", "expected"),
    [("18446744073709551615", 18446744073709551615), ("-1", None), ("", None), (7.0, 7)],
)
def test_the_seed_box_is_read_exactly(engine, seed, expected):
    from engine.request import parse_seed

    assert parse_seed(seed) == expected


@pytest.mark.parametrize("seed", ["18446744073709551616", "1.5", "lucky", 2.0**64])
def test_bad_seeds_are_one_sentence(hosted, seed):
    with pytest.raises(gr.Error, match=r"[Ss]eed"):
        list(generate_images(hosted, form(seed=seed, steps=2)))


def test_the_largest_seed_and_clip_skip_from_the_tab(hosted):
    outputs = list(generate_images(hosted, form(seed="18446744073709551615", steps=2, clip_skip=2)))
    _preview, _results, info, used, seeds = outputs[-1]
    assert seeds == [18446744073709551615] and used == "18446744073709551615"
    assert "Clip skip** 2" in info
