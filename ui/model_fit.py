"""What the page shows for the model in the Model box: its kind, the settings it starts with
(which follow the model until the artist changes them), the guidance it uses, whether the
negative prompt reaches it, and each of its text encoders' token budget.

Plain functions over `ModelProfile` (tested without a browser); the tabs wire them. The
profile comes from the model's tokenizers alone (`engine.model_tokenizers`), never its weights.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.model_catalog import ModelDefaults, model_defaults
from engine.model_kinds import KIND_LABELS
from engine.model_tokenizers import ModelEncoders, model_encoders
from engine.schedulers import scheduler_names
from prompts.encoder_budgets import EncoderBudget, EncoderSpec, encoder_budgets
from prompts.weighting import PromptSyntaxError
from ui.messages import md_text

log = logging.getLogger(__name__)

# engine kinds -> the catalog's labels (what `model_defaults` reads)
_CATALOG_KINDS = {"sd1": "SD1", "sdxl": "SDXL", "sd3": "SD3", "flux": "FLUX"}
FOLLOWED = ("steps", "guidance", "width", "height", "scheduler", "t5_length", "shift", "true_cfg")
"""The Generate settings that follow the model, by their `GenerateTab` names."""
OWN = 0
"""T5 length and shift at 0: the model's own."""
NEGATIVE_OFF = "FLUX has no negative prompt: it is used only with True CFG above 1."


@dataclass(frozen=True)
class ModelProfile:
    """The model in the Model box as the page needs it."""

    model: str
    kind: str
    """sd1, sdxl, sd3, flux or other (`engine.model_kinds`)."""
    defaults: ModelDefaults
    encoders: ModelEncoders

    @property
    def is_flow(self) -> bool:
        return self.kind in ("sd3", "flux")

    def start_values(self) -> dict[str, Any]:
        """The settings this model starts with, by `FOLLOWED` name (the T5 length as its own
        files say: a FLUX without guidance embedding reads 256)."""
        d = self.defaults
        t5 = next((s.limit for s in self.encoders.encoders if s.role == "sequence"), None)
        return {
            "steps": d.steps,
            "guidance": d.guidance_scale,
            "width": d.width,
            "height": d.height,
            "scheduler": d.scheduler,
            "t5_length": (t5 or d.max_sequence_length or OWN) if self.is_flow else OWN,
            "shift": d.shift or OWN,
            "true_cfg": d.true_cfg_scale,
        }

    def schedulers(self) -> list[str]:
        """The schedulers this model offers."""
        return scheduler_names(self.kind if self.kind in _CATALOG_KINDS else "sd1")


def model_profile(
    model: str | None, models_dir: Path, clip_tokenizer: Callable[[], Any]
) -> ModelProfile:
    """The profile of the model named in the Model box. The built-in `demo` (and an empty box)
    count with `clip_tokenizer`, the tokenizer the demo model is built with."""
    name = (model or "").strip()
    if name in ("", "demo"):
        spec = EncoderSpec("CLIP", clip_tokenizer(), "chunks")
        encoders = ModelEncoders("sd1", (spec,))
    else:
        encoders = _encoders(name, str(models_dir), clip_tokenizer)
    defaults = model_defaults(name, _CATALOG_KINDS.get(encoders.kind, "other"))
    return ModelProfile(name, encoders.kind, defaults, encoders)


def _encoders(name: str, models_dir: str, clip_tokenizer: Callable[[], Any]) -> ModelEncoders:
    """The model's encoders (`engine.model_tokenizers` keeps them per folder); a model whose
    tokenizers cannot be read counts with CLIP, marked approximate."""
    try:
        return model_encoders(name, Path(models_dir))
    except Exception:  # a broken folder must not break typing a prompt
        log.warning("reading the tokenizers of %r failed", name, exc_info=True)
        spec = EncoderSpec("CLIP", clip_tokenizer(), "chunks")
        return ModelEncoders("sd1", (spec,), exact=False)


def followed_values(
    profile: ModelProfile, current: Mapping[str, Any], applied: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The `FOLLOWED` settings after the model changed to `profile`'s.

    `applied` is what the page last set for a model (`{"model": ..., **values}`): a setting
    still at that value follows the new model; one the artist changed stays. A scheduler the
    new model does not offer becomes its own. When `applied` is already for this model (a
    recall or the Models panel set the settings with the model), nothing moves.
    """
    if applied is not None and applied.get("model") == profile.model:
        values = {name: current.get(name) for name in FOLLOWED}
    else:
        start = profile.start_values()
        values = {
            name: start[name]
            if applied is None or _same(current.get(name), applied.get(name))
            else current.get(name)
            for name in FOLLOWED
        }
    if values["scheduler"] not in profile.schedulers():
        values["scheduler"] = profile.defaults.scheduler
    return values


def _same(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return a == b


def applied_state(model: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """What `followed_values` compares with next time."""
    return {"model": model, **{name: values.get(name) for name in FOLLOWED}}


def uses_negative(kind: str, true_cfg: Any) -> bool:
    """Whether the negative prompt box applies: on FLUX only with True CFG above 1."""
    if kind != "flux":
        return True
    try:
        return float(true_cfg) > 1
    except (TypeError, ValueError):
        return False


def guidance_label(kind: str) -> str:
    """The guidance slider's label for a kind."""
    return "Distilled guidance (FLUX)" if kind == "flux" else "CFG scale"


def guidance_note(kind: str, true_cfg: Any = 1.0) -> str:
    """One line saying which guidance the model uses and what the negative prompt does."""
    label = KIND_LABELS.get(kind, kind)
    if kind == "flux":
        if uses_negative(kind, true_cfg):
            return (
                f"**{label}**: distilled guidance (the slider) plus **true CFG** "
                f"{float(true_cfg):g} with the negative prompt (two passes per step)."
            )
        return (
            f"**{label}**: distilled guidance (the slider), no CFG; the negative prompt is "
            "used only with True CFG above 1."
        )
    if kind == "sd3":
        return f"**{label}**: CFG with the negative prompt (at CFG above 1)."
    return f"**{label}**: CFG (classifier-free guidance) with the negative prompt."


def budget_markdown(prompt: str | None, profile: ModelProfile, t5_length: Any = None) -> str:
    """Each encoder's budget for `prompt`, in its own tokenizer's tokens: one CLIP encoder as
    `N tokens of 75` (or `· K chunks of 75`), several as one line each (CLIP's chunks and what
    a 77-token model cuts; T5's count against its limit and what it cuts)."""
    if not (prompt or "").strip():
        return "0 tokens"
    specs = _with_t5_length(profile.encoders.encoders, t5_length)
    try:
        budgets = encoder_budgets(prompt or "", specs)
    except PromptSyntaxError as exc:
        return f"⚠ {md_text(exc)}"
    except Exception:  # tokenizer files that load only when first counted, and are broken
        log.warning("counting with the tokenizers of %r failed", profile.model, exc_info=True)
        return "Tokens cannot be counted: this model's tokenizer files cannot be read."
    if len(budgets) == 1 and budgets[0].clip is not None:
        clip = budgets[0].clip
        chunks = len(clip.chunks)
        return f"{clip.token_count} tokens" + (
            f" · {chunks} chunks of 75" if chunks > 1 else " of 75"
        )
    label = KIND_LABELS.get(profile.kind, profile.kind)
    approx = "" if profile.encoders.exact else " (approximate: the model's tokenizers are not here)"
    lines = [f"**{label}** token budget{approx}:"]
    lines += [f"- {_encoder_line(budget)}" for budget in budgets]
    return "\n".join(lines)


def _with_t5_length(specs: tuple[EncoderSpec, ...], t5_length: Any) -> tuple[EncoderSpec, ...]:
    try:
        length = int(float(t5_length))
    except (TypeError, ValueError):
        return specs
    if length <= OWN:
        return specs
    return tuple(
        EncoderSpec(s.name, s.tokenizer, s.role, length) if s.role == "sequence" else s
        for s in specs
    )


def _encoder_line(budget: EncoderBudget) -> str:
    name = md_text(budget.name)
    if budget.sequence is not None:
        seq = budget.sequence
        line = f"**{name}**: {seq.token_count}/{seq.room} tokens (limit {seq.limit} with </s>)"
        line = line.replace("</s>", "&lt;/s&gt;")
        return line + (f" · cuts: *{md_text(_short(seq.cut_text))}*" if not seq.fits else "")
    clip = budget.clip
    assert clip is not None
    if budget.role == "pooled":
        if not clip.cut_words:
            return f"**{name}** (pooled): {clip.token_count}/75 tokens"
        line = f"**{name}** (pooled): reads the first 75 of {clip.token_count} tokens"
        return line + f" · not pooled: *{md_text(_short(clip.cut_text))}*"
    chunks = len(clip.chunks)
    plural = "s" if chunks > 1 else ""
    line = f"**{name}**: {clip.token_count} tokens in {chunks} chunk{plural} of 75"
    if clip.cut_words:
        line += f" · a 77-token model cuts: *{md_text(_short(clip.cut_text))}*"
    return line


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
