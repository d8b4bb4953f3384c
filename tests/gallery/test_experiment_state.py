"""An experiment reads as running, finished, or interrupted with N of M cells, whatever
stopped it (Stop, an error, a kill), and knows which cells are missing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from gallery.experiment_state import RUN_TIMEOUT_S, ExperimentState
from gallery.files import HOSTNAME
from gallery.models import Experiment


def grid(local, make_generation, *, made, axis=None):
    """A 2-seed x 2-variant experiment (x the axis) with the cells at `made` positions."""
    experiment = local.create_experiment(
        "red vs blue", ["red", "blue"], seeds=[7, 8], axis=axis or {}
    )
    for seed_index, variant_index, axis_index in made:
        generation = local.record_generation(make_generation())
        local.add_to_variant(
            experiment.variants[variant_index].id, generation, seed_index, axis_index
        )
    return local.get_experiment(experiment.id)


def set_runner(store, experiment_id, runner, heartbeat_at):
    with store.engine.begin() as connection:
        connection.execute(
            update(Experiment)
            .where(Experiment.id == experiment_id)
            .values(runner=runner, heartbeat_at=heartbeat_at)
        )


def test_a_grid_with_missing_cells_and_no_run_is_interrupted_n_of_m(local, make_generation):
    experiment = grid(local, make_generation, made=[(0, 0, None), (0, 1, None)])
    assert experiment.state == ExperimentState("interrupted", 2, 4)
    assert str(experiment.state) == "interrupted, 2 of 4 cells"
    assert experiment.missing_positions() == [(1, 0, 0), (1, 1, 0)]
    assert [e.state.status for e in local.list_experiments()] == ["interrupted"]


def test_a_run_in_progress_is_running_until_it_is_marked_stopped(local, make_generation):
    experiment = grid(local, make_generation, made=[(0, 0, None)])
    local.mark_experiment_running(experiment.id)
    assert local.get_experiment(experiment.id).state == ExperimentState("running", 1, 4)
    local.mark_experiment_stopped(experiment.id)
    assert local.get_experiment(experiment.id).state.status == "interrupted"


def test_every_cell_made_is_finished(local, make_generation):
    axis = {"name": "cfg", "values": [5.0, 7.0]}
    made = [(s, v, a) for s in range(2) for v in range(2) for a in range(2)]
    experiment = grid(local, make_generation, made=made, axis=axis)
    assert experiment.state == ExperimentState("finished", 8, 8)
    assert str(experiment.state) == "finished" and experiment.missing_positions() == []


def test_a_runner_that_died_leaves_its_experiment_interrupted(store, local, make_generation):
    experiment = grid(local, make_generation, made=[(0, 0, None)])
    now = datetime.now(timezone.utc)
    set_runner(store, experiment.id, f"{HOSTNAME}-999999999", now)  # no such process
    assert local.get_experiment(experiment.id).state.status == "interrupted"
    # On another host only the heartbeat can tell: fresh is running, stale is interrupted.
    set_runner(store, experiment.id, "replica-7-1234", now)
    assert local.get_experiment(experiment.id).state.status == "running"
    stale = now - timedelta(seconds=RUN_TIMEOUT_S + 1)
    set_runner(store, experiment.id, "replica-7-1234", stale)
    assert local.get_experiment(experiment.id).state.status == "interrupted"


def test_an_experiment_saved_without_seeds_is_finished(local):
    experiment = local.create_experiment("notes only", ["a", "b"])
    assert experiment.state == ExperimentState("finished", 0, 0)
