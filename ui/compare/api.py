"""The Compare tab's named endpoints for `gradio_client`: `compare` (prompt variants on shared
seeds) and `ablate` (a prompt with each term removed), JSON in and out. Each saves the
experiment in the caller's gallery and returns its cells."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import gradio as gr

from engine.errors import EngineError
from gallery.errors import GalleryError
from ui.compare.handlers import Store, read_form
from ui.compare.runner import ExperimentOutcome, run_experiment
from ui.compare.view import load_view
from ui.endpoints import Param, keyword_endpoint
from ui.hosting.hosted_engine import HostedEngine

SHARED_PARAMS = (
    Param("seeds", str, "1,2"),
    Param("negative_prompt", str, ""),
)
SETTING_PARAMS = (
    Param("steps", int, 20),
    Param("guidance_scale", float, 7.0),
    Param("width", int, 512),
    Param("height", int, 512),
    Param("scheduler", str, "Euler a"),
)


def compare_params(default_model: str) -> tuple[Param, ...]:
    """The `compare` endpoint's parameters, in the order a positional caller gives them."""
    return (
        Param("variants", list[str]),
        Param("labels", list[str] | None, None),
        *SHARED_PARAMS,
        Param("axis", str, ""),
        Param("model", str, default_model),
        *SETTING_PARAMS,
        Param("name", str, ""),
    )


def ablate_params(default_model: str) -> tuple[Param, ...]:
    """The `ablate` endpoint's parameters."""
    return (
        Param("prompt", str),
        *SHARED_PARAMS,
        Param("model", str, default_model),
        *SETTING_PARAMS,
    )


def outcome_summary(store: Store, outcome: ExperimentOutcome) -> dict[str, Any]:
    """JSON for the API: experiment id, variants, cells with seed, axis value and CLIP score."""
    view = load_view(store, outcome.experiment.id)
    cells = []
    for (row, column), cell in sorted(view.cells.items()):
        axis, variant_index = view.columns[column]
        cells.append(
            {
                "seed": view.experiment.seeds[row],
                "variant": view.variants[variant_index].name,
                "axis_value": view.axis_values[axis] if axis is not None else None,
                "generation_id": cell.generation.id,
                "prompt": cell.generation.prompt,
                "clip_score": cell.score.value if cell.score else None,
            }
        )
    return {
        "experiment_id": view.experiment.id,
        "variants": [v.name for v in view.variants],
        "seeds": list(view.experiment.seeds),
        "axis": view.experiment.axis or None,
        "cells": cells,
        "clip_scorer": outcome.scorer_name,
        "scores_meaningful": outcome.scores_meaningful,
        "stopped_early": outcome.cancelled,
    }


def compare_api(engine: HostedEngine, store: Store, values: Mapping[str, Any]) -> dict[str, Any]:
    """Run and save a comparison (`compare_params` by name); return its summary."""
    form = read_form(values)
    try:
        outcome = run_experiment(engine, store, form)
    except (EngineError, GalleryError) as exc:
        raise gr.Error(str(exc)) from None
    return outcome_summary(store, outcome)


def ablate_api(engine: HostedEngine, store: Store, values: Mapping[str, Any]) -> dict[str, Any]:
    """Run and save an ablation (`ablate_params` by name); return the summary with the terms
    ranked by how much the image changed."""
    inputs = {("ablate" if name == "prompt" else name): value for name, value in values.items()}
    summary = compare_api(engine, store, inputs)
    view = load_view(store, summary["experiment_id"])
    summary["terms"] = [
        {
            "term": i.term,
            "mean_distance": i.mean_distance,
            "spread": i.spread,
            "mean_ssim": i.mean_ssim,
            "mean_delta_e": i.mean_delta_e,
        }
        for i in view.ablation()
    ]
    return summary


def register_compare_api(engine: HostedEngine, store: Store, default_model: str) -> None:
    """Add the `compare` and `ablate` endpoints to the current Blocks."""
    for name, params, handle, description in (
        (
            "compare",
            compare_params(default_model),
            compare_api,
            "Run prompt variants on shared seeds, save the experiment, return its cells.",
        ),
        (
            "ablate",
            ablate_params(default_model),
            ablate_api,
            "Remove each term of a prompt in turn; rank terms by how much images change.",
        ),
    ):
        endpoint = keyword_endpoint(
            name, params, partial(handle, engine, store), returns=dict[str, Any], doc=description
        )
        gr.api(
            endpoint,
            api_name=name,
            api_description=description,
            concurrency_limit=1,
            concurrency_id="generate",
        )
