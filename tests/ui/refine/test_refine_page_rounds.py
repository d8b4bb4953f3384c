"""The page's refinement round by round, as plain functions: a click picks (and unpicks) a
variant of the latest round, "Next round" goes on from it, and every misstep is one sentence."""

from __future__ import annotations

import gradio as gr
import pytest

from ui.refine import page_rounds as rounds
from ui.refine.form import RefineForm
from ui.refine.runner import RefineRun, play

SMALL = {"seeds": "1", "steps": 4, "width": 64, "height": 64, "beam": 1, "proposals": 2}


@pytest.fixture(scope="module")
def paused(hosted, local_gallery, tmp_path_factory):
    """A picks-only run waiting for the artist after round 1."""
    from engine.interrogate import Interrogator

    interrogator = Interrogator(cache_dir=tmp_path_factory.mktemp("clip-cache"))
    form = RefineForm.read({"prompt": "a shape", "target_kind": "picks", "rounds": 2, **SMALL})
    run = RefineRun(hosted, local_gallery, form, interrogator)
    play(run, pause=True)
    return run


def test_without_a_run_every_button_says_so():
    for call in (
        lambda: rounds.pick_cell(None, [], 0),
        lambda: next(rounds.next_round(None, [])),
    ):
        with pytest.raises(gr.Error, match="Start a refinement first"):
            call()


def test_a_click_picks_the_cells_variant_and_a_second_click_drops_it(paused):
    ids = rounds.grid_ids(paused.last)
    assert ids == ["r0", "r1.1", "r1.2"]  # one seed: the start, then the variants
    picks, line = rounds.pick_cell(paused, [], 2)
    assert picks == ["r1.2"] and line == "Your pick: r1.2. Next round goes on from it."
    picks, line = rounds.pick_cell(paused, picks, 2)
    assert picks == [] and "Click a picture to pick" in line
    with pytest.raises(gr.Error, match="Click a picture of the latest round"):
        rounds.pick_cell(paused, [], 7)


def test_next_round_is_refused_while_the_run_is_going(paused):
    busy = pytest.raises(gr.Error, match="still running a round")
    with paused.busy, busy:  # a round of this run is being made (the Refine button's)
        next(rounds.next_round(paused, ["r1.2"]))
    assert len(paused.refiner.rounds) == 2


def test_next_round_waits_for_a_pick_then_goes_on_from_it(paused):
    with pytest.raises(gr.Error, match="Pick a variant first"):
        next(rounds.next_round(paused, []))
    shown = list(rounds.next_round(paused, ["r1.2"]))
    assert [c.id for c in paused.refiner.rounds[2].parents] == ["r1.2"]
    status, *_ = shown[-1]
    assert status.startswith("Finished after 3 saved round(s).")
    assert "from r1.2 (picked)" in rounds.rounds_markdown(paused)
    with pytest.raises(gr.Error, match="has run all its rounds"):
        next(rounds.next_round(paused, ["r2.1"]))
