"""What a Generate or a comparison asks for, read once, whoever asks: the page, the API or the
command line.

Each source hands over loosely typed values under the same names (sliders give floats, the API
JSON, the command line its flags); `GenerateForm.read` and `CompareForm.read` turn them into
one typed value and check it in one place, raising `FormError` with one sentence that names
the setting. The handlers take the form whole. No gradio here: the page turns a `FormError`
into `gr.Error`, the command line into its one-line error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from engine.compare_plan import (
    AXIS_LABELS,
    DEFAULT_MAX_BATCH,
    CompareAxis,
    ComparePlan,
    CompareVariant,
    make_axis,
    parse_axis,
    parse_seeds,
)
from engine.errors import EngineError
from engine.request import GenerationRequest, parse_seed
from prompts.variants import (
    MAX_VARIANTS,
    ablation_variants,
    default_label,
    unique_labels,
)

DEFAULT_SCHEDULER = "Euler a"
NO_AXIS = "none"
COMPARE_INPUTS = (
    "variants",
    "labels",
    "ablate",
    "negative_prompt",
    "seeds",
    "random_seeds",
    "axis",
    "axis_name",
    "axis_values",
    "model",
    "steps",
    "guidance_scale",
    "width",
    "height",
    "scheduler",
    "name",
    "max_batch",
    "max_sequence_length",
    "true_cfg_scale",
    "shift",
)


class FormError(ValueError):
    """A value a form cannot take (one sentence, naming the setting)."""


def whole_number(value: Any, name: str, minimum: int | None = None) -> int:
    """`value` as an int (at least `minimum` when given); `FormError` naming the setting when
    it is not a whole number (inf and NaN are not) or is below `minimum`."""
    if isinstance(value, int) and not isinstance(value, bool):
        found = value
    else:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise FormError(f"{name} must be a whole number, not {_short(value)}.") from None
        if not number.is_integer():
            raise FormError(f"{name} must be a whole number, not {_short(value)}.")
        found = int(number)
    if minimum is not None and found < minimum:
        raise FormError(f"{name} must be at least {minimum}, not {found}.")
    return found


def count(value: Any, name: str) -> int:
    """A count of things (images, seeds, a batch): a whole number of at least 1."""
    return whole_number(value, name, minimum=1)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def number(value: Any, name: str) -> float:
    """`value` as a float; `FormError` naming the setting when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FormError(f"{name} must be a number, not {value!r}.") from None


def flow_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """SD3/FLUX's `max_sequence_length` (T5 tokens), `true_cfg_scale` and `shift` as the
    request takes them: a blank (or 0) length or shift is the model's own (None), a blank true
    CFG is 1 (off)."""
    length, shift = values.get("max_sequence_length"), values.get("shift")
    true_cfg = values.get("true_cfg_scale")
    return {
        "max_sequence_length": None
        if _blank_or_zero(length)
        else whole_number(length, "Max sequence length"),
        "true_cfg_scale": 1.0 if true_cfg in (None, "") else number(true_cfg, "True CFG scale"),
        "shift": None if _blank_or_zero(shift) else number(shift, "Shift"),
    }


def _blank_or_zero(value: Any) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    try:
        return float(value) == 0
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _known(values: Mapping[str, Any], names: Sequence[str], form: str) -> None:
    """A name a form does not read is a programming error (`TypeError`), not the user's."""
    unknown = set(values) - set(names)
    if unknown:
        raise TypeError(f"{form} reads no {', '.join(sorted(unknown))}")


GENERATE_INPUTS = (
    "prompt",
    "negative_prompt",
    "seed",
    "steps",
    "guidance_scale",
    "width",
    "height",
    "num_images",
    "scheduler",
    "model",
    "clip_skip",
    "max_sequence_length",
    "true_cfg_scale",
    "shift",
)


@dataclass(frozen=True)
class GenerateForm:
    """One Generate: the engine's request (`seed=None`: random) and the model to run it on."""

    request: GenerationRequest
    model: str = ""
    """Empty: the app's default model."""

    @classmethod
    def read(cls, values: Mapping[str, Any]) -> GenerateForm:
        """The form from loosely typed values named as in `GENERATE_INPUTS` (a missing one
        takes the request's default); `FormError` on a bad one. A seed below 0 (or none, or
        blank) means random; seeds are read exactly, up to 2**64 - 1. The engine checks
        sizes, steps and ranges."""
        _known(values, GENERATE_INPUTS, "GenerateForm")
        defaults = {f.name: f.default for f in fields(GenerationRequest)}
        v = {name: values.get(name, defaults.get(name)) for name in GENERATE_INPUTS}
        try:
            seed = parse_seed(-1 if v["seed"] is None else v["seed"])
        except EngineError as exc:
            raise FormError(str(exc)) from None
        clip_skip = 1 if v["clip_skip"] in (None, "") else v["clip_skip"]
        request = GenerationRequest(
            prompt=_text(v["prompt"]),
            negative_prompt=_text(v["negative_prompt"]),
            seed=seed,
            steps=count(v["steps"], "Steps"),
            guidance_scale=number(v["guidance_scale"], "CFG scale"),
            width=count(v["width"], "Width"),
            height=count(v["height"], "Height"),
            num_images=count(v["num_images"], "Number of images"),
            scheduler=_text(v["scheduler"]) or DEFAULT_SCHEDULER,
            clip_skip=count(clip_skip, "Clip skip"),
            **flow_settings(v),
        )
        return cls(request, _text(v["model"]).strip())


@dataclass(frozen=True)
class CompareForm:
    """One comparison (or ablation): variants on shared seeds, shared settings, an optional
    second axis, a name."""

    variants: tuple[CompareVariant, ...]
    seeds: tuple[int, ...]
    settings: GenerationRequest
    model: str = "demo"
    axis: CompareAxis | None = None
    name: str = ""
    kind: str = "compare"
    """"compare", or "ablation" (the prompt minus each term)."""
    max_batch: int = DEFAULT_MAX_BATCH
    """Images per pipeline call."""

    @classmethod
    def read(cls, values: Mapping[str, Any]) -> CompareForm:
        """The form from the page, the API or the command line; `FormError` on bad input.

        Names: `variants` (rows `[label, prompt]`, or prompts with `labels` beside them) or
        `ablate` (one prompt, each term removed in turn); `seeds` ("1, 2") or, when blank,
        `random_seeds` of them; `axis` ("cfg=5,7") or `axis_name` with `axis_values` (the
        page's two boxes); `negative_prompt`, `model`, `steps`, `guidance_scale`, `width`,
        `height`, `scheduler`, `name`, `max_batch`, and SD3/FLUX's `max_sequence_length`,
        `true_cfg_scale`, `shift` (see `flow_settings`).
        """
        _known(values, COMPARE_INPUTS, "CompareForm")
        v = dict(values)
        negative = _text(v.get("negative_prompt"))
        try:
            settings = GenerationRequest(
                prompt="",
                negative_prompt=negative,
                steps=count(v.get("steps", 20), "Steps"),
                guidance_scale=number(v.get("guidance_scale", 7.0), "CFG scale"),
                width=count(v.get("width", 512), "Width"),
                height=count(v.get("height", 512), "Height"),
                scheduler=_text(v.get("scheduler")) or DEFAULT_SCHEDULER,
                **flow_settings(v),
            )
            random_seeds = whole_number(
                v.get("random_seeds") or 0, "The number of random seeds", minimum=0
            )
            seeds = parse_seeds(_text(v.get("seeds")), random_seeds)
            axis = _axis(v)
            ablate = v.get("ablate")
            if ablate is not None:
                kind, made = "ablation", _ablation(_text(ablate), negative)
                name = _text(v.get("name")).strip() or f"Ablation: {default_label(_text(ablate))}"
            else:
                kind, made = "compare", _variants(v.get("variants"), v.get("labels"), negative)
                name = _text(v.get("name")).strip()
            form = cls(
                made,
                tuple(seeds),
                settings,
                (_text(v.get("model")) or "demo").strip(),
                axis,
                name,
                kind,
                count(v.get("max_batch", DEFAULT_MAX_BATCH), "Batch size"),
            )
            form.plan().validate()
        except FormError:
            raise
        except (EngineError, ValueError) as exc:  # the engine's and the variants' checks
            raise FormError(str(exc)) from None
        return form

    def plan(self) -> ComparePlan:
        """What runs: the grid's variants, seeds, settings and axis."""
        return ComparePlan(self.variants, self.seeds, self.settings, self.model, self.axis)


def _axis(values: Mapping[str, Any]) -> CompareAxis | None:
    """The second axis from "NAME=V1,V2" (API, command line) or the page's two boxes."""
    if values.get("axis") not in (None, ""):
        return parse_axis(_text(values["axis"]))
    name = _text(values.get("axis_name")) or NO_AXIS
    if name == NO_AXIS:
        return None
    items = [item for item in _text(values.get("axis_values")).split(",") if item.strip()]
    axis = make_axis(name, items)
    if axis is None:
        raise FormError(f"Give the values of the {AXIS_LABELS[name]} axis, e.g. 5, 7, 9.")
    return axis


def _ablation(prompt: str, negative: str) -> tuple[CompareVariant, ...]:
    made = ablation_variants(prompt, negative)
    return tuple(CompareVariant(v.label, v.prompt, v.negative_prompt, v.removed_term) for v in made)


def _variants(table: Any, labels: Any, negative: str) -> tuple[CompareVariant, ...]:
    """Variants from `[label, prompt]` rows or from prompts with `labels` beside them (a
    blank label becomes its prompt, shortened); 2 to 8 with a prompt."""
    if labels:  # prompts with their labels in order (the API, the command line)
        names = [_text(label) for label in labels]
        table = [[names[i] if i < len(names) else "", _text(p)] for i, p in enumerate(table or [])]
    rows = [row for row in variant_rows(table) if row[1]]
    if not 2 <= len(rows) <= MAX_VARIANTS:
        raise FormError(f"Give 2 to {MAX_VARIANTS} variants with a prompt; there are {len(rows)}.")
    names = labels_or_prompts([r[0] for r in rows], [r[1] for r in rows])
    return tuple(
        CompareVariant(name, row[1], negative) for name, row in zip(names, rows, strict=True)
    )


def variant_rows(table: Any) -> list[list[str]]:
    """Rows `[label, prompt]` (text, blank rows dropped) from the page's table (a list of rows
    or a pandas DataFrame) or from plain prompts (label blank)."""
    if table is None:
        return []
    if hasattr(table, "values") and hasattr(table, "columns"):  # a pandas DataFrame
        table = table.values.tolist()
    rows = []
    for row in table:
        if isinstance(row, str):
            row = ["", row]
        cells = ["" if value is None else str(value) for value in list(row)[:2]]
        cells += [""] * (2 - len(cells))
        if cells[1].strip() or cells[0].strip():
            rows.append([cells[0].strip(), cells[1].strip()])
    return rows


def labels_or_prompts(labels: Sequence[str], prompts: Sequence[str]) -> list[str]:
    """Each label, or its prompt shortened when the label is blank, made unique."""
    return unique_labels(
        (label.strip() or default_label(prompt))
        for label, prompt in zip(labels, prompts, strict=True)
    )
