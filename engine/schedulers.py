"""Schedulers by the names artists know from A1111, swapped in with `from_config`.

Classes are looked up in diffusers only when a scheduler is made, so the names are cheap to
import (the command line lists them without loading diffusers).
"""

from __future__ import annotations

from typing import Any

SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "DPM++ 2M Karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
    ),
    "DPM++ SDE Karras": ("DPMSolverSDEScheduler", {"use_karras_sigmas": True}),
    "DDIM": ("DDIMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "LCM": ("LCMScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {}),
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


def make_scheduler(name: str, base_config: dict[str, Any]) -> Any:
    """A new scheduler of the named kind built from the model's own scheduler config."""
    import diffusers

    check_scheduler_name(name)
    class_name, overrides = SCHEDULERS[name]
    config = {k: v for k, v in dict(base_config).items() if k not in _RESET_KEYS}
    return getattr(diffusers, class_name).from_config(config, **overrides)
