"""Experiments as saved grids: plan, cells, votes, scores (stored and sorted), owners, export."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from gallery import GalleryError, NotFoundError, VariantSpec
from gallery.owners import LOCAL_OWNER
from gallery.records import ScoreRecord


def make_grid(store, make_generation, owner=LOCAL_OWNER):
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


def test_votes_are_recorded_checked_and_deleted_with_the_experiment(store, local, make_generation):
    experiment, _ = make_grid(store, make_generation)
    red, blue = experiment.variants
    local.add_vote(experiment.id, blue.id, red.id, seed_index=0, blind=True)
    local.add_vote(experiment.id, red.id, seed_index=1)  # best of row 2
    votes = local.votes(experiment.id)
    assert [(v.winner_variant_id, v.loser_variant_id, v.seed_index, v.blind) for v in votes] == [
        (blue.id, red.id, 0, True),
        (red.id, None, 1, False),
    ]
    with pytest.raises(GalleryError, match="against itself"):
        local.add_vote(experiment.id, red.id, red.id)
    with pytest.raises(GalleryError, match="no seed row"):
        local.add_vote(experiment.id, red.id, blue.id, seed_index=5)
    other = local.create_experiment("other", ["x"])
    with pytest.raises(NotFoundError, match="has no variant"):
        local.add_vote(experiment.id, other.variants[0].id, red.id)
    local.delete_experiment(experiment.id)
    with pytest.raises(NotFoundError):
        local.votes(experiment.id)


def test_a_second_vote_on_the_same_pair_or_row_changes_it(store, local, make_generation):
    experiment, _ = make_grid(store, make_generation)
    red, blue = experiment.variants
    local.add_vote(experiment.id, red.id, blue.id, seed_index=0, blind=True)
    local.add_vote(experiment.id, red.id, blue.id, seed_index=0, blind=True)  # clicked twice
    local.add_vote(experiment.id, blue.id, red.id, seed_index=0, blind=True)  # changed mind
    local.add_vote(experiment.id, red.id, blue.id, seed_index=1, blind=True)  # another seed
    local.add_vote(experiment.id, red.id, seed_index=0, axis_index=1)  # best of a row
    local.add_vote(experiment.id, blue.id, seed_index=0, axis_index=1)  # ... changed
    local.add_vote(experiment.id, red.id, seed_index=0, axis_index=0)  # another axis value
    votes = local.votes(experiment.id)
    judged = [(v.winner_variant_id, v.loser_variant_id, v.seed_index, v.axis_index) for v in votes]
    assert len(judged) == 4 and set(judged) == {
        (blue.id, red.id, 0, None),
        (red.id, blue.id, 1, None),
        (blue.id, None, 0, 1),
        (red.id, None, 0, 0),
    }


def test_scores_are_stored_replaced_and_sorted(local, make_generation):
    ids = [local.record_generation(make_generation()) for _ in range(4)]
    local.save_scores(
        [
            ScoreRecord(gid, "clip", value, "tiny", False)
            for gid, value in zip(ids, [20.0, 35.5, -3.0, 28.25], strict=True)
        ]
    )
    local.save_scores([ScoreRecord(ids[2], "clip", 40.0, "tiny", False)])  # replaces
    ranked = local.ranked_by_score("clip")
    assert [(r.generation_id, r.value) for r in ranked] == [
        (ids[2], 40.0),
        (ids[1], 35.5),
        (ids[3], 28.25),
        (ids[0], 20.0),
    ]
    assert [r.generation_id for r in local.ranked_by_score("clip", descending=False, limit=2)] == [
        ids[0],
        ids[3],
    ]
    assert local.scores_of(ids[:2], "clip")[ids[1]].meaningful is False
    with pytest.raises(GalleryError, match="finite"):
        local.save_scores([ScoreRecord(ids[0], "clip", float("nan"), "tiny", False)])
    with pytest.raises(NotFoundError):
        local.save_scores([ScoreRecord(9999, "clip", 1.0, "tiny", False)])
    local.delete(ids[2])
    assert ids[2] not in local.scores_of(ids, "clip")


def test_experiments_are_scoped_to_their_owner(store, make_generation):
    mine, _ = make_grid(store, make_generation, owner="ada")
    theirs = store.for_owner("bob").create_experiment("theirs", ["a", "b"])
    assert [e.id for e in store.for_owner("ada").list_experiments()] == [mine.id]
    with pytest.raises(NotFoundError):
        store.for_owner("ada").get_experiment(theirs.id)
    with pytest.raises(NotFoundError):
        store.for_owner("ada").delete_experiment(theirs.id)
    with pytest.raises(NotFoundError):
        store.for_owner("ada").add_vote(theirs.id, theirs.variants[0].id)
    assert store.for_owner("bob").get_experiment(theirs.id).name == "theirs"
    # votes record their voter; scores follow their generation's owner
    vote = store.for_owner("ada").add_vote(mine.id, mine.variants[0].id)
    assert vote.user_id == "ada"
    cell = mine.cells[0].generation_id
    store.for_owner("ada").save_scores([ScoreRecord(cell, "clip", 12.0, "tiny", False)])
    assert store.for_owner("bob").scores_of([cell], "clip") == {}
    assert [s.generation_id for s in store.for_owner("ada").ranked_by_score("clip")] == [cell]
    assert store.for_owner("bob").ranked_by_score("clip") == []
    with pytest.raises(NotFoundError):
        store.for_owner("bob").save_scores([ScoreRecord(cell, "clip", 1.0, "tiny", False)])
    with pytest.raises(NotFoundError):
        store.for_owner("bob").export_experiment(mine.id, Path("/tmp/never.zip"))


def test_deleting_an_experiment_with_its_images(store, local, make_generation):
    experiment, _ = make_grid(store, make_generation)
    kept = local.record_generation(make_generation())
    local.delete_experiment(experiment.id, with_images=True)
    assert local.count() == 1
    assert local.get(kept).id == kept
    assert local.list_experiments() == []


def test_export_holds_contact_sheet_cells_and_a_csv_of_scores_and_votes(
    store, local, make_generation, tmp_path
):
    experiment, cells = make_grid(store, make_generation)
    red, blue = experiment.variants
    local.save_scores([ScoreRecord(cells[(0, 1, 0)], "clip", 31.5, "sketch CLIP", True)])
    local.add_vote(experiment.id, blue.id, red.id, seed_index=0, blind=True)
    local.add_vote(experiment.id, blue.id, red.id, seed_index=1, blind=True)
    out = local.export_experiment(experiment.id, tmp_path / "exp.zip", b"\x89PNG-sheet")
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        assert archive.read("contact_sheet.png") == b"\x89PNG-sheet"
        assert {n for n in names if n.startswith("cells/")} == {
            f"cells/r{r}-v{v}-a{a}-seed{seed}.png"
            for r, seed in ((1, 7), (2, 8))
            for v in (1, 2)
            for a in (1, 2)
        }
        stored = local.get(cells[(1, 0, 1)]).image.path.read_bytes()
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
        # Each cell counts the votes on its own seed row: one here, not the variant's total
        # repeated on every row; summed over the rows they are the totals.
        assert scored["pair_wins"] == "1" and scored["clip_meaningful"] == "yes"
        assert next(r for r in rows if r["variant_label"] == "red")["pair_losses"] == "1"
        first_axis = [r for r in rows if r["axis_value"] == "5.0"]
        wins = {label: sum(int(r["pair_wins"]) for r in first_axis if r["variant_label"] == label)
                for label in ("red", "blue")}  # fmt: skip
        assert wins == {"red": 0, "blue": 2}
        votes = list(csv.DictReader(io.StringIO(archive.read("votes.csv").decode())))
        assert [(v["winner"], v["loser"], v["seed"], v["blind"]) for v in votes] == [
            ("blue", "red", "7", "yes"),
            ("blue", "red", "8", "yes"),
        ]
        assert "experiment.json" in names
