"""Schedulers by the names artists know from A1111, swapped in with `from_config`."""

from __future__ import annotations

from typing import Any

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    DPMSolverSDEScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    LCMScheduler,
    UniPCMultistepScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

SCHEDULERS: dict[str, tuple[type[SchedulerMixin], dict[str, Any]]] = {
    "Euler": (EulerDiscreteScheduler, {}),
    "Euler a": (EulerAncestralDiscreteScheduler, {}),
    "DPM++ 2M": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++"}),
    "DPM++ 2M Karras": (
        DPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
    ),
    "DPM++ SDE Karras": (DPMSolverSDEScheduler, {"use_karras_sigmas": True}),
    "DDIM": (DDIMScheduler, {}),
    "UniPC": (UniPCMultistepScheduler, {}),
    "LCM": (LCMScheduler, {}),
    "Heun": (HeunDiscreteScheduler, {}),
}
# Keys a swap must not carry over from the model's own scheduler.
_RESET_KEYS = ("use_karras_sigmas", "algorithm_type")


def scheduler_names() -> list[str]:
    """Every scheduler name, in menu order."""
    return list(SCHEDULERS)


def check_scheduler_name(name: str) -> None:
    """Raise ValueError with the valid names when name is unknown."""
    if name not in SCHEDULERS:
        raise ValueError(f"Unknown scheduler {name!r}; choose one of: {', '.join(SCHEDULERS)}.")


def make_scheduler(name: str, base_config: dict[str, Any]) -> SchedulerMixin:
    """A new scheduler of the named kind built from the model's own scheduler config."""
    check_scheduler_name(name)
    cls, overrides = SCHEDULERS[name]
    config = {k: v for k, v in dict(base_config).items() if k not in _RESET_KEYS}
    return cls.from_config(config, **overrides)
