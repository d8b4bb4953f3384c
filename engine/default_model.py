"""Which model to start with: a small real model when it can be had quickly, else the shipped
sketch model (else the demo, if the sketch weights are missing)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from engine.model_names import DEMO_MODEL_ID
from engine.sketch import SKETCH_CAN_DRAW, SKETCH_MODEL_ID, sketch_model_available

DEFAULT_HUB_MODEL = "stabilityai/sd-turbo"
HUB_CHECK_SECONDS = 3.0


@dataclass(frozen=True)
class DefaultModelChoice:
    """The chosen model and the sentence that explains the choice to the user."""

    model: str
    reason: str

    @property
    def is_demo(self) -> bool:
        return self.model == DEMO_MODEL_ID

    @property
    def is_sketch(self) -> bool:
        return self.model == SKETCH_MODEL_ID


def _in_local_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "model_index.json")
    return isinstance(found, str)


def _hub_answers(repo_id: str, timeout: float) -> bool:
    from huggingface_hub import HfApi

    def ask() -> bool:
        HfApi().model_info(repo_id, timeout=timeout)
        return True

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(ask).result(timeout=timeout)
    except (FutureTimeout, Exception):
        return False
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def choose_default_model(
    preferred: str = DEFAULT_HUB_MODEL, timeout: float = HUB_CHECK_SECONDS
) -> DefaultModelChoice:
    """`preferred` when it is cached or the hub answers within `timeout`; otherwise the sketch
    model (the demo when the sketch weights are missing).

    HF_HUB_OFFLINE=1 skips the hub check (the local cache still counts).
    """
    if _in_local_cache(preferred):
        return DefaultModelChoice(
            preferred, f"Using {preferred} from the local Hugging Face cache."
        )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("1", "true", "yes"):
        if _hub_answers(preferred, timeout):
            return DefaultModelChoice(preferred, f"Using {preferred} from the Hugging Face hub.")
        why = "the Hugging Face hub cannot be reached"
    else:
        why = "HF_HUB_OFFLINE is set"
    if sketch_model_available():
        return DefaultModelChoice(
            SKETCH_MODEL_ID,
            f"Running the built-in sketch model because {why} and {preferred} is not cached. "
            f"It is tiny and draws {SKETCH_CAN_DRAW}; try the Builder's colour, lighting, "
            "position and shape terms, weights such as (red:1.4) (blue:0.7), and compare seeds.",
        )
    return DefaultModelChoice(
        DEMO_MODEL_ID,
        f"Running the built-in demo model because {why} and {preferred} is not cached: "
        "its weights are random, so pictures are noise.",
    )
