"""Schedulers by the names artists know from A1111, swapped in with `from_config`.

A name is A1111's sampler, followed by its "Schedule type" when that is not the model's own:
`DPM++ 2M Karras` is the sampler `DPM++ 2M` on the `Karras` schedule. Classes are looked up in
diffusers only when a scheduler is made, so the names are cheap to import (the command line lists
them without loading diffusers).

Stochastic samplers draw their noise per image: the ancestral and SDE-multistep ones from the
image's own generator, the Brownian-tree one (`DPM++ SDE`) from one tree per image seeded with the
image's seed (`seed_scheduler`), so image k of a batch equals a single run of its seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# A1111 sampler -> (diffusers class, settings that make it that sampler).
SAMPLERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {}),
    "DPM2": ("KDPM2DiscreteScheduler", {}),
    "DPM2 a": ("KDPM2AncestralDiscreteScheduler", {}),
    "DPM++ 2M": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2},
    ),
    "DPM++ 2M SDE": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "solver_order": 2},
    ),
    "DPM++ 3M SDE": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "solver_order": 3},
    ),
    "DPM++ SDE": ("DPMSolverSDEScheduler", {}),
    "DDIM": ("DDIMScheduler", {}),
    "PLMS": ("PNDMScheduler", {"skip_prk_steps": True}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "DEIS": ("DEISMultistepScheduler", {}),
    "LCM": ("LCMScheduler", {}),
}
# A1111 "Schedule type" -> the settings that give it (the model's own schedule needs none).
SCHEDULE_TYPES: dict[str, dict[str, Any]] = {
    "Automatic": {},
    "Karras": {"use_karras_sigmas": True},
    "Exponential": {"use_exponential_sigmas": True},
    "SGM Uniform": {"timestep_spacing": "trailing"},
}
# The menu: (sampler, schedule type) pairs people reach for, in A1111's order.
_MENU: list[tuple[str, str]] = [
    ("Euler a", "Automatic"),
    ("Euler", "Automatic"),
    ("Euler", "Karras"),
    ("Euler", "SGM Uniform"),
    ("LMS", "Automatic"),
    ("LMS", "Karras"),
    ("Heun", "Automatic"),
    ("DPM2", "Automatic"),
    ("DPM2", "Karras"),
    ("DPM2 a", "Automatic"),
    ("DPM2 a", "Karras"),
    ("DPM++ 2M", "Automatic"),
    ("DPM++ 2M", "Karras"),
    ("DPM++ 2M", "SGM Uniform"),
    ("DPM++ 2M SDE", "Automatic"),
    ("DPM++ 2M SDE", "Karras"),
    ("DPM++ 3M SDE", "Automatic"),
    ("DPM++ 3M SDE", "Karras"),
    ("DPM++ 3M SDE", "Exponential"),
    ("DPM++ SDE", "Automatic"),
    ("DPM++ SDE", "Karras"),
    ("DDIM", "Automatic"),
    ("PLMS", "Automatic"),
    ("UniPC", "Automatic"),
    ("DEIS", "Automatic"),
    ("LCM", "Automatic"),
]


def scheduler_name(sampler: str, schedule_type: str = "Automatic") -> str:
    """Our menu name for an A1111 sampler and schedule type: `DPM++ 2M` + `Karras`."""
    return sampler if schedule_type == "Automatic" else f"{sampler} {schedule_type}"


SCHEDULERS: dict[str, tuple[str, str]] = {
    scheduler_name(sampler, schedule): (sampler, schedule) for sampler, schedule in _MENU
}
# Keys a swap must not carry over from the model's own scheduler.
_RESET_KEYS = (
    "use_karras_sigmas",
    "use_exponential_sigmas",
    "use_beta_sigmas",
    "algorithm_type",
    "solver_order",
    "skip_prk_steps",
    "noise_sampler_seed",
)
_NON_FINITE = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}


def scheduler_names() -> list[str]:
    """Every scheduler name, in menu order."""
    return list(SCHEDULERS)


def check_scheduler_name(name: str) -> None:
    """Raise ValueError with the valid names when name is unknown."""
    if name not in SCHEDULERS:
        raise ValueError(f"Unknown scheduler {name!r}; choose one of: {', '.join(SCHEDULERS)}.")


def make_scheduler(name: str, base_config: dict[str, Any]) -> Any:
    """A new scheduler of the named kind built from the model's own scheduler config."""
    import diffusers

    check_scheduler_name(name)
    sampler, schedule = SCHEDULERS[name]
    class_name, overrides = SAMPLERS[sampler]
    config = {k: v for k, v in dict(base_config).items() if k not in _RESET_KEYS}
    return getattr(diffusers, class_name).from_config(
        config, **overrides, **SCHEDULE_TYPES[schedule]
    )


def seed_scheduler(scheduler: Any, seeds: Sequence[int]) -> None:
    """Seed a Brownian-tree sampler with one tree per image; other samplers use the generators.

    Always a list, even for one image: diffusers builds a batched tree for a list and an
    unbatched one for a single int, and the two draw different noise.
    """
    if hasattr(scheduler, "noise_sampler_seed"):
        scheduler.noise_sampler_seed = list(seeds)
        scheduler.noise_sampler = None


def config_to_json(config: dict[str, Any]) -> dict[str, Any]:
    """A scheduler config as strict JSON: -inf becomes "-Infinity" (read back by
    `config_from_json`), private keys are dropped, anything unknown becomes its text."""
    return {str(k): _to_json(v) for k, v in config.items() if not str(k).startswith("_")}


def config_from_json(config: dict[str, Any]) -> dict[str, Any]:
    """Undo `config_to_json`: "Infinity", "-Infinity" and "NaN" are floats again."""
    return {k: _from_json(v) for k, v in config.items()}


def _to_json(value: Any) -> Any:
    if isinstance(value, dict):
        return config_to_json(value)
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return config_from_json(value)
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    return value
