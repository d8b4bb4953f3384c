"""A comparison's cells come from batched pipeline calls, yet each equals a single generation."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.compare_plan import (
    CompareAxis,
    ComparePlan,
    CompareVariant,
    batches,
    make_axis,
    parse_axis,
    parse_seeds,
)
from engine.compare_run import run_plan
from engine.errors import InvalidRequestError
from engine.request import GenerationRequest

SETTINGS = GenerationRequest(prompt="", steps=2, width=64, height=64, scheduler="Euler a")
VARIANTS = (
    CompareVariant("A", "a red fox in the snow"),
    CompareVariant("B", "a red fox in the snow, oil painting", "blurry"),
)


def pixels(image):
    return np.asarray(image, dtype=np.int16)


def test_each_cell_equals_a_single_generation_of_its_seed_and_prompt(engine):
    plan = ComparePlan(VARIANTS, (11, 12), SETTINGS)
    calls = []
    original = engine.generate_rows

    def counting(specs, *args, **kwargs):
        calls.append(len(specs))
        return original(specs, *args, **kwargs)

    engine.generate_rows = counting
    try:
        run = run_plan(engine, plan, max_batch=8)
    finally:
        del engine.generate_rows
    assert calls == [4]  # 2 variants x 2 seeds in ONE pipeline call
    assert [(c.cell.seed_index, c.cell.variant_index) for c in run.cells] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    for cell in run.cells:
        variant = VARIANTS[cell.cell.variant_index]
        single = engine.generate(
            GenerationRequest(
                prompt=variant.prompt,
                negative_prompt=variant.negative_prompt,
                seed=cell.cell.seed,
                steps=2,
                width=64,
                height=64,
                scheduler="Euler a",
            )
        ).images[0]
        assert np.abs(pixels(cell.image) - pixels(single)).max() <= 1
    # and the cells really differ from one another (the comparison is not trivially equal)
    assert np.abs(pixels(run.cells[0].image) - pixels(run.cells[2].image)).max() > 10


def test_cells_with_different_settings_go_to_separate_calls_chunked_by_batch_size(engine):
    plan = ComparePlan(VARIANTS, (1, 2, 3), SETTINGS, axis=CompareAxis("cfg", (1.0, 7.0)))
    chunks = batches(plan.cells(), max_batch=4)
    assert [len(chunk) for chunk in chunks] == [4, 2, 4, 2]
    for chunk in chunks:
        assert len({cell.batch_key() for cell in chunk}) == 1
    run = run_plan(engine, ComparePlan(VARIANTS[:1], (5,), SETTINGS, axis=plan.axis))
    assert [c.result.request.guidance_scale for c in run.cells] == [1.0, 7.0]


def test_stop_keeps_finished_cells(engine):
    cancel = threading.Event()
    plan = ComparePlan(VARIANTS, (1, 2), SETTINGS)
    run = run_plan(engine, plan, max_batch=2, on_batch=lambda _: cancel.set(), cancel=cancel)
    assert run.cancelled
    assert len(run.cells) == 2


def test_progress_counts_cells_of_the_whole_grid(engine):
    seen = []
    run_plan(engine, ComparePlan(VARIANTS, (1, 2), SETTINGS), max_batch=2, on_progress=seen.append)
    assert seen[-1].cells_done == seen[-1].cells_total == 4
    assert any(p.preview is not None for p in seen)
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_parsing_seeds_and_axes():
    assert parse_seeds("1, 2 3,2") == [1, 2, 3]
    assert len(parse_seeds("", random_count=3)) == 3
    with pytest.raises(InvalidRequestError, match="not a whole number"):
        parse_seeds("1, x")
    assert parse_axis("cfg=5,7.5") == CompareAxis("cfg", (5.0, 7.5))
    assert parse_axis("size=64x64, 64x128").values == ("64x64", "64x128")
    assert parse_axis("scheduler=euler a, DDIM").values == ("Euler a", "DDIM")
    with pytest.raises(InvalidRequestError, match="NAME=V1,V2"):
        parse_axis("colour=red")
    with pytest.raises(InvalidRequestError, match="Unknown scheduler"):
        make_axis("scheduler", ["nope"])
    with pytest.raises(InvalidRequestError, match="multiple of 8"):
        ComparePlan(VARIANTS, (1,), SETTINGS, axis=parse_axis("size=70x64")).validate()


def test_only_the_cells_asked_for_are_made_and_each_equals_the_full_runs(engine):
    plan = ComparePlan(VARIANTS, (21, 22), SETTINGS, axis=CompareAxis("cfg", (1.0, 7.0)))
    full = {
        (c.cell.seed_index, c.cell.variant_index, c.cell.axis_index): c.image
        for c in run_plan(engine, plan).cells
    }
    missing = {(1, 0, 1), (0, 1, 0), (1, 1, 1)}
    progress = []
    run = run_plan(engine, plan, only=missing, on_progress=progress.append)
    made = {(c.cell.seed_index, c.cell.variant_index, c.cell.axis_index) for c in run.cells}
    assert made == missing and len(run.cells) == 3
    assert {p.cells_total for p in progress} == {3}
    for cell in run.cells:
        position = (cell.cell.seed_index, cell.cell.variant_index, cell.cell.axis_index)
        assert np.abs(pixels(cell.image) - pixels(full[position])).max() <= 1
