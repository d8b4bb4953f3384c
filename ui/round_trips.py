"""Moving work between tabs: Builder → Generate (with the recipe), Generate → Builder, and a
gallery record → Generate or Builder with every setting (model, batch, scheduler, clip skip,
size, seed, recipe).

`recall_settings` and `builder_values` are plain functions; the `connect_*` functions wire
buttons to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from engine.model_catalog import flow_family
from engine.request import MAX_GUIDANCE, MAX_SEQUENCE_LENGTH
from engine.schedulers import scheduler_names
from gallery.records import GenerationRecord
from gallery.views import OwnerGallery
from prompts.compose import split_terms
from prompts.recipe import Recipe, RecipeError
from ui.builder.handlers import prompts_for_generate, recipe_from_values
from ui.builder.handlers import recipe_values as widget_values
from ui.builder.tab import BuilderTab
from ui.compare.handlers import record_settings
from ui.compare.tab import JUDGING, CompareTab
from ui.gallery_tab.handlers import compare_rows, recall_values
from ui.generate.handlers import linked_recipe
from ui.generate.tab import GenerateTab
from ui.model_fit import FOLLOWED, applied_state

PRIVATE: dict[str, Any] = {"api_visibility": "private"}
GENERATE_FIELDS = (
    "prompt",
    "negative",
    "seed",
    "steps",
    "guidance",
    "width",
    "height",
    "scheduler",
    "model",
    "batch",
    "clip_skip",
    "recipe",
    "t5_length",
    "shift",
    "true_cfg",
    "applied",
)
"""The Generate widgets a recall fills, in the order `recall_settings` returns them."""


@dataclass(frozen=True)
class RecalledSettings:
    """A record's values for the Generate tab (`gr.skip()` where the record has none)."""

    values: tuple[Any, ...]
    """In `GENERATE_FIELDS` order."""
    recipe: dict[str, Any] | None


def recall_settings(store: OwnerGallery, generation_id: int | None) -> RecalledSettings:
    """Everything Generate needs to make the record again; `gr.Error` if it is gone."""
    base = recall_values(store, generation_id)  # prompts, seed, steps, CFG, size, scheduler
    record = store.get(int(generation_id))  # type: ignore[arg-type] (checked just above)
    settings = record.settings or {}
    recipe = _valid_recipe(record)
    batch = settings.get("num_images")
    clip_skip = settings.get("clip_skip")
    model = _model_name(record)
    flow = _flow_values(settings)
    kind = _kind(record, model)
    scheduler = base[7]
    if kind is not None and isinstance(scheduler, str):
        scheduler = gr.Dropdown(choices=scheduler_names(kind), value=scheduler)
    values = (
        *base[:7],
        scheduler,
        gr.skip() if model is None else model,
        int(batch) if isinstance(batch, int) and 1 <= batch <= 8 else 1,
        int(clip_skip) if isinstance(clip_skip, int) and 1 <= clip_skip <= 12 else 1,
        {"recipe": recipe, "prompt": record.prompt} if recipe else None,
        *flow,
        _applied(model, base, flow),
    )
    return RecalledSettings(values, recipe)


def _flow_values(settings: dict[str, Any]) -> tuple[Any, Any, Any]:
    """T5 length, shift, true CFG as the sliders take them (0: the model's own; 1: off)."""
    length, shift, true_cfg = (
        settings.get(k) for k in ("max_sequence_length", "shift", "true_cfg_scale")
    )
    number = (int, float)
    return (
        int(length) if isinstance(length, int) and 8 <= length <= MAX_SEQUENCE_LENGTH else 0,
        float(shift) if isinstance(shift, number) and 0 < shift <= 10 else 0,
        float(true_cfg) if isinstance(true_cfg, number) and 1 <= true_cfg <= MAX_GUIDANCE else 1.0,
    )


def _kind(record: GenerationRecord, model: str | None) -> str | None:
    """The record's model kind: recorded by us, or for other tools' images its name's."""
    kind = (record.provenance or {}).get("pipeline_kind")
    if isinstance(kind, str) and kind:
        return kind
    family = flow_family(model or "")
    return {"FLUX": "flux", "SD3": "sd3"}.get(family or "")


def _applied(model: str | None, base: tuple[Any, ...], flow: tuple[Any, ...]) -> Any:
    """The recalled settings as applied for the recalled model: the model box's change then
    leaves them as they are (they follow a model chosen later unless changed). A setting the
    record lacks (`gr.skip()`, a dict) counts as the artist's own."""
    if model is None:
        return gr.skip()
    steps, guidance, width, height, scheduler = base[3:8]
    values = dict(zip(FOLLOWED, (steps, guidance, width, height, scheduler, *flow), strict=True))
    return applied_state(model, {k: None if isinstance(v, dict) else v for k, v in values.items()})


def _model_name(record: GenerationRecord) -> str | None:
    provenance = record.provenance or {}
    if provenance.get("model_source") == "hub" or not provenance.get("model_location"):
        return record.model_id
    return str(provenance.get("model_location"))


def _valid_recipe(record: GenerationRecord) -> dict[str, Any] | None:
    if not record.recipe:
        return None
    try:
        return Recipe.from_dict(record.recipe).to_dict()
    except RecipeError:
        return None


def builder_values(prompt: str, negative: str, recipe: dict[str, Any] | None) -> list[Any]:
    """The Builder's widget values (`RECIPE_FIELDS` order) for a recipe, or — without one —
    the prompt as the subject and the negative prompt's comma terms as negative terms."""
    if recipe:
        try:
            return widget_values(Recipe.from_dict(recipe))
        except RecipeError as exc:
            gr.Warning(f"The stored recipe could not be read ({exc}); using the prompt instead.")
    plain = Recipe(subject=prompt or "", negative=tuple(split_terms(negative or "")))
    return widget_values(plain)


def connect_builder_to_generate(
    builder: BuilderTab, generate: GenerateTab, tabs: gr.Tabs, generate_tab_id: str
) -> None:
    """ "Send to Generate" copies the composed prompts and the recipe and opens Generate;
    "Send expanded to Generate" sends the current expansion (never a stale one)."""
    library = builder.library

    def send(*values: Any) -> tuple[Any, ...]:
        recipe = recipe_from_values(*values)
        positive, negative = prompts_for_generate(recipe, library)
        link = {"recipe": recipe.to_dict(), "prompt": positive}
        return positive, negative, link, gr.Tabs(selected=generate_tab_id)

    def send_expanded(expanded: str, *values: Any) -> tuple[Any, ...]:
        recipe = recipe_from_values(*values)
        positive, negative = prompts_for_generate(recipe, library, expanded or "")
        link = {"recipe": recipe.to_dict(), "prompt": positive}
        return positive, negative, link, gr.Tabs(selected=generate_tab_id)

    outputs = [generate.prompt, generate.negative, generate.recipe, tabs]
    builder.send.click(send, inputs=list(builder.fields), outputs=outputs, **PRIVATE)
    builder.send_expanded.click(
        send_expanded,
        inputs=[builder.expanded_prompt, *builder.fields],
        outputs=outputs,
        **PRIVATE,
    )


def connect_generate_to_builder(
    builder: BuilderTab, generate: GenerateTab, tabs: gr.Tabs, builder_tab_id: str
) -> None:
    """ "Open in Builder": the recipe the prompt came from, else the prompt as the subject."""

    def open_builder(prompt: str, negative: str, link: dict[str, Any] | None) -> list[Any]:
        recipe = linked_recipe(link, prompt)
        return [*builder_values(prompt, negative, recipe), gr.Tabs(selected=builder_tab_id)]

    generate.to_builder.click(
        open_builder,
        inputs=[generate.prompt, generate.negative, generate.recipe],
        outputs=[*builder.fields, tabs],
        **PRIVATE,
    )


def generate_outputs(generate: GenerateTab) -> list[Any]:
    """The Generate widgets in `GENERATE_FIELDS` order."""
    return [getattr(generate, name) for name in GENERATE_FIELDS]


def connect_recall(
    recall_generate: gr.Button,
    recall_builder: gr.Button,
    selected: gr.State,
    store: OwnerGallery,
    builder: BuilderTab | None,
    generate: GenerateTab,
    tabs: gr.Tabs,
    tab_ids: tuple[str, str],
) -> None:
    """Recall a gallery record into Generate, or into the Builder (its recipe in the fields;
    Generate gets every setting too, so "Send to Generate" makes the same image)."""
    builder_id, generate_id = tab_ids

    def into_generate(gid: int | None) -> list[Any]:
        recalled = recall_settings(store, gid)
        return [*recalled.values, gr.Tabs(selected=generate_id)]

    recall_generate.click(
        into_generate, inputs=selected, outputs=[*generate_outputs(generate), tabs], **PRIVATE
    )
    if builder is None:
        recall_builder.visible = False
        return

    def into_builder(gid: int | None) -> list[Any]:
        recalled = recall_settings(store, gid)
        prompt, negative = recalled.values[0], recalled.values[1]
        fields = builder_values(prompt, negative, recalled.recipe)
        return [*recalled.values, *fields, gr.Tabs(selected=builder_id)]

    recall_builder.click(
        into_builder,
        inputs=selected,
        outputs=[*generate_outputs(generate), *builder.fields, tabs],
        **PRIVATE,
    )


def connect_compare_these(
    chosen: gr.State,
    compare_these: gr.Button,
    store: OwnerGallery,
    compare: CompareTab | None,
    tabs: gr.Tabs,
    compare_tab_id: str,
) -> None:
    """ "Compare these": the ticked gallery images' prompts become the Compare tab's variants
    (labelled by gallery id), with the model and settings the first of them was made with.
    Without a Compare tab the button is hidden."""
    if compare is None:
        compare_these.visible = False
        return

    def hand_over(ids: list[int] | None, model: str) -> tuple[Any, ...]:
        rows = compare_rows(store, ids)
        settings = record_settings(store.get(int(ids[0])), model) if ids else ()
        return rows, *settings, gr.Tabs(selected=compare_tab_id)

    compare_these.click(
        hand_over,
        inputs=[chosen, compare.settings[0]],
        outputs=[compare.variants, *compare.settings, tabs],
        **PRIVATE,
    )


def connect_open_in_gallery(
    button: gr.Button,
    last_cell: gr.State,
    open_record: Callable[[Any], tuple[Any, ...]],
    record_outputs: list[Any],
    tabs: gr.Tabs,
    gallery_tab_id: str,
) -> None:
    """A Compare cell's "Open in the Gallery": its record in the Gallery's detail panel
    (rating, tags, notes, recall), with the Gallery tab selected."""

    def open_it(generation_id: Any) -> tuple[Any, ...]:
        return (*open_record(generation_id), gr.Tabs(selected=gallery_tab_id))

    # In Compare's judging queue: after the cell clicks made before it, so it opens the last.
    button.click(open_it, inputs=last_cell, outputs=[*record_outputs, tabs], **JUDGING)
