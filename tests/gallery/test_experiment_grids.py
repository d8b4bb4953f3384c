"""Experiments as saved grids: plan, cells, votes, scores (stored and sorted), owners, export."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from gallery import GalleryError, NotFoundError, VariantSpec
from gallery.records import ScoreRecord


def make_grid(store, make_generation, owner=None):
    store = store.for_owner(owner)
    experiment = store.create_experiment(
        "red or blue",
        [
            VariantSpec("red", {"prompt": "a red fox"}),
            VariantSpec("blue", {"prompt": "a blue fox"}),
        ],
        kind="compare",
        settings={"steps": 2, "width": 64},
        seeds=[7, 8],
        axis={"name": "cfg", "values": [5.0, 9.0]},
    )
    cells = {}
    for row, seed in enumerate((7, 8)):
        for variant in experiment.variants:
            for axis_index in (0, 1):
                gid = store.record_generation(
                    make_generation(seed=seed, prompt=variant.recipe["prompt"])
                )
                store.add_to_variant(variant.id, gid, row, axis_index)
                cells[(row, variant.position, axis_index)] = gid
    return store.get_experiment(experiment.id), cells


def test_an_experiment_keeps_its_plan_and_cell_positions(store, make_generation):
    experiment, cells = make_grid(store, make_generation)
    assert experiment.kind == "compare"
    assert experiment.seeds == (7, 8)
    assert experiment.axis == {"name": "cfg", "values": [5.0, 9.0]}
    assert experiment.settings == {"steps": 2, "width": 64}
    red, blue = experiment.variants
    assert experiment.cell(1, blue.id, 0) == cells[(1, 1, 0)]
    assert experiment.cell(0, red.id, 1) == cells[(0, 0, 1)]
    assert len(experiment.cells) == 8


def test_votes_are_recorded_checked_and_deleted_with_the_experiment(store, make_generation):
    experiment, _ = make_grid(store, make_generation)
    red, blue = experiment.variants
    store.add_vote(experiment.id, blue.id, red.id, seed_index=0, blind=True)
    store.add_vote(experiment.id, red.id, seed_index=1)  # best of row 2
    votes = store.votes(experiment.id)
    assert [(v.winner_variant_id, v.loser_variant_id, v.seed_index, v.blind) for v in votes] == [
        (blue.id, red.id, 0, True),
        (red.id, None, 1, False),
    ]
    with pytest.raises(GalleryError, match="against itself"):
        store.add_vote(experiment.id, red.id, red.id)
    with pytest.raises(GalleryError, match="no seed row"):
        store.add_vote(experiment.id, red.id, blue.id, seed_index=5)
    other = store.create_experiment("other", ["x"])
    with pytest.raises(NotFoundError, match="has no variant"):
        store.add_vote(experiment.id, other.variants[0].id, red.id)
    store.delete_experiment(experiment.id)
    with pytest.raises(NotFoundError):
        store.votes(experiment.id)


def test_scores_are_stored_replaced_and_sorted(store, make_generation):
    ids = [store.record_generation(make_generation()) for _ in range(4)]
    store.save_scores(
        [
            ScoreRecord(gid, "clip", value, "tiny", False)
            for gid, value in zip(ids, [20.0, 35.5, -3.0, 28.25], strict=True)
        ]
    )
    store.save_scores([ScoreRecord(ids[2], "clip", 40.0, "tiny", False)])  # replaces
    ranked = store.ranked_by_score("clip")
    assert [(r.generation_id, r.value) for r in ranked] == [
        (ids[2], 40.0),
        (ids[1], 35.5),
        (ids[3], 28.25),
        (ids[0], 20.0),
    ]
    assert [r.generation_id for r in store.ranked_by_score("clip", descending=False, limit=2)] == [
        ids[0],
        ids[3],
    ]
    assert store.scores_of(ids[:2], "clip")[ids[1]].meaningful is False
    with pytest.raises(GalleryError, match="finite"):
        store.save_scores([ScoreRecord(ids[0], "clip", float("nan"), "tiny", False)])
    with pytest.raises(NotFoundError):
        store.save_scores([ScoreRecord(9999, "clip", 1.0, "tiny", False)])
    store.delete(ids[2])
    assert ids[2] not in store.scores_of(ids, "clip")


def test_experiments_are_scoped_to_their_owner(store, make_generation):
    mine, _ = make_grid(store, make_generation, owner="ada")
    theirs = store.create_experiment("theirs", ["a", "b"], owner="bob")
    assert [e.id for e in store.list_experiments(owner="ada")] == [mine.id]
    with pytest.raises(NotFoundError):
        store.get_experiment(theirs.id, owner="ada")
    with pytest.raises(NotFoundError):
        store.delete_experiment(theirs.id, owner="ada")
    with pytest.raises(NotFoundError):
        store.add_vote(theirs.id, theirs.variants[0].id, owner="ada")
    assert store.get_experiment(theirs.id, owner="bob").name == "theirs"
    # votes record their voter; scores follow their generation's owner
    vote = store.add_vote(mine.id, mine.variants[0].id, owner="ada")
    assert vote.user_id == "ada"
    cell = mine.cells[0].generation_id
    store.save_scores([ScoreRecord(cell, "clip", 12.0, "tiny", False)], owner="ada")
    assert store.scores_of([cell], "clip", owner="bob") == {}
    assert [s.generation_id for s in store.ranked_by_score("clip", owner="ada")] == [cell]
    assert store.ranked_by_score("clip", owner="bob") == []
    with pytest.raises(NotFoundError):
        store.save_scores([ScoreRecord(cell, "clip", 1.0, "tiny", False)], owner="bob")
    with pytest.raises(NotFoundError):
        store.export_experiment(mine.id, Path("/tmp/never.zip"), owner="bob")


def test_deleting_an_experiment_with_its_images(store, make_generation):
    experiment, _ = make_grid(store, make_generation)
    kept = store.record_generation(make_generation())
    store.delete_experiment(experiment.id, with_images=True)
    assert store.count() == 1
    assert store.get(kept).id == kept
    assert store.list_experiments() == []


def test_export_holds_contact_sheet_cells_and_a_csv_of_scores_and_votes(
    store, make_generation, tmp_path
):
    experiment, cells = make_grid(store, make_generation)
    red, blue = experiment.variants
    store.save_scores([ScoreRecord(cells[(0, 1, 0)], "clip", 31.5, "sketch CLIP", True)])
    store.add_vote(experiment.id, blue.id, red.id, seed_index=0, blind=True)
    store.add_vote(experiment.id, blue.id, red.id, seed_index=1, blind=True)
    out = store.export_experiment(experiment.id, tmp_path / "exp.zip", b"\x89PNG-sheet")
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        assert archive.read("contact_sheet.png") == b"\x89PNG-sheet"
        assert {n for n in names if n.startswith("cells/")} == {
            f"cells/r{r}-v{v}-a{a}-seed{seed}.png"
            for r, seed in ((1, 7), (2, 8))
            for v in (1, 2)
            for a in (1, 2)
        }
        stored = store.get(cells[(1, 0, 1)]).image.path.read_bytes()
        assert archive.read("cells/r2-v1-a2-seed8.png") == stored
        rows = list(csv.DictReader(io.StringIO(archive.read("cells.csv").decode())))
        assert len(rows) == 8
        scored = next(r for r in rows if r["generation_id"] == str(cells[(0, 1, 0)]))
        assert (
            scored["variant_label"],
            scored["seed"],
            scored["axis_value"],
            scored["clip_score"],
        ) == ("blue", "7", "5.0", "31.500000")
        assert scored["pair_wins"] == "2" and scored["clip_meaningful"] == "yes"
        assert next(r for r in rows if r["variant_label"] == "red")["pair_losses"] == "2"
        votes = list(csv.DictReader(io.StringIO(archive.read("votes.csv").decode())))
        assert [(v["winner"], v["loser"], v["seed"], v["blind"]) for v in votes] == [
            ("blue", "red", "7", "yes"),
            ("blue", "red", "8", "yes"),
        ]
        assert "experiment.json" in names
