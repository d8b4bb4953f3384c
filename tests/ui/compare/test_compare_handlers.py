"""The Compare tab's handlers called directly, on the demo model and a real gallery."""

from __future__ import annotations

import random
import zipfile

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from gallery.owners import LOCAL_OWNER
from gallery.store import GalleryStore
from prompts.styles import Style, StyleLibrary
from ui.compare import handlers as h

SETTINGS = dict(model="demo", steps=1, guidance_scale=7.0, width=64, height=64, scheduler="Euler a")


@pytest.fixture
def store(tmp_path):
    with GalleryStore.open(tmp_path / "gallery") as opened:
        yield opened.for_owner(LOCAL_OWNER)


def run(hosted, store, rows, seeds="3, 4", axis_name=h.NO_AXIS, axis_values="", name=""):
    page = dict(variants=rows, seeds=seeds, random_seeds=0, negative_prompt="", name=name)
    page |= dict(axis_name=axis_name, axis_values=axis_values, **SETTINGS)
    events = list(h.run_comparison(hosted, store, h.read_form(page)))
    status, _, experiment_id = events[-1]
    assert status.startswith(f"Saved experiment #{experiment_id}")
    return experiment_id, events


def test_a_run_saves_a_grid_with_diff_headers_scores_and_a_ranking(hosted, store):
    rows = [["red", "a red fox, snow"], ["", "a (blue:1.3) fox, snow, night"]]
    experiment_id, events = run(hosted, store, rows)
    assert any(e[0].startswith("Cells 0 of 4") for e in events[:-1])  # one bar for the grid
    summary, header, grid, ranking, ablation, _plot, winner = h.show_experiment(
        store, experiment_id
    )
    assert "CLIP scores by sketch CLIP" in summary  # the shipped sketch CLIP; no real one here
    assert 'class="diff-added"' in header and ">night<" in header
    assert "a (blue:1.3) fox, snow, night" in header  # the blank label became the prompt
    items = grid.value
    assert len(items) == 4 and grid.columns == 2
    assert [item["caption"].split(" · ")[0] for item in items] == ["seed 3"] * 2 + ["seed 4"] * 2
    assert [r[0] for r in ranking] == ["red", "a (blue:1.3) fox, snow, night"]
    assert "reference" in ranking[0][4] and "n=2" in ranking[1][4]
    assert ablation == []
    assert winner.choices == [("red", "red"), ("a (blue:1.3) fox, snow, night",) * 2]


def test_heat_map_and_slider(hosted, store):
    experiment_id, _ = run(hosted, store, [["a", "a red fox"], ["b", "a blue fox"]], seeds="5")
    view = h.load_view(store, experiment_id)
    plain = h.grid_items(view)
    heat = h.grid_items(view, heat=True)
    assert plain[0] == heat[0]  # the first variant stays itself
    assert isinstance(heat[1][0], Image.Image) and "heat map" in heat[1][1]
    slider, first, info = h.pick_cell(store, experiment_id, None, 0)
    assert first == [0, 0] and "click a second" in info
    slider, first, info = h.pick_cell(store, experiment_id, first, 1)
    assert first is None and "⟷" in info
    left, right = slider
    assert left.size == right.size == (64, 64)
    assert np.abs(np.asarray(left, int) - np.asarray(right, int)).max() > 0
    second = store.get(h.cell_generation_id(store, experiment_id, 1))
    assert second.prompt == "a blue fox" and second.seed == 5  # what "Open in the Gallery" shows
    assert h.cell_generation_id(store, None, 1) is None


def test_heat_map_legend_draws_the_heat_maps_own_colours():
    import re

    from engine.image_metrics import difference_heat_map

    markup = h.heat_legend_markup()
    stops = [tuple(map(int, m)) for m in re.findall(r"rgb\((\d+), (\d+), (\d+)\)", markup)]
    black, white = Image.new("RGB", (4, 4), "black"), Image.new("RGB", (4, 4), "white")
    same = tuple(np.asarray(difference_heat_map(black, black))[0, 0])
    apart = tuple(np.asarray(difference_heat_map(black, white))[0, 0])  # ΔE 100, past full scale
    assert stops[0] == same == (0, 0, 0) and stops[-1] == apart == (255, 255, 255)
    assert stops[2] == (255, 0, 0) and stops[4] == (255, 255, 0)  # red, then yellow
    assert "ΔE 0" in markup and "≥ 50" in markup
    assert h.heat_legend(True).visible is True and h.heat_legend(False).visible is False


def test_blind_votes_rank_the_variants(hosted, store):
    experiment_id, _ = run(hosted, store, [["a", "a red fox"], ["b", "a blue fox"]], seeds="5, 6")
    rng = random.Random(0)
    shown = set()
    for _ in range(2):  # the pair on seed 5, then on seed 6: not yet voted on first
        left, right, pair, text = h.next_blind_pair(store, experiment_id, rng)
        assert "Which is better" in text and left != right
        shown.add(pair["row"])
        view = h.load_view(store, experiment_id)
        b = view.variants[1].id
        h.blind_vote(store, pair, "left" if pair["left"] == b else "right")  # always prefer b
    assert shown == {0, 1}
    h.blind_vote(store, pair, "left" if pair["left"] == b else "right")  # clicked twice
    view = h.load_view(store, experiment_id)
    assert all(v.blind for v in view.votes) and len(view.votes) == 2  # one per pair per seed
    ranking = h.ranking_rows(view)
    assert ranking[0][0] == "b" and ranking[0][2] == "2–0"
    assert h.mark_winner(store, experiment_id, "b") == "Winner: b."
    assert h.ranking_rows(h.load_view(store, experiment_id))[0][0] == "b 🏆"
    with pytest.raises(gr.Error, match="Click a cell first"):
        h.mark_row_best(store, experiment_id, None)
    row_two = {c.variant_id: c.generation_id for c in view.experiment.cells if c.seed_index == 1}
    a, b = (v.id for v in view.variants)
    assert h.mark_row_best(store, experiment_id, row_two[a]) == "Best on seed 6: a."
    assert h.mark_row_best(store, experiment_id, row_two[b]) == "Best on seed 6: b."
    bests = [v for v in h.load_view(store, experiment_id).votes if v.loser_variant_id is None]
    assert [(v.winner_variant_id, v.seed_index) for v in bests] == [(b, 1)]  # changed, not two


def test_axis_columns_and_export_with_contact_sheet(hosted, store, tmp_path):
    experiment_id, _ = run(
        hosted, store, [["a", "a red fox"], ["b", "a blue fox"]], seeds="5, 6",
        axis_name="cfg", axis_values="2, 8",
    )  # fmt: skip
    view = h.load_view(store, experiment_id)
    assert [view.column_label(c) for c in range(4)] == [
        "a · cfg 2",
        "b · cfg 2",
        "a · cfg 8",
        "b · cfg 8",
    ]
    # On the page: rows × columns as A1111's X/Y plot, one column per variant, one row per
    # seed and CFG value (seed major), headed by the variants and what the rows are.
    _, header, grid, *_ = h.show_experiment(store, experiment_id)
    captions = [caption.split(" · #")[0] for _, caption in h.grid_items(view)]
    assert captions == [
        f"seed {seed} · CFG scale {cfg} · {variant}"
        for seed in (5, 6) for cfg in (2, 8) for variant in ("a", "b")
    ]  # fmt: skip
    assert grid.columns == 2 and "Rows: seed × CFG scale" in grid.label
    assert "Rows: each seed × CFG scale (2, 8)" in header and header.count("compare-column") == 2
    a_cfg8_seed6 = h.cell_at(view, 6)
    assert a_cfg8_seed6 == (1, view.column_of(0, 1))
    path = h.export_experiment(store, experiment_id)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {"contact_sheet.png", "cells.csv", "votes.csv", "experiment.json"} <= names
        assert len([n for n in names if n.startswith("cells/")]) == 8
        sheet = Image.open(archive.open("contact_sheet.png"))
        assert sheet.width > 4 * 64
    h.delete_experiment(store, experiment_id, with_images=True)
    assert store.count() == 0 and h.experiment_choices(store) == []


def test_ablation_ranks_terms_on_the_page(hosted, store):
    s = SETTINGS
    page = dict(ablate="a fox, snow, golden hour", seeds="5", random_seeds=0, **s)
    events = list(h.run_comparison(hosted, store, h.read_form(page)))
    experiment_id = events[-1][2]
    _, _, _, _, ablation, plot, _ = h.show_experiment(store, experiment_id)
    assert sorted(r[0] for r in ablation) == ["a fox", "golden hour", "snow"]
    assert [r[1] for r in ablation] == sorted((r[1] for r in ablation), reverse=True)
    assert list(h.ablation_plot_value(ablation)["term"]) == [r[0] for r in ablation]
    assert plot.visible  # drawn for an ablation; hidden (not blank axes) for a comparison
    assert h.show_experiment(store, None)[5].visible is False


def test_generators_and_compare_with(store, make_generation_for_ui):
    library = StyleLibrary(
        builtin=[Style("Ink", "x", "{prompt}, ink"), Style("Oil", "x", "oil, {prompt}")]
    )
    assert h.generate_variants(library, "Prompt S/R", "a red fox", "red, blue", None) == [
        ["red", "a red fox"],
        ["blue", "a blue fox"],
    ]
    assert len(h.generate_variants(library, "Prompt matrix", "a fox | snow", "", None)) == 2
    assert h.generate_variants(library, "Style sweep", "a fox", "", ["Ink", "Oil"]) == [
        ["Ink", "a fox, ink"],
        ["Oil", "oil, a fox"],
    ]
    with pytest.raises(gr.Error, match="does not contain"):
        h.generate_variants(library, "Prompt S/R", "a fox", "red, blue", None)
    gid = store.record_generation(make_generation_for_ui)
    rows, seeds, *_ = h.compare_with(store, gid)
    assert rows[0] == [f"#{gid}", "a lighthouse at dusk"] and seeds == "42"
    with pytest.raises(gr.Error, match="no generation"):
        h.compare_with(store, 999)
    assert h.add_variant([["a", "x"]], "a (fox:1.2)") == [
        ["a", "x"],
        ["a (fox:1.2)", "a (fox:1.2)"],
    ]


@pytest.mark.parametrize(
    ("rows", "seeds", "message"),
    [
        ([["a", "a fox"]], "1", "Give 2 to 8 variants"),
        ([["a", "a fox"], ["b", "a cat"]], "1, x", "not a whole number"),
        ([["a", "a fox"], ["b", "a (cat"]], "1", "Prompt syntax"),
    ],
)
def test_bad_input_is_one_sentence(hosted, store, rows, seeds, message):
    """Refused before anything is saved: no experiment, not even an empty one."""
    with pytest.raises(gr.Error, match=message) as raised:
        run(hosted, store, rows, seeds=seeds)
    text = raised.value.message
    assert "\n" not in text and "Traceback" not in text and text.endswith(".")
    assert store.list_experiments() == []


@pytest.fixture
def make_generation_for_ui():
    from gallery.records import NewGeneration

    return NewGeneration(
        prompt="a lighthouse at dusk", negative_prompt="blurry", seed=42, steps=4,
        guidance_scale=6.0, width=64, height=64, scheduler="Euler",
        image=Image.new("RGB", (64, 64)),
    )  # fmt: skip


def test_the_status_line_counts_the_batch_in_flight():
    from engine.compare_run import CompareProgress

    # A first batch of 4 of 12 cells at step 10 of 20: not "0 of 12" as if hung.
    text = h.progress_text(CompareProgress(0, 12, step=10, steps=20, batch=4))
    assert text == "Cells 0 of 12 · 17% · current batch (4 cells) step 10/20"
