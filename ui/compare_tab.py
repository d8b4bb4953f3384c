"""The Compare tab: prompt variants on shared seeds (and one optional setting axis), the grid
with per-column word diffs, an image slider, a difference heat map, blind pairwise votes with a
Bradley–Terry ranking, CLIP scores, ablation ("which words matter"), saved experiments.

Handlers live in `ui.compare_handlers`; this module only lays out widgets and wires events.
It also registers the `compare` and `ablate` API endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr

from engine.generate import Engine
from engine.schedulers import scheduler_names
from gallery.views import OwnerGallery
from prompts.styles import StyleLibrary
from ui import compare_handlers as h

PRIVATE: dict[str, Any] = {"api_visibility": "private"}


@dataclass(frozen=True)
class CompareTab:
    """Components other tabs connect to (Builder's prompt, Gallery's selected image)."""

    variants: gr.Dataframe
    negative: gr.Textbox
    base_prompt: gr.Textbox
    from_builder: gr.Button
    source_id: gr.Number
    open_in_gallery: gr.Button
    last_cell: gr.State
    """The gallery id of the last cell clicked in the grid."""


def build_compare_tab(
    engine: Engine,
    store: OwnerGallery,
    default_model: str,
    library: StyleLibrary | None,
    tab: gr.Tab | None = None,
) -> CompareTab:
    """Add the Compare tab's widgets and events to the current Blocks; opening `tab` (the
    gr.Tab it sits in) refreshes the list of saved experiments."""
    size = 256 if default_model == "demo" else 512
    experiment_id = gr.State(None)
    picked = gr.State(None)
    last_cell = gr.State(None)
    blind_pair = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=380):
            variants = gr.Dataframe(
                headers=["Label", "Prompt"],
                datatype=["str", "str"],
                value=[["A", ""], ["B", ""]],
                row_count=2,
                row_limits=(1, 8),
                column_count=2,
                column_limits=(2, 2),
                type="array",
                interactive=True,
                wrap=True,
                label="Variants (2–8; a blank label becomes the prompt)",
                elem_id="compare-variants",
            )
            negative = gr.Textbox(
                label="Negative prompt (all variants)", elem_id="compare-negative"
            )
            with gr.Accordion("Make variants", open=True):
                base_prompt = gr.Textbox(
                    label="Base prompt",
                    placeholder="a red fox in the snow  |  for a matrix: a fox | snow | night",
                    elem_id="compare-base",
                )
                mode = gr.Radio(
                    list(h.GENERATORS),
                    value="Prompt S/R",
                    label="Generator",
                    elem_id="compare-mode",
                )
                values = gr.Textbox(
                    label="Prompt S/R: the term, then its replacements",
                    placeholder="red, blue, green",
                    elem_id="compare-sr",
                )
                styles = gr.Dropdown(
                    library.names() if library is not None else [],
                    multiselect=True,
                    label="Style sweep: styles",
                    elem_id="compare-styles",
                )
                with gr.Row():
                    make = gr.Button("Make variants", elem_id="compare-make")
                    from_builder = gr.Button("Add the Builder's prompt", elem_id="compare-builder")
                with gr.Row():
                    source_id = gr.Number(
                        label="Gallery image id", precision=0, value=None, elem_id="compare-source"
                    )
                    compare_with = gr.Button("Compare with…", elem_id="compare-with")
            with gr.Row():
                seeds = gr.Textbox(label="Seeds", value="1, 2", elem_id="compare-seeds")
                random_count = gr.Number(
                    label="…or this many random seeds", value=2, precision=0, minimum=1, maximum=16
                )
            with gr.Accordion("Shared settings", open=False):
                model = gr.Textbox(label="Model", value=default_model, elem_id="compare-model")
                with gr.Row():
                    steps = gr.Slider(
                        1, 150, value=20, step=1, label="Steps", elem_id="compare-steps"
                    )
                    guidance = gr.Slider(0, 30, value=7.0, step=0.5, label="CFG scale")
                with gr.Row():
                    width = gr.Slider(
                        64, 2048, value=size, step=8, label="Width", elem_id="compare-width"
                    )
                    height = gr.Slider(
                        64, 2048, value=size, step=8, label="Height", elem_id="compare-height"
                    )
                scheduler = gr.Dropdown(scheduler_names(), value="Euler a", label="Scheduler")
                with gr.Row():
                    axis_name = gr.Dropdown(
                        h.AXIS_CHOICES, value=h.NO_AXIS, label="Second axis", elem_id="compare-axis"
                    )
                    axis_values = gr.Textbox(
                        label="Axis values", placeholder="5, 7, 9", elem_id="compare-axis-values"
                    )
            name = gr.Textbox(label="Experiment name (optional)", elem_id="compare-name")
            with gr.Row():
                run = gr.Button("Run comparison", variant="primary", elem_id="compare-run")
                ablate = gr.Button("Which words matter?", elem_id="compare-ablate")
                stop = gr.Button("Stop", variant="stop", elem_id="compare-stop")
            status = gr.Markdown(elem_id="compare-status")
            preview = gr.Image(label="Current cell", interactive=False, height=160)
            with gr.Accordion("Saved experiments", open=True):
                saved = gr.Dropdown(
                    choices=h.experiment_choices(store),
                    label="Experiment",
                    elem_id="compare-saved",
                )
                with gr.Row():
                    open_button = gr.Button("Open", elem_id="compare-open")
                    export_button = gr.Button("Export zip", elem_id="compare-export")
                with gr.Row():
                    with_images = gr.Checkbox(label="also delete its images", value=False)
                    delete_button = gr.Button("Delete", variant="stop", elem_id="compare-delete")
                exported = gr.File(label="Exported", interactive=False, elem_id="compare-file")
        with gr.Column(scale=5):
            summary = gr.Markdown(elem_id="compare-summary")
            header = gr.HTML(elem_id="compare-header")
            grid = gr.Gallery(
                label="Rows: seeds · columns: variants (click two cells to compare them)",
                columns=2,
                height="auto",
                object_fit="contain",
                allow_preview=False,
                format="png",
                elem_id="compare-grid",
            )
            heat = gr.Checkbox(
                label="Show the per-pixel difference (ΔE heat map) against the first variant",
                elem_id="compare-heat",
            )
            pick_info = gr.Markdown(elem_id="compare-pick")
            slider = gr.ImageSlider(
                label="Side by side", type="pil", format="png", elem_id="compare-slider"
            )
            with gr.Row():
                row_best = gr.Button(
                    "Best of its row: the last cell clicked", elem_id="compare-rowbest"
                )
                winner = gr.Dropdown([], label="Overall winner", elem_id="compare-winner")
                winner_button = gr.Button("Mark winner", elem_id="compare-markwinner")
                open_in_gallery = gr.Button(
                    "Open the last cell clicked in the Gallery", elem_id="compare-open-gallery"
                )
            judged = gr.Markdown(elem_id="compare-judged")
            with gr.Accordion("Blind mode", open=False, elem_id="compare-blind"):
                blind_start = gr.Button("Show a blind pair", elem_id="compare-blind-start")
                blind_text = gr.Markdown(elem_id="compare-blind-text")
                with gr.Row():
                    left = gr.Image(
                        label="1", show_label=False, interactive=False, elem_id="blind-left"
                    )
                    right = gr.Image(
                        label="2", show_label=False, interactive=False, elem_id="blind-right"
                    )
                with gr.Row():
                    vote_left = gr.Button("Left is better", elem_id="blind-vote-left")
                    vote_right = gr.Button("Right is better", elem_id="blind-vote-right")
            ranking = gr.Dataframe(
                headers=["Variant", "Bradley–Terry (95% interval)", "Won–lost", "Mean CLIP",
                         "CLIP vs A (paired, 95% bootstrap)"],
                interactive=False,
                label="Ranking from votes, and CLIP scores",
                elem_id="compare-ranking",
            )  # fmt: skip
            with gr.Accordion("Which words matter (ablation)", open=True):
                ablation_plot = gr.BarPlot(
                    x="term", y="change", title="Change when the term is removed", sort="-y",
                    elem_id="compare-ablation-plot",
                )  # fmt: skip
                ablation_table = gr.Dataframe(
                    headers=["Term", "Change (mean)", "Spread", "SSIM", "ΔE"],
                    interactive=False,
                    elem_id="compare-ablation",
                )

    shown = [summary, header, grid, ranking, ablation_table, ablation_plot, winner]
    show = partial(h.show_experiment, store)
    refresh = partial(_refresh_saved, store)

    if tab is not None:
        tab.select(refresh, None, saved, **PRIVATE)
    make.click(
        partial(h.generate_variants, library),
        [mode, base_prompt, values, styles, negative],
        variants,
        **PRIVATE,
    )
    compare_with.click(
        partial(h.compare_with, store),
        source_id,
        [variants, seeds, negative, steps, guidance, width, height, scheduler],
        **PRIVATE,
    )
    settings = [seeds, random_count, negative, model, steps, guidance, width, height, scheduler]
    running = run.click(
        partial(h.run_comparison, engine, store),
        [variants, *settings, axis_name, axis_values, name],
        [status, preview, experiment_id],
        concurrency_limit=1,
        concurrency_id="generate",
        **PRIVATE,
    )
    ablating = ablate.click(
        partial(h.run_ablation, engine, store),
        [base_prompt, *settings, name],
        [status, preview, experiment_id],
        concurrency_limit=1,
        concurrency_id="generate",
        **PRIVATE,
    )
    for event in (running, ablating):
        event.success(show, [experiment_id, heat], shown, **PRIVATE).then(
            refresh, experiment_id, saved, **PRIVATE
        )
    stop.click(None, cancels=[running, ablating], **PRIVATE).then(refresh, None, saved, **PRIVATE)
    open_button.click(lambda x: (x, None), saved, [experiment_id, picked], **PRIVATE).then(
        show, [experiment_id, heat], shown, **PRIVATE
    )
    heat.change(show, [experiment_id, heat], shown, **PRIVATE)

    def pick(eid: Any, first: Any, evt: gr.SelectData) -> tuple[Any, Any, str]:
        return h.pick_cell(store, eid, first, evt.index)

    grid.select(
        pick,
        [experiment_id, picked],
        [slider, picked, pick_info],
        **PRIVATE,
    )

    def remember(eid: Any, evt: gr.SelectData) -> int | None:
        return h.cell_generation_id(store, eid, evt.index)

    grid.select(remember, experiment_id, last_cell, **PRIVATE)
    row_best.click(
        partial(h.mark_row_best, store), [experiment_id, picked], judged, **PRIVATE
    ).then(show, [experiment_id, heat], shown, **PRIVATE)
    winner_button.click(
        partial(h.mark_winner, store), [experiment_id, winner], judged, **PRIVATE
    ).then(show, [experiment_id, heat], shown, **PRIVATE)
    blind = [left, right, blind_pair, blind_text]
    blind_start.click(partial(h.next_blind_pair, store), experiment_id, blind, **PRIVATE)
    for button, choice in ((vote_left, "left"), (vote_right, "right")):
        button.click(
            partial(_vote_then_next, store, choice), [experiment_id, blind_pair], [*blind, ranking],
            **PRIVATE,
        )  # fmt: skip
    delete_button.click(
        partial(h.delete_experiment, store), [experiment_id, with_images], status, **PRIVATE
    ).success(lambda: None, None, experiment_id, **PRIVATE).then(
        show, [experiment_id, heat], shown, **PRIVATE
    ).then(refresh, None, saved, **PRIVATE)
    export_button.click(partial(h.export_experiment, store), experiment_id, exported, **PRIVATE)

    register_compare_api(engine, store, default_model)
    return CompareTab(
        variants, negative, base_prompt, from_builder, source_id, open_in_gallery, last_cell
    )


def _refresh_saved(store: OwnerGallery, selected: Any = None) -> gr.Dropdown:
    return gr.Dropdown(choices=h.experiment_choices(store), value=selected)


def _vote_then_next(store: OwnerGallery, choice: str, experiment_id: Any, pair: Any) -> tuple:
    h.blind_vote(store, pair, choice)
    following = h.next_blind_pair(store, experiment_id)
    view = h.load_view(store, int(experiment_id))
    return (*following, h.ranking_rows(view))


def register_compare_api(engine: Engine, store: OwnerGallery, default_model: str) -> None:
    """The `compare` and `ablate` endpoints for `gradio_client` (JSON in, JSON out)."""

    def compare(
        variants: list[str],
        labels: list[str] | None = None,
        seeds: str = "1,2",
        negative_prompt: str = "",
        axis: str = "",
        model: str = default_model,
        steps: int = 20,
        guidance_scale: float = 7.0,
        width: int = 512,
        height: int = 512,
        scheduler: str = "Euler a",
        name: str = "",
    ) -> dict[str, Any]:
        """Run prompt variants on shared seeds as a saved experiment; returns its cells."""
        return h.compare_api(
            engine, store, variants, labels, seeds, negative_prompt, axis, model, steps,
            guidance_scale, width, height, scheduler, name,
        )  # fmt: skip

    def ablate(
        prompt: str,
        seeds: str = "1,2",
        negative_prompt: str = "",
        model: str = default_model,
        steps: int = 20,
        guidance_scale: float = 7.0,
        width: int = 512,
        height: int = 512,
        scheduler: str = "Euler a",
    ) -> dict[str, Any]:
        """Generate the prompt with each term removed; returns terms ranked by image change."""
        return h.ablate_api(
            engine, store, prompt, seeds, negative_prompt, model, steps, guidance_scale, width,
            height, scheduler,
        )  # fmt: skip

    for fn, description in (
        (compare, "Run prompt variants on shared seeds, save the experiment, return its cells."),
        (ablate, "Remove each term of a prompt in turn; rank terms by how much images change."),
    ):
        gr.api(
            fn,
            api_name=fn.__name__,
            api_description=description,
            concurrency_limit=1,
            concurrency_id="generate",
        )


def connect_compare(
    compare: CompareTab, builder_positive: gr.Textbox, gallery_selected: gr.State | None
) -> None:
    """Builder's composed prompt -> a new variant; the Gallery's selected image -> the
    "Compare with…" id."""
    compare.from_builder.click(
        h.add_variant, [compare.variants, builder_positive], compare.variants, **PRIVATE
    )
    if gallery_selected is not None:
        gallery_selected.change(lambda gid: gid, gallery_selected, compare.source_id, **PRIVATE)
