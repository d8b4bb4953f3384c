"""A comparison stopped half way: listed and shown as interrupted N of M, and "Run the missing
cells" completes it with the images a whole run makes (demo model, a real gallery)."""

from __future__ import annotations

import threading

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from gallery.owners import LOCAL_OWNER
from gallery.store import GalleryStore
from ui.compare import handlers as h
from ui.compare.runner import run_experiment

PAGE = dict(
    variants=[["red", "a red fox"], ["blue", "a blue fox"]],
    seeds="3, 4",
    random_seeds=0,
    negative_prompt="",
    model="demo",
    steps=1,
    guidance_scale=7.0,
    width=64,
    height=64,
    scheduler="Euler a",
    axis_name="cfg",
    axis_values="5, 9",
    max_batch=2,
)  # 2 seeds x 2 variants x 2 CFG values: 8 cells in batches of 2


@pytest.fixture
def store(tmp_path):
    with GalleryStore.open(tmp_path / "gallery") as opened:
        yield opened.for_owner(LOCAL_OWNER)


def pixels_by_position(store, experiment_id: int) -> dict[tuple, np.ndarray]:
    experiment = store.get_experiment(experiment_id)
    position = {v.id: v.position for v in experiment.variants}
    found = {}
    for cell in experiment.cells:
        with Image.open(store.get(cell.generation_id).image.path) as image:
            found[(cell.seed_index, position[cell.variant_id], cell.axis_index)] = np.asarray(
                image.convert("RGB"), dtype=np.int16
            )
    return found


def test_a_stopped_run_is_interrupted_until_its_missing_cells_are_made(hosted, store):
    cancel = threading.Event()
    states_while_running = []

    def stop_after_the_first_batch(update) -> None:
        if update.cells_done >= 2 and not cancel.is_set():
            states_while_running.append(store.list_experiments()[0].state.status)
            cancel.set()

    outcome = run_experiment(
        hosted, store, h.read_form(PAGE), on_progress=stop_after_the_first_batch, cancel=cancel
    )
    experiment = outcome.experiment
    assert outcome.cancelled and states_while_running == ["running"]
    made = len(experiment.cells)
    assert 2 <= made < 8
    assert (experiment.state.status, experiment.state.made) == ("interrupted", made)
    assert experiment.state.expected == 8
    [(label, _)] = h.experiment_choices(store)
    assert label.endswith(f"(compare, interrupted, {made} of 8 cells)")
    summary = h.show_experiment(store, experiment.id)[0]
    assert f"**Interrupted**: {made} of 8 cells made" in summary
    before = pixels_by_position(store, experiment.id)

    events = list(h.run_missing(hosted, store, experiment.id))
    status, _, experiment_id = events[-1]
    assert experiment_id == experiment.id
    assert status == f"Saved experiment #{experiment.id}: 8 image(s)."
    finished = store.get_experiment(experiment.id)
    assert str(finished.state) == "finished" and finished.missing_positions() == []
    assert h.experiment_choices(store)[0][0].endswith("(compare, 8 images)")
    assert "Interrupted" not in h.show_experiment(store, experiment.id)[0]
    completed = pixels_by_position(store, experiment.id)
    assert all(np.array_equal(completed[p], before[p]) for p in before)  # kept as they were

    # The reference: the same comparison run whole, in one go.
    whole = run_experiment(hosted, store, h.read_form(PAGE)).experiment
    reference = pixels_by_position(store, whole.id)
    assert set(reference) == set(completed) and len(reference) == 8
    for position, image in reference.items():
        assert np.abs(image - completed[position]).max() <= 1, position

    with pytest.raises(gr.Error, match="nothing is missing"):
        list(h.run_missing(hosted, store, experiment.id))
