"""Refinement toward a target on the sketch model: seeded rounds through the batched Compare
runner, a best that never falls, and the stop rule of the bootstrap interval."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from engine.errors import InvalidRequestError
from engine.interrogate import Interrogator
from engine.refine import Interval, Refiner, RefineSpec, pooled_intervals
from engine.refine_targets import ImageTarget, PicksTarget, TextTarget
from engine.request import GenerationRequest
from engine.sketch.world import Scene, render_scene
from prompts.recipe import Recipe

SETTINGS = GenerationRequest("", steps=4, width=64, height=64)
TARGET = Scene("circle", "red", "large", "left", "night", "flat")


@pytest.fixture(scope="module")
def interrogator(tmp_path_factory):
    return Interrogator(cache_dir=tmp_path_factory.mktemp("clip-cache"))


@pytest.fixture(scope="module")
def target(interrogator):
    return ImageTarget(Image.fromarray(render_scene(TARGET, 5)), interrogator.scorer, interrogator)


def spec(**changes) -> RefineSpec:
    values = dict(
        start=Recipe(subject="a shape"),
        seeds=(1, 2),
        settings=SETTINGS,
        model="sketch",
        beam=2,
        proposals=3,
        rounds=2,
        max_edits=3,
        seed=11,
    )
    return RefineSpec(**{**values, **changes})


def summary(refiner: Refiner) -> list[list[tuple[str, str, tuple[float, ...]]]]:
    return [
        [(c.id, c.prompt, tuple(round(s, 3) for s in c.scores)) for c in round_.variants]
        for round_ in refiner.rounds
    ]


@pytest.fixture(scope="module")
def first_run(engine, target, interrogator):
    refiner = Refiner(engine, spec(), target, interrogator.facets, interrogator.library)
    refiner.run()
    return refiner


def test_the_same_inputs_give_the_same_rounds(engine, target, interrogator, first_run):
    again = Refiner(engine, spec(), target, interrogator.facets, interrogator.library)
    again.run()
    assert summary(again) == summary(first_run)
    other = Refiner(engine, spec(seed=12, rounds=1), target, interrogator.facets,
                    interrogator.library)  # fmt: skip
    other.start()
    other.step()
    assert [c.prompt for c in other.rounds[1].variants] != [
        c.prompt for c in first_run.rounds[1].variants
    ]


def test_the_best_never_falls_and_accepted_variants_beat_their_parents(first_run):
    rounds = first_run.rounds
    assert rounds[0].best.prompt == "a shape"
    assert rounds[-1].best.score > rounds[0].best.score  # it climbed
    for before, after in itertools.pairwise(rounds):
        assert after.best.score >= before.best.score
        for variant in after.variants:
            parent = first_run.candidates[variant.parent]
            assert variant.versus_parent is not None
            assert variant.accepted == (variant.versus_parent.low > 0)
            if variant.accepted:
                assert variant.score > parent.score
            assert variant.edits and variant.round == after.index
        allowed = {c.id for c in after.parents} | {v.id for v in after.variants if v.accepted}
        assert {c.id for c in after.beam} <= allowed


def test_the_lineage_leads_from_the_start_to_the_best(first_run):
    path = first_run.lineage()
    assert path[0].id == "r0" and path[-1] is first_run.best
    for parent, child in itertools.pairwise(path):
        assert child.parent == parent.id and child.round > parent.round
        assert child.score > parent.score  # each step was accepted


def test_every_round_renders_as_one_batched_comparison(engine, target, interrogator):
    calls = []
    original = engine.generate_rows

    def counting(specs, *args, **kwargs):
        calls.append((len(specs), {s.seed for s in specs}))
        return original(specs, *args, **kwargs)

    engine.generate_rows = counting
    try:
        refiner = Refiner(engine, spec(rounds=1), target, interrogator.facets,
                          interrogator.library)  # fmt: skip
        refiner.start()
        refiner.step()
    finally:
        del engine.generate_rows
    variants = len(refiner.rounds[1].variants)
    assert calls[0] == (2, {1, 2})  # the start on both seeds
    assert sum(size for size, _ in calls[1:]) == variants * 2
    assert len(calls[1:]) == -(-variants * 2 // 8)  # batches of at most 8 images


class Scripted:
    """A target whose scores are given per call (one list per round), seed by seed."""

    kind, scored = "scripted", True

    def __init__(self, rounds):
        self.rounds = list(rounds)

    def score(self, images):
        per_variant = self.rounds.pop(0)
        assert len(images) == 2 * len(per_variant)  # two seeds
        return [value for value in per_variant for _ in range(2)]

    def guide(self):
        return None

    def describe(self):
        return {"kind": self.kind}


def test_the_beam_keeps_a_parent_that_no_variant_beats(engine, interrogator):
    """Round 1: A (50) and B (30) beat the start (10). Round 2: A's variants fall short
    (40, 40), B's first beats B (35): the beam is A and B's variant, and the best stays A."""
    target = Scripted([[10], [50, 30], [40, 40, 35, 20]])
    refiner = Refiner(engine, spec(proposals=2, rounds=2, settings=SETTINGS), target,
                      interrogator.facets, interrogator.library)  # fmt: skip
    rounds = refiner.run()
    assert [c.id for c in rounds[1].beam] == ["r1.1", "r1.2"]
    assert [v.accepted for v in rounds[2].variants] == [False, False, True, False]
    assert [c.id for c in rounds[2].beam] == ["r1.1", "r2.3"]
    assert [r.best.score for r in rounds] == [10, 50, 50]


def test_it_stops_when_no_variant_beats_its_parent(engine, interrogator):
    class Flat:
        kind, scored = "flat", True

        def score(self, images):
            return [1.0] * len(images)

        def guide(self):
            return None

        def describe(self):
            return {"kind": self.kind}

    refiner = Refiner(engine, spec(rounds=3, proposals=2, beam=1), Flat(), interrogator.facets,
                      interrogator.library)  # fmt: skip
    rounds = refiner.run()
    assert len(rounds) == 2 and refiner.finished
    assert not rounds[1].improved and rounds[1].best.id == "r0"
    assert refiner.step() is None


def test_the_artists_picks_overrule_the_scores(engine, interrogator):
    picked = []

    def judge(round_):
        choice = round_.variants[-1].id
        picked.append(choice)
        return [choice]

    refiner = Refiner(engine, spec(rounds=2, proposals=2, beam=1), PicksTarget(),
                      interrogator.facets, interrogator.library)  # fmt: skip
    rounds = refiner.run(judge)
    assert len(rounds) == 3  # the start and two rounds, carried by the picks alone
    assert [r.parents[0].id for r in rounds[1:]] == picked[:2]
    assert all(r.parents[0].picked for r in rounds[1:])
    with pytest.raises(InvalidRequestError, match=r"no variant 'r9\.9'"):
        refiner._apply_picks(rounds[-1], ["r9.9"])


def test_a_pick_overrules_the_beam_and_the_lineage_says_so(engine, interrogator):
    """Round 1 scores r1.1 50 and r1.2 30: the score would go on from r1.1, the artist picks
    r1.2, so round 2's parent is r1.2 (its variants fall short and it stays the best)."""

    def refine(picks):
        target = Scripted([[10], [50, 30], [20, 10]])
        refiner = Refiner(engine, spec(proposals=2, beam=1, rounds=2), target,
                          interrogator.facets, interrogator.library)  # fmt: skip
        refiner.start()
        refiner.step()
        refiner.step(picks)
        return refiner

    by_score, by_pick = refine([]), refine(["r1.2"])
    assert [c.id for c in by_score.rounds[2].parents] == ["r1.1"]
    assert [c.id for c in by_pick.rounds[2].parents] == ["r1.2"]
    assert {v.parent for v in by_pick.rounds[2].variants} == {"r1.2"}
    assert by_pick.rounds[1].picks == ["r1.2"] and by_score.rounds[1].picks == []
    assert by_pick.best.id == "r1.2" and by_pick.best.score < by_pick.candidates["r1.1"].score
    assert [(c.id, c.chosen_by) for c in by_pick.lineage()] == [("r0", "start"),
                                                                ("r1.2", "artist")]  # fmt: skip
    assert [(c.id, c.chosen_by) for c in by_score.lineage()] == [("r0", "start"),
                                                                 ("r1.1", "score")]  # fmt: skip


def test_a_picks_run_waits_for_the_artist_and_the_same_picks_give_the_same_rounds(
    engine, interrogator
):
    def refine(choose):
        refiner = Refiner(engine, spec(rounds=2, proposals=2, beam=1), PicksTarget(),
                          interrogator.facets, interrogator.library)  # fmt: skip
        refiner.start()
        first = refiner.step()
        assert refiner.finished and refiner.step() is None  # nothing scored: it waits
        assert refiner.rounds[-1] is first
        second = refiner.step([choose(first).id])
        assert [c.id for c in second.parents] == [choose(first).id]
        assert refiner.step([second.variants[0].id]) is None  # no round left: nothing changes
        assert not second.variants[0].picked and second.picks == []
        return refiner

    once, again = refine(lambda r: r.variants[-1]), refine(lambda r: r.variants[-1])
    assert summary(once) == summary(again)
    assert [c.chosen_by for c in once.lineage(once.rounds[2].variants[0].id)] == [
        "start",
        "artist",
        None,
    ]
    other = refine(lambda r: r.variants[0])
    assert summary(other)[:2] == summary(once)[:2] and summary(other)[2] != summary(once)[2]


def test_a_text_intent_is_scored_by_clip_and_guides_the_proposals(engine, interrogator):
    target = TextTarget("a red circle, night", interrogator.scorer, interrogator)
    guide = target.guide()
    assert guide.term_weight("subject.colour", "red") > guide.term_weight("subject.colour", "blue")
    refiner = Refiner(engine, spec(rounds=1), target, interrogator.facets, interrogator.library)
    refiner.run()
    best = refiner.best
    expected = interrogator.scorer.score(best.images, ["a red circle, night"] * 2)
    assert best.scores == expected


def test_one_variants_interval_is_the_textbook_paired_t_interval():
    """With one variant the pooled spread is its own: scipy's one-sample t interval."""
    from scipy import stats

    rng = np.random.default_rng(0)
    for size in (2, 3, 8):
        differences = rng.normal(0.5, 2.0, size=size)
        (ours,) = pooled_intervals([differences])
        low, high = stats.t.interval(0.95, size - 1, differences.mean(), stats.sem(differences))
        assert ours.mean == pytest.approx(differences.mean())
        assert (ours.low, ours.high) == (pytest.approx(low), pytest.approx(high))
    (single,) = pooled_intervals([np.array([1.5])])
    assert single == Interval(1.5, 1.5, 1.5)  # one seed: no spread to pool


def test_winning_on_both_seeds_by_less_than_the_rounds_noise_is_not_enough():
    """A variant that beats its parent on both of two seeds by a little is not accepted when
    the round's variants show that two seeds disagree by much more (a bootstrap over its own
    two differences would accept it: its low end is its smaller difference)."""
    round_ = [np.array(d) for d in ([0.8, 0.6], [9.0, -7.0], [-6.0, 5.0], [20.0, 14.0])]
    small, _, _, large = pooled_intervals(round_)
    assert min(round_[0]) > 0 and small.low < 0  # not accepted
    assert large.low > 0  # a real gain still is


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"beam": 0}, "beam keeps 1 to"),
        ({"proposals": 40}, "proposes 1 to"),
        ({"rounds": 0}, "runs 1 to"),
        ({"seeds": tuple(range(16)), "beam": 8, "proposals": 8}, "would make 1024 images"),
        ({"start": Recipe()}, "with a subject"),
    ],
)
def test_a_bad_run_is_refused_in_one_sentence(engine, interrogator, changes, message):
    with pytest.raises(InvalidRequestError, match=message):
        Refiner(engine, spec(**changes), PicksTarget(), interrogator.facets)
