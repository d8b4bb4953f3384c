"""What an artist asks for, and its validation before any work starts."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from typing import Any

from engine.errors import InvalidRequestError
from engine.schedulers import SCHEDULERS

MAX_SEED = 2**64 - 1  # what torch.Generator.manual_seed takes (ComfyUI writes such seeds)
RANDOM_SEED_LIMIT = 2**32  # random seeds are drawn below this, as A1111 draws them
MIN_SIZE, MAX_SIZE = 64, 2048
MAX_STEPS = 150
MAX_GUIDANCE = 30.0
MAX_IMAGES = 16
MAX_PROMPT_CHARS = 8000
MAX_SEQUENCE_LENGTH = 512  # T5's limit in SD3 and FLUX (diffusers refuses more)
MIN_SEQUENCE_LENGTH = 8
MAX_SHIFT = 100.0  # ComfyUI's ModelSamplingSD3/Flux allow up to 100


@dataclass(frozen=True)
class GenerationRequest:
    """Every setting of one generation. `seed=None` means a random seed, reported back."""

    prompt: str
    negative_prompt: str = ""
    seed: int | None = None
    steps: int = 20
    guidance_scale: float = 7.0
    width: int = 512
    height: int = 512
    num_images: int = 1
    scheduler: str = "Euler a"
    clip_skip: int = 1  # A1111's "Clip skip": 1 is the last layer, 2 the one before, ...
    # SD3 and FLUX only (ignored, with a note, by other models):
    max_sequence_length: int | None = None  # T5 tokens read; None: the model's own default
    true_cfg_scale: float = 1.0  # FLUX: real CFG with the negative prompt when above 1
    shift: float | None = None  # flow models' sigma shift; None: the model's own

    def with_seed(self) -> GenerationRequest:
        """This request with a concrete seed (drawn at random when none was given)."""
        if self.seed is not None:
            return self
        return replace(self, seed=random.SystemRandom().randrange(RANDOM_SEED_LIMIT))

    def image_seeds(self) -> list[int]:
        """One seed per image: seed, seed+1, ... as A1111 numbers a batch."""
        if self.seed is None:
            raise InvalidRequestError("Resolve the seed first with with_seed().")
        return [self.seed + k for k in range(self.num_images)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe settings."""
        return asdict(self)


@dataclass(frozen=True)
class ImageSpec:
    """One image of a pipeline call: its own final prompts (wildcards resolved) and seed."""

    prompt: str
    negative_prompt: str
    seed: int


def validate_request(request: GenerationRequest) -> None:
    """Raise InvalidRequestError with one clear sentence for the first bad setting."""
    validate_settings(request)
    if not isinstance(request.num_images, int) or not 1 <= request.num_images <= MAX_IMAGES:
        raise InvalidRequestError(f"Number of images must be from 1 to {MAX_IMAGES}.")
    if request.seed is not None:
        validate_seed(request.seed)
        last = MAX_SEED - request.num_images + 1
        if request.seed > last:  # seed+k would pass the largest seed: refuse rather than wrap
            raise InvalidRequestError(
                f"With {request.num_images} images the seed can be at most {last} "
                f"(the images use seed, seed+1, ... up to {MAX_SEED})."
            )
    validate_texts(request.prompt, request.negative_prompt)


def validate_seed(seed: Any) -> None:
    """Raise InvalidRequestError unless `seed` is a whole number in the seed range."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidRequestError(
            f"Seed must be a whole number from 0 to {MAX_SEED}, or -1 for random."
        )


def parse_seed(text: Any) -> int | None:
    """A seed as typed in a box or on the command line: empty or below 0 (-1) is random (None).

    Read as an exact whole number: a float cannot hold every 64-bit seed.
    """
    if text is None or isinstance(text, bool):
        raise InvalidRequestError(f"Seed must be a whole number from 0 to {MAX_SEED}, or -1.")
    if isinstance(text, float):
        if not text.is_integer() or abs(text) >= 2**53:  # beyond 2**53 a float is not exact
            raise InvalidRequestError(f"Seed {text!r} is not exact; type the seed as text.")
        text = int(text)
    cleaned = str(text).strip()
    if not cleaned:
        return None
    try:
        seed = int(cleaned)
    except ValueError:
        raise InvalidRequestError(
            f"Seed must be a whole number from 0 to {MAX_SEED}, or -1 for random."
        ) from None
    if seed < 0:
        return None
    validate_seed(seed)
    return seed


def validate_texts(prompt: Any, negative_prompt: Any) -> None:
    """Raise InvalidRequestError unless both prompts are text within the length limit."""
    for name, text in (("prompt", prompt), ("negative prompt", negative_prompt)):
        if not isinstance(text, str):
            raise InvalidRequestError(f"The {name} must be text.")
        if len(text) > MAX_PROMPT_CHARS:
            raise InvalidRequestError(
                f"The {name} has {len(text)} characters; the limit is {MAX_PROMPT_CHARS}."
            )


def validate_settings(request: GenerationRequest) -> None:
    """Check the shared settings only (size, steps, guidance, scheduler, the flow models'
    sequence length, true CFG and shift), not prompt or seed. What depends on the model (a
    scheduler or size that fits it) is checked once it is loaded (`engine.model_kinds`)."""
    for name in ("width", "height"):
        value = getattr(request, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidRequestError(f"{name.capitalize()} must be a whole number of pixels.")
        if value % 8:
            raise InvalidRequestError(
                f"{name.capitalize()} {value} is not a multiple of 8; try {value // 8 * 8 or 8}."
            )
        if not MIN_SIZE <= value <= MAX_SIZE:
            raise InvalidRequestError(
                f"{name.capitalize()} {value} is outside {MIN_SIZE}..{MAX_SIZE} pixels."
            )
    if not isinstance(request.steps, int) or not 1 <= request.steps <= MAX_STEPS:
        raise InvalidRequestError(f"Steps must be a whole number from 1 to {MAX_STEPS}.")
    guidance = request.guidance_scale
    if (
        isinstance(guidance, bool)
        or not isinstance(guidance, (int, float))
        or not 0.0 <= guidance <= MAX_GUIDANCE
    ):
        raise InvalidRequestError(f"Guidance scale must be between 0 and {MAX_GUIDANCE:g}.")
    clip_skip = request.clip_skip
    if isinstance(clip_skip, bool) or not isinstance(clip_skip, int) or not 1 <= clip_skip <= 12:
        raise InvalidRequestError("Clip skip must be a whole number from 1 to 12.")
    length = request.max_sequence_length
    if length is not None and (
        isinstance(length, bool)
        or not isinstance(length, int)
        or not MIN_SEQUENCE_LENGTH <= length <= MAX_SEQUENCE_LENGTH
    ):
        raise InvalidRequestError(
            f"Max sequence length must be a whole number from {MIN_SEQUENCE_LENGTH} to "
            f"{MAX_SEQUENCE_LENGTH} T5 tokens."
        )
    true_cfg = request.true_cfg_scale
    if (
        isinstance(true_cfg, bool)
        or not isinstance(true_cfg, (int, float))
        or not 0.0 <= true_cfg <= MAX_GUIDANCE
    ):
        raise InvalidRequestError(f"True CFG scale must be between 0 and {MAX_GUIDANCE:g}.")
    shift = request.shift
    if shift is not None and (
        isinstance(shift, bool)
        or not isinstance(shift, (int, float))
        or not 0.0 < shift <= MAX_SHIFT
    ):
        raise InvalidRequestError(f"Shift must be above 0 and at most {MAX_SHIFT:g}.")
    if request.scheduler not in SCHEDULERS:
        raise InvalidRequestError(
            f"Unknown scheduler {request.scheduler!r}; choose one of: {', '.join(SCHEDULERS)}."
        )
