"""A refinement through the hosted engine, saved round by round: Stop keeps the finished
rounds (and saves no picture of the stopped one), and the same form gives the same rounds."""

from __future__ import annotations

import threading

import pytest

from ui.refine.form import RefineForm
from ui.refine.runner import run_refinement

SMALL = {"seeds": "1", "steps": 4, "width": 64, "height": 64, "beam": 1, "proposals": 2}


@pytest.fixture(scope="module")
def interrogator(tmp_path_factory):
    from engine.interrogate import Interrogator

    return Interrogator(cache_dir=tmp_path_factory.mktemp("clip-cache"))


def form(**values):
    return RefineForm.read({"prompt": "a shape", "target_text": "a blue star", **SMALL, **values})


@pytest.mark.slow
def test_stop_keeps_the_finished_rounds(hosted, local_gallery, interrogator):
    cancel = threading.Event()
    before = local_gallery.count()

    def stop_after_the_start(round_, _experiment_id):
        if round_.index == 0:
            cancel.set()

    outcome = run_refinement(hosted, local_gallery, form(rounds=3), interrogator,
                             on_round=stop_after_the_start, cancel=cancel)  # fmt: skip
    assert outcome.cancelled and len(outcome.experiments) == 1
    assert [r.index for r in outcome.refiner.rounds] == [0, 1]
    assert outcome.refiner.rounds[1].cancelled
    assert local_gallery.count() - before == 1  # the start; nothing of the stopped round
    saved = [local_gallery.get_experiment(i) for i in outcome.experiments]
    assert all(len(e.cells) for e in saved)

    again = run_refinement(hosted, local_gallery, form(rounds=1), interrogator)
    first = [[c.prompt for c in r.variants] for r in outcome.refiner.rounds]
    assert [[c.prompt for c in r.variants] for r in again.refiner.rounds] == first
    assert len(again.experiments) == 2 and not again.cancelled


@pytest.mark.slow
def test_a_paused_run_waits_for_the_artists_pick(hosted, local_gallery, interrogator):
    from ui.refine.runner import RefineRun, play

    run = RefineRun(hosted, local_gallery, form(target_kind="picks", rounds=3), interrogator)
    play(run, pause=True)
    assert [r.index for r in run.refiner.rounds] == [0, 1] and len(run.recorder.experiments) == 2
    play(run)  # nothing scored and nothing picked: no round follows
    assert len(run.refiner.rounds) == 2 and not run.over
    pick = run.refiner.rounds[1].variants[-1].id
    play(run, [pick], pause=True)
    assert [r.index for r in run.refiner.rounds] == [0, 1, 2]
    assert [c.id for c in run.refiner.rounds[2].parents] == [pick]
    saved = local_gallery.get_experiment(run.recorder.experiments[-1])
    assert saved.settings["refine"]["picked"] == [pick]
    assert saved.settings["refine"]["target"] == {"kind": "picks", "metric": None}
