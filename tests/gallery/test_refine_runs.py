"""A refinement saved round by round: one "refine" experiment per round, every picture a
generation whose parent is its parent variant's picture on the same seed."""

from __future__ import annotations

import pytest
from PIL import Image

from gallery.refine_runs import RefineRecorder
from ui.recording import new_generation

SEEDS = (3, 4)


@pytest.fixture(scope="module")
def refiner(engine, tmp_path_factory):
    from engine.interrogate import Interrogator
    from engine.refine import Refiner, RefineSpec
    from engine.refine_targets import ImageTarget
    from engine.request import GenerationRequest
    from engine.sketch.world import Scene, render_scene
    from prompts.recipe import Recipe

    interrogator = Interrogator(cache_dir=tmp_path_factory.mktemp("clip-cache"))
    scene = Scene("star", "blue", "large", "right", "night", "flat")
    picture = Image.fromarray(render_scene(scene))
    target = ImageTarget(picture, interrogator.scorer, interrogator)
    spec = RefineSpec(Recipe(subject="a shape"), SEEDS, GenerationRequest("", steps=4, width=64,
                      height=64), "sketch", beam=2, proposals=2, rounds=2, seed=5)  # fmt: skip
    run = Refiner(engine, spec, target, interrogator.facets, interrogator.library)
    run.run(judge=lambda round_: [round_.variants[0].id] if round_.index == 1 else [])
    assert len(run.rounds) == 3
    return run


def record(local, refiner) -> RefineRecorder:
    recorder = new_recorder(local, refiner)
    for round_ in refiner.rounds:
        recorder.record_round(round_)
    return recorder


def new_recorder(local, refiner) -> RefineRecorder:
    return RefineRecorder(
        local,
        new_generation,
        name="Toward a blue star",
        spec=refiner.spec.to_dict(),
        target=refiner.target.describe(),
        scorer=refiner.target.scorer.name,
        meaningful=True,
    )


def test_each_round_is_a_refine_experiment_with_its_grid(local, refiner):
    recorder = record(local, refiner)
    experiments = [local.get_experiment(i) for i in recorder.experiments]
    assert [e.kind for e in experiments] == ["refine"] * 3
    assert experiments[1].name == "Toward a blue star · round 1"
    assert experiments[2].settings["refine"]["previous_experiment"] == experiments[1].id
    assert experiments[2].settings["refine"]["run"] == recorder.run_id
    assert experiments[2].settings["refine"]["target"]["kind"] == "image"
    assert tuple(experiments[0].seeds) == SEEDS
    for experiment, round_ in zip(experiments, refiner.rounds, strict=True):
        columns = [c.id for c in (*round_.parents, *round_.variants)]
        assert [v.name for v in experiment.variants] == columns
        for variant in experiment.variants:
            cells = [c for c in experiment.cells if c.variant_id == variant.id]
            assert sorted(c.seed_index for c in cells) == [0, 1]
        assert experiment.winner.name == round_.best.id
    picked = next(c for c in refiner.rounds[1].variants if c.picked)
    votes = local.votes(experiments[1].id)
    assert [v.winner_variant_id for v in votes] == [
        next(v.id for v in experiments[1].variants if v.name == picked.id)
    ]


def test_parents_are_not_rendered_twice_and_variants_keep_their_story(local, refiner):
    recorder = record(local, refiner)
    rendered = sum(len(r.variants) for r in refiner.rounds) * len(SEEDS)
    assert local.count() == rendered
    experiment = local.get_experiment(recorder.experiments[1])
    child = next(v for v in experiment.variants if v.name == refiner.rounds[1].variants[0].id)
    candidate = refiner.candidates[child.name]
    assert child.recipe["parent"] == "r0"
    assert child.recipe["prompt"] == candidate.prompt
    assert child.recipe["edits"] == [edit.to_dict() for edit in candidate.edits]
    assert child.recipe["score"] == pytest.approx(candidate.score)
    assert set(child.recipe["versus_parent"]) == {"mean", "low", "high"}


def test_the_lineage_walks_from_the_best_back_to_the_start_on_each_seed(local, refiner):
    recorder = record(local, refiner)
    best = refiner.best
    path = [candidate.id for candidate in refiner.lineage()]
    assert path[0] == "r0" and path[-1] == best.id
    for seed_index, seed in enumerate(SEEDS):
        generation_id = recorder.generations[best.id][seed_index]
        lineage = local.lineage(generation_id)
        chain = [*lineage.ancestors, lineage.generation]
        assert [g.id for g in chain] == [recorder.generations[c][seed_index] for c in path]
        assert {g.seed for g in chain} == {seed}
        record_ = local.get(generation_id)
        assert record_.recipe == best.recipe.to_dict()
        scores = local.scores_of([generation_id], "clip_image")
        assert scores[generation_id].value == pytest.approx(best.scores[seed_index], abs=1e-4)


def test_a_pick_made_after_a_round_was_saved_is_recorded_as_the_artists(local, refiner, engine):
    """The page's order: round 1 is saved, then the artist picks a variant the score did not
    rank first, then round 2 runs from it and is saved."""
    from engine.refine import Refiner

    run = Refiner(engine, refiner.spec, refiner.target, refiner.facets, refiner.library)
    recorder = new_recorder(local, run)
    for round_ in (run.start(), run.step()):
        recorder.record_round(round_)
    first = run.rounds[1]
    pick = next(c for c in first.variants if c is not first.best)
    second = run.step([pick.id])
    recorder.record_pick(first)
    recorder.record_pick(first)  # once only
    recorder.record_round(second)
    saved_first, saved_second = (local.get_experiment(i) for i in recorder.experiments[1:])
    assert saved_first.winner.name == pick.id
    assert [v.winner_variant_id for v in local.votes(saved_first.id)] == [
        next(v.id for v in saved_first.variants if v.name == pick.id)
    ]
    story = saved_second.settings["refine"]
    assert story["picked"] == [pick.id] and story["parents_chosen_by"][pick.id] == "artist"
    parent = next(v for v in saved_second.variants if v.name == pick.id)
    assert parent.recipe["picked"] is True and parent.recipe["chosen_by"] == "artist"
    assert local.votes(saved_second.id) == []
