"""Schedulers by the names artists know from A1111, swapped in with `from_config`.

A name is A1111's sampler, followed by its "Schedule type" when that is not the model's own:
`DPM++ 2M Karras` is the sampler `DPM++ 2M` on the `Karras` schedule. Classes are looked up in
diffusers only when a scheduler is made, so the names are cheap to import (the command line lists
them without loading diffusers).

Stochastic samplers draw their noise per image: the ancestral and SDE-multistep ones from the
image's own generator, the Brownian-tree one (`DPM++ SDE`) from one tree per image seeded with the
image's seed (`seed_scheduler`), so image k of a batch equals a single run of its seed.

Flow-matching models (SD3, FLUX; `FLOW_KINDS`) have their own menu under the same names, as
Forge and ComfyUI name them: `Euler` is `FlowMatchEulerDiscreteScheduler` (Forge's Euler on
the "Simple" schedule), `Heun` its Heun variant, `DPM++ 2M`, `UniPC` and `DEIS` the multistep
solvers on flow sigmas (`use_flow_sigmas`, `prediction_type="flow_prediction"`). Each takes the
shift from the model's own scheduler config (or the request's `shift`). `schedulers_for(kind)`
is the menu a model offers; `make_scheduler` refuses a name that does not fit the model.
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


NOISE_SCHEDULERS: dict[str, tuple[str, str]] = {
    scheduler_name(sampler, schedule): (sampler, schedule) for sampler, schedule in _MENU
}

# Flow matching (SD3, FLUX): sampler -> (diffusers class, settings); the multistep solvers run
# on flow sigmas with flow prediction. Deterministic samplers only: diffusers' SD3 and FLUX
# pipelines do not hand the image's generator to the scheduler's step, so an SDE sampler's
# noise could not follow the seed.
FLOW_KINDS = ("sd3", "flux")
_FLOW_SOLVER = {"prediction_type": "flow_prediction", "use_flow_sigmas": True}
FLOW_SAMPLERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler": ("FlowMatchEulerDiscreteScheduler", {}),
    "Heun": ("FlowMatchHeunDiscreteScheduler", {}),
    "DPM++ 2M": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, **_FLOW_SOLVER},
    ),
    "UniPC": ("UniPCMultistepScheduler", dict(_FLOW_SOLVER)),
    "DEIS": ("DEISMultistepScheduler", dict(_FLOW_SOLVER)),
}
FLOW_SCHEDULE_TYPES: dict[str, dict[str, Any]] = {
    "Automatic": {},
    "Karras": {"use_karras_sigmas": True},
    "Exponential": {"use_exponential_sigmas": True},
    "Beta": {"use_beta_sigmas": True},
}
_FLOW_MENU: list[tuple[str, str]] = [
    ("Euler", "Automatic"),
    ("Euler", "Karras"),
    ("Euler", "Exponential"),
    ("Euler", "Beta"),
    ("Heun", "Automatic"),
    ("DPM++ 2M", "Automatic"),
    ("UniPC", "Automatic"),
    ("DEIS", "Automatic"),
]
FLOW_SCHEDULERS: dict[str, tuple[str, str]] = {
    scheduler_name(sampler, schedule): (sampler, schedule) for sampler, schedule in _FLOW_MENU
}
# Every name any model offers (what a request may carry before its model is known).
SCHEDULERS: dict[str, tuple[str, str]] = NOISE_SCHEDULERS | FLOW_SCHEDULERS
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


def scheduler_names(kind: str | None = None) -> list[str]:
    """The menu of a model kind (`sd1`, `sdxl`, `sd3`, `flux`, ...), in menu order; without a
    kind every name any model offers."""
    if kind is None:
        return list(SCHEDULERS)
    return list(schedulers_for(kind))


def schedulers_for(kind: str) -> dict[str, tuple[str, str]]:
    """The schedulers a model of `kind` offers: the flow menu for SD3 and FLUX (FLUX without
    Heun: FluxPipeline hands the scheduler sigmas, which diffusers' flow Heun does not take)."""
    if kind == "flux":
        return {n: pair for n, pair in FLOW_SCHEDULERS.items() if pair[0] != "Heun"}
    return FLOW_SCHEDULERS if kind in FLOW_KINDS else NOISE_SCHEDULERS


def check_scheduler_name(name: str, kind: str | None = None) -> None:
    """Raise ValueError with the valid names when `name` is unknown (or, given a model kind,
    does not fit it)."""
    menu = SCHEDULERS if kind is None else schedulers_for(kind)
    if name not in menu:
        fit = "" if kind is None or name not in SCHEDULERS else f" for a {kind.upper()} model"
        raise ValueError(f"Unknown scheduler {name!r}{fit}; choose one of: {', '.join(menu)}.")


def make_scheduler(
    name: str, base_config: dict[str, Any], kind: str = "sd1", shift: float | None = None
) -> Any:
    """A new scheduler of the named kind built from the model's own scheduler config.

    For flow models `shift` (None: the model's own) is the sigma shift; ValueError when the
    name does not fit the model.
    """
    import diffusers

    check_scheduler_name(name, kind)
    if kind in FLOW_KINDS:
        return _make_flow_scheduler(name, base_config, kind, shift)
    sampler, schedule = NOISE_SCHEDULERS[name]
    class_name, overrides = SAMPLERS[sampler]
    config = {k: v for k, v in dict(base_config).items() if k not in _RESET_KEYS}
    return getattr(diffusers, class_name).from_config(
        config, **overrides, **SCHEDULE_TYPES[schedule]
    )


# What FluxPipeline reads from any scheduler's config to compute its resolution shift `mu`.
_FLUX_SHIFT_KEYS = ("base_shift", "max_shift", "base_image_seq_len", "max_image_seq_len")


def flow_shift_of(base_config: dict[str, Any]) -> float | None:
    """The fixed shift of a flow model's own scheduler; None when it shifts by resolution."""
    if base_config.get("use_dynamic_shifting"):
        return None
    return float(base_config.get("shift", 1.0))


def _make_flow_scheduler(
    name: str, base_config: dict[str, Any], kind: str, shift: float | None
) -> Any:
    import diffusers

    sampler, schedule = FLOW_SCHEDULERS[name]
    class_name, overrides = FLOW_SAMPLERS[sampler]
    base = dict(base_config)
    fixed = shift if shift is not None else flow_shift_of(base)
    steps = int(base.get("num_train_timesteps", 1000))
    if sampler == "Heun":
        if fixed is None:
            raise ValueError(
                "Heun does not fit a model that shifts by resolution (diffusers' flow Heun "
                "takes a fixed shift only); set a shift or try Euler."
            )
        return diffusers.FlowMatchHeunDiscreteScheduler(num_train_timesteps=steps, shift=fixed)
    if class_name == "FlowMatchEulerDiscreteScheduler":
        config = {k: v for k, v in base.items() if k not in _RESET_KEYS}
        if shift is not None:
            config |= {"shift": shift, "use_dynamic_shifting": False}
        return diffusers.FlowMatchEulerDiscreteScheduler.from_config(
            config, **overrides, **FLOW_SCHEDULE_TYPES[schedule]
        )
    # The multistep solvers: flow sigmas shifted by `flow_shift`, or by exp(mu) per resolution.
    config = {
        "num_train_timesteps": steps,
        "flow_shift": fixed if fixed is not None else 1.0,
        "use_dynamic_shifting": fixed is None,
        "time_shift_type": "exponential",
    }
    flux_keys = {key: base[key] for key in _FLUX_SHIFT_KEYS if key in base}
    if kind == "flux" and fixed is not None and class_name != "UniPCMultistepScheduler":
        # FluxPipeline always passes a resolution shift mu, which these solvers accept only
        # when shifting dynamically: a constant mu = ln(shift) is the same fixed shift.
        config["use_dynamic_shifting"] = True
        flux_keys["base_shift"] = flux_keys["max_shift"] = math.log(fixed)
    scheduler = getattr(diffusers, class_name).from_config(config, **overrides)
    if flux_keys:
        scheduler.register_to_config(**flux_keys)
    return scheduler


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
