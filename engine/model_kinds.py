"""What each kind of loaded model takes, read from its components: the settings that apply to
it, the sizes it can make, its T5 length, and one sentence when a setting does not fit.

Kinds: `sd1` (SD 1.x and 2.x), `sdxl`, `sd3` (SD3/SD3.5: CLIP-L, CLIP-G and T5 into an MMDiT,
classifier-free guidance with a negative prompt), `flux` (FLUX.1: CLIP-L pooled and T5; the
guidance scale is distilled guidance, and the negative prompt is used only with true CFG) and
`other` (plain text).
"""

from __future__ import annotations

from typing import Any

from engine.errors import InvalidRequestError
from engine.request import GenerationRequest
from engine.schedulers import FLOW_KINDS
from prompts.encoder_budgets import EncoderSpec

# T5 tokens read by default (diffusers' defaults and the models' own: FLUX.1 schnell was
# distilled at 256, dev at 512; SD3 at 256).
SD3_SEQUENCE_LENGTH = 256
FLUX_SCHNELL_SEQUENCE_LENGTH = 256
FLUX_DEV_SEQUENCE_LENGTH = 512
KIND_LABELS = {"sd1": "SD1/SD2", "sdxl": "SDXL", "sd3": "SD3", "flux": "FLUX", "other": "other"}


def is_flow(kind: str) -> bool:
    """Whether a kind is a flow-matching model with a T5 encoder (SD3, FLUX)."""
    return kind in FLOW_KINDS


def has_guidance_embedding(pipeline: Any) -> bool:
    """FLUX.1 dev embeds its distilled guidance; schnell (timestep-distilled) has none."""
    transformer = getattr(pipeline, "transformer", None)
    return bool(getattr(getattr(transformer, "config", None), "guidance_embeds", False))


def default_max_sequence_length(pipeline: Any, kind: str) -> int | None:
    """The T5 length a model reads by default: SD3 256, FLUX dev 512, FLUX schnell 256."""
    if kind == "sd3":
        return SD3_SEQUENCE_LENGTH
    if kind == "flux":
        if has_guidance_embedding(pipeline):
            return FLUX_DEV_SEQUENCE_LENGTH
        return FLUX_SCHNELL_SEQUENCE_LENGTH
    return None


def size_multiple(pipeline: Any, kind: str) -> int:
    """Width and height must be multiples of this: SD3 patches and FLUX packs 2x2 latents."""
    factor = int(getattr(pipeline, "vae_scale_factor", 8))
    if kind == "sd3":
        return factor * int(getattr(pipeline, "patch_size", 2))
    if kind == "flux":
        return factor * 2
    return 8


def uses_negative_prompt(kind: str, settings: GenerationRequest) -> bool:
    """Whether the negative prompt reaches the model: FLUX only with true CFG above 1, SD3 with
    CFG above 1 (as diffusers), the others always."""
    if kind == "flux":
        return settings.true_cfg_scale > 1
    if kind == "sd3":
        return settings.guidance_scale > 1
    return True


def check_fits(pipeline: Any, kind: str, settings: GenerationRequest) -> list[str]:
    """Refuse, in one sentence, what the model cannot do; return notes on what it ignores."""
    label = KIND_LABELS.get(kind, kind)
    if kind == "flux" and settings.clip_skip != 1:
        raise InvalidRequestError(
            "Clip skip does not apply to FLUX: its CLIP gives only a pooled vector; set it to 1."
        )
    multiple = size_multiple(pipeline, kind)
    for name in ("width", "height"):
        value = getattr(settings, name)
        if value % multiple:
            raise InvalidRequestError(
                f"{name.capitalize()} {value} is not a multiple of {multiple}, which this "
                f"{label} model needs; try {max(value // multiple * multiple, multiple)}."
            )
    notes: list[str] = []
    if not is_flow(kind):
        ignored = [
            text
            for text, used in (
                ("max sequence length", settings.max_sequence_length is not None),
                ("true CFG", settings.true_cfg_scale > 1),
                ("shift", settings.shift is not None),
            )
            if used
        ]
        if ignored:
            notes.append(f"Ignored {', '.join(ignored)}: only SD3 and FLUX models take them.")
    elif kind == "sd3" and settings.true_cfg_scale > 1:
        notes.append(
            "True CFG was ignored: SD3 uses the CFG scale itself with the negative prompt."
        )
    return notes


def encoder_specs(
    pipeline: Any, kind: str, max_sequence_length: int | None = None
) -> list[EncoderSpec]:
    """The text encoders a loaded model reads a prompt with, for its token budget: SD 1.x one
    CLIP, SDXL CLIP-L and CLIP-G, SD3 both and T5, FLUX CLIP-L (pooled) and T5, each with its
    own tokenizer; T5 up to `max_sequence_length` (None: the model's default)."""
    if kind == "sd1":
        return [EncoderSpec("CLIP", pipeline.tokenizer, "chunks")]
    if kind in ("sdxl", "sd3"):
        specs = [
            EncoderSpec("CLIP-L", pipeline.tokenizer, "chunks"),
            EncoderSpec("CLIP-G", pipeline.tokenizer_2, "chunks"),
        ]
        if kind == "sd3":
            limit = max_sequence_length or default_max_sequence_length(pipeline, kind)
            specs.append(EncoderSpec("T5", pipeline.tokenizer_3, "sequence", limit))
        return specs
    if kind == "flux":
        limit = max_sequence_length or default_max_sequence_length(pipeline, kind)
        return [
            EncoderSpec("CLIP-L", pipeline.tokenizer, "pooled"),
            EncoderSpec("T5", pipeline.tokenizer_2, "sequence", limit),
        ]
    tokenizer = getattr(pipeline, "tokenizer", None)
    return [EncoderSpec("text", tokenizer, "pooled")] if tokenizer is not None else []
