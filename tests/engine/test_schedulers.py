"""Every scheduler in the menu: generates, is seeded, keeps batch image k = a single run of
seed+k, stores its config as strict JSON, and is the diffusers class A1111's name stands for."""

import json
import math

import numpy as np
import pytest

from engine.request import GenerationRequest
from engine.schedulers import (
    SCHEDULERS,
    config_from_json,
    config_to_json,
    make_scheduler,
    scheduler_names,
)

SMALL = {"width": 64, "height": 64, "steps": 3}


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_the_menu_has_the_a1111_samplers_people_reach_for():
    names = scheduler_names()
    assert len(names) >= 14
    for name in (
        "DPM++ 2M Karras",
        "DPM++ 2M SDE Karras",
        "DPM++ 3M SDE",
        "Euler Karras",
        "DPM2",
        "DPM2 a",
        "LMS",
        "PLMS",
        "DEIS",
        "DPM++ SDE Karras",
    ):
        assert name in names


@pytest.mark.parametrize("name", scheduler_names("sd1"))
def test_every_scheduler_is_deterministic_and_batch_invariant(engine, name):
    batch = engine.generate(
        GenerationRequest("a fox", seed=70, num_images=2, scheduler=name, **SMALL)
    )
    again = engine.generate(
        GenerationRequest("a fox", seed=70, num_images=2, scheduler=name, **SMALL)
    )
    single = engine.generate(GenerationRequest("a fox", seed=71, scheduler=name, **SMALL))
    assert batch.provenance["scheduler"] == name
    for first, second in zip(batch.images, again.images, strict=True):
        assert np.array_equal(pixels(first), pixels(second))
    # CPU matrix kernels are not batch-invariant (about 1e-7 apart), so allow one level.
    assert np.abs(pixels(batch.images[1]) - pixels(single.images[0])).max() <= 1
    assert np.abs(pixels(batch.images[0]) - pixels(batch.images[1])).max() > 10
    # The provenance is strict JSON (DPM++ 2M's lambda_min_clipped is -inf).
    json.dumps(batch.provenance, allow_nan=False)


def test_a_config_with_minus_infinity_reads_back(engine):
    base = engine.models.get("demo").base_scheduler_config
    scheduler = make_scheduler("DPM++ 2M Karras", base)
    assert scheduler.config.lambda_min_clipped == -math.inf
    stored = json.loads(json.dumps(config_to_json(dict(scheduler.config)), allow_nan=False))
    assert stored["lambda_min_clipped"] == "-Infinity"
    restored = config_from_json(stored)
    assert restored["lambda_min_clipped"] == -math.inf
    rebuilt = type(scheduler).from_config(restored)
    assert config_to_json(dict(rebuilt.config)) == config_to_json(dict(scheduler.config))


@pytest.mark.parametrize(
    ("name", "class_name", "settings"),
    [
        ("DPM++ 2M Karras", "DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
        ("DPM++ 2M SDE", "DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
        ("DPM++ 3M SDE Exponential", "DPMSolverMultistepScheduler", {"solver_order": 3}),
        ("DPM++ SDE Karras", "DPMSolverSDEScheduler", {"use_karras_sigmas": True}),
        ("Euler SGM Uniform", "EulerDiscreteScheduler", {"timestep_spacing": "trailing"}),
        ("DPM2 a Karras", "KDPM2AncestralDiscreteScheduler", {"use_karras_sigmas": True}),
        ("PLMS", "PNDMScheduler", {"skip_prk_steps": True}),
    ],
)
def test_names_map_to_the_diffusers_settings_a1111_means(engine, name, class_name, settings):
    scheduler = make_scheduler(name, engine.models.get("demo").base_scheduler_config)
    assert type(scheduler).__name__ == class_name
    for key, value in settings.items():
        assert scheduler.config[key] == value
    assert name in SCHEDULERS


def test_a_swap_does_not_carry_settings_over(engine):
    base = dict(make_scheduler("DPM++ 3M SDE Karras", {}).config)
    plain = make_scheduler("DPM++ 2M", base)
    assert plain.config.use_karras_sigmas is False
    assert plain.config.solver_order == 2 and plain.config.algorithm_type == "dpmsolver++"
