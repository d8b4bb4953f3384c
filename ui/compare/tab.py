"""The Compare tab: prompt variants on shared seeds (and one optional setting axis), the grid
with per-column word diffs, an image slider, a difference heat map, blind pairwise votes with a
Bradley–Terry ranking, CLIP scores, ablation ("which words matter"), saved experiments.

Widgets and wiring only; handlers live in `ui.compare.handlers`, the `compare` and `ablate`
API endpoints in `ui.compare.api`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr

from engine.schedulers import scheduler_names
from prompts.styles import StyleLibrary
from ui.compare import handlers as h
from ui.compare.api import register_compare_api
from ui.forms import NO_AXIS
from ui.generate.handlers import RunRegistry, session_of
from ui.hosting.hosted_engine import HostedEngine
from ui.messages import error_line
from ui.model_settings import follow_model, settings_for

PRIVATE: dict[str, Any] = {"api_visibility": "private"}
QUIET: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}


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
    settings: list[Any]
    """Model, steps, CFG, width, height, scheduler ("Compare these" fills them)."""


@dataclass(frozen=True)
class _Maker:
    """The "Make variants" accordion."""

    base_prompt: gr.Textbox
    mode: gr.Radio
    values: gr.Textbox
    styles: gr.Dropdown
    make: gr.Button
    from_builder: gr.Button
    source_id: gr.Number
    compare_with: gr.Button


@dataclass(frozen=True)
class _Settings:
    """Seeds and the shared settings, by the names `CompareForm.read` takes."""

    seeds: gr.Textbox
    random_seeds: gr.Number
    model: gr.Textbox
    steps: gr.Slider
    guidance_scale: gr.Slider
    width: gr.Slider
    height: gr.Slider
    scheduler: gr.Dropdown
    axis_name: gr.Dropdown
    axis_values: gr.Textbox

    def inputs(self) -> dict[str, Any]:
        return dict(vars(self))

    def model_and_settings(self) -> list[Any]:
        """Model, steps, CFG, width, height, scheduler: what a gallery record fills."""
        return [
            self.model, self.steps, self.guidance_scale, self.width, self.height, self.scheduler
        ]  # fmt: skip


@dataclass(frozen=True)
class _Saved:
    """The "Saved experiments" accordion."""

    saved: gr.Dropdown
    open_button: gr.Button
    export_button: gr.Button
    with_images: gr.Checkbox
    delete_button: gr.Button
    exported: gr.File
    missing_button: gr.Button


@dataclass(frozen=True)
class _Results:
    """The right column: the grid and everything that judges it."""

    summary: gr.Markdown
    header: gr.HTML
    grid: gr.Gallery
    heat: gr.Checkbox
    heat_legend: gr.HTML
    pick_info: gr.Markdown
    slider: gr.ImageSlider
    row_best: gr.Button
    winner: gr.Dropdown
    winner_button: gr.Button
    open_in_gallery: gr.Button
    judged: gr.Markdown
    blind_start: gr.Button
    blind_text: gr.Markdown
    left: gr.Image
    right: gr.Image
    vote_left: gr.Button
    vote_right: gr.Button
    ranking: gr.Dataframe
    ablation_plot: gr.BarPlot
    ablation_table: gr.Dataframe

    def shown(self) -> list[Any]:
        """What `show_experiment` fills, in its order."""
        return [
            self.summary,
            self.header,
            self.grid,
            self.ranking,
            self.ablation_table,
            self.ablation_plot,
            self.winner,
        ]


NO_PICKS = (None, "", "", None, None, None, None, None, "")
"""`_picks` cleared: a new run or an opened experiment starts with nothing clicked."""
JUDGING: dict[str, Any] = {
    **PRIVATE,
    "concurrency_id": "compare-judging",
    "concurrency_limit": 1,
    "trigger_mode": "multiple",
}
"""Clicks on cells and the judging buttons run one after another, in the order made: "Best of
its row" right after two clicks sees the second. Every click counts: Gradio's default for a
click ("once") drops one made while the last is still being answered, so on a busy server a
quick second cell never opened the slider."""


@dataclass(frozen=True)
class _State:
    """What the tab remembers per browser session."""

    experiment_id: gr.State
    picked: gr.State
    last_cell: gr.State
    blind_pair: gr.State


def build_compare_tab(
    engine: HostedEngine,
    store: h.Store,
    default_model: str,
    library: StyleLibrary | None,
    tab: gr.Tab | None = None,
) -> CompareTab:
    """Add the Compare tab's widgets and events to the current Blocks; opening `tab` (the
    gr.Tab it sits in) refreshes the list of saved experiments."""
    state = _State(gr.State(None), gr.State(None), gr.State(None), gr.State(None))
    with gr.Row(equal_height=False, elem_id="compare-layout"):
        with gr.Column(scale=2, min_width=380, elem_id="compare-left"):
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
                label="Negative prompt (all variants)",
                elem_id="compare-negative",
                elem_classes=["prompt"],  # Ctrl+Up/Down weight a word here too
            )
            maker = _maker_widgets(library)
            settings = _settings_widgets(default_model)
            name = gr.Textbox(label="Experiment name (optional)", elem_id="compare-name")
            with gr.Row():
                run = gr.Button("Run comparison", variant="primary", elem_id="compare-run")
                ablate = gr.Button("Which words matter?", elem_id="compare-ablate")
                stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="compare-stop")
            status = gr.Markdown(elem_id="compare-status")
            with gr.Column(elem_id="compare-after"):  # on a phone: after the results
                preview = gr.Image(label="Current cell", interactive=False, height=160)
                saved = _saved_widgets(store)
        with gr.Column(scale=5, min_width=0, elem_id="compare-results"):
            results = _result_widgets()

    # Both buttons read one `CompareForm`: the variants and the axis, or the prompt to ablate.
    shared = {**settings.inputs(), "negative_prompt": negative, "name": name}
    without_axis = {k: v for k, v in shared.items() if k not in ("axis_name", "axis_values")}
    runs = _Runs(engine, store, [status, preview, state.experiment_id])
    picks = _picks(results, state)
    running = _started(run, stop, picks).then(
        runs.run, inputs_kwargs={**shared, "variants": variants}, **runs.options
    )
    ablating = _started(ablate, stop, picks).then(
        runs.run, inputs_kwargs={**without_axis, "ablate": maker.base_prompt}, **runs.options
    )
    missing = _started(saved.missing_button, stop, picks).then(
        runs.missing, saved.saved, **runs.options
    )
    for event in (running, ablating, missing):
        event.then(lambda: gr.Button(interactive=False), None, stop, **QUIET)
    # Its own concurrency group, unlimited: it must run while the run holds its slot.
    stop.click(runs.stop, None, status, concurrency_limit=None, **QUIET)
    _wire_maker(maker, settings, store, library, variants, negative)
    _wire_saved(
        saved, results, state, store, tab, _RunEvents(running, ablating, missing, stop, status)
    )
    _wire_judging(results, state, store)
    register_compare_api(engine, store, default_model)
    return CompareTab(
        variants,
        negative,
        maker.base_prompt,
        maker.from_builder,
        maker.source_id,
        results.open_in_gallery,
        state.last_cell,
        settings.model_and_settings(),
    )


class _Runs:
    """The Run and "Which words matter?" buttons: each reads its form and streams the run;
    Stop reaches the run of its browser session. An error ends the run with its sentence on
    the status line and in a message that stays until dismissed, the controls usable."""

    def __init__(self, engine: HostedEngine, store: h.Store, outputs: list[Any]) -> None:
        self.engine, self.store = engine, store
        self.registry = RunRegistry()
        self.options: dict[str, Any] = {
            "outputs": outputs,
            "concurrency_limit": 1,
            "concurrency_id": "generate",
            **PRIVATE,
        }

    def run(
        self,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects it here)
        **values: Any,
    ) -> Iterator[tuple[Any, Any, Any]]:
        def start(stop: threading.Event) -> Iterator[tuple[Any, Any, Any]]:
            form = h.read_form(values)
            return h.run_comparison(self.engine, self.store, form, progress, stop)

        yield from self._controlled(request, start, "The comparison did not run")

    def missing(
        self,
        experiment_id: Any,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects it here)
    ) -> Iterator[tuple[Any, Any, Any]]:
        def start(stop: threading.Event) -> Iterator[tuple[Any, Any, Any]]:
            return h.run_missing(self.engine, self.store, experiment_id, progress, stop)

        yield from self._controlled(request, start, "The missing cells did not run")

    def _controlled(
        self,
        request: gr.Request,
        start: Callable[[threading.Event], Iterator[tuple[Any, Any, Any]]],
        title: str,
    ) -> Iterator[tuple[Any, Any, Any]]:
        """A run that Stop of its browser session reaches; its error a sentence that stays."""
        session = session_of(request)
        control = self.registry.start(session)
        try:
            yield from start(control.stop)
        except gr.Error as exc:
            gr.Warning(exc.message, duration=None, title=title)
            yield h.error_outputs(exc.message)
        finally:
            self.registry.finish(session, control)

    def stop(self, request: gr.Request) -> Any:
        if self.registry.stop(session_of(request)):
            return "Stopping after the step in flight; the finished cells are kept…"
        return gr.skip()


def _started(button: gr.Button, stop: gr.Button, picks: list[Any]) -> Any:
    """A run's first, instant step: Stop becomes usable, the last experiment's picks go."""
    return button.click(
        lambda: (gr.Button(interactive=True), *NO_PICKS), None, [stop, *picks], queue=False,
        **QUIET,
    )  # fmt: skip


def _picks(results: _Results, state: _State) -> list[Any]:
    """What judging one experiment leaves behind, in the order of `NO_PICKS`: the slider and
    its caption, the row-best line, the clicked cells, the blind pair."""
    return [
        results.slider,
        results.pick_info,
        results.judged,
        state.picked,
        state.last_cell,
        results.left,
        results.right,
        state.blind_pair,
        results.blind_text,
    ]


@dataclass(frozen=True)
class _RunEvents:
    """The Run, ablation and missing-cells events, the Stop button, the status line."""

    running: Any
    ablating: Any
    missing: Any
    stop: gr.Button
    status: gr.Markdown


def _maker_widgets(library: StyleLibrary | None) -> _Maker:
    with gr.Accordion("Make variants", open=True):
        base_prompt = gr.Textbox(
            label="Base prompt",
            placeholder="a red fox in the snow  |  for a matrix: a fox | snow | night",
            elem_id="compare-base",
            elem_classes=["prompt"],
        )
        mode = gr.Radio(
            list(h.GENERATORS), value="Prompt S/R", label="Generator", elem_id="compare-mode"
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
    return _Maker(base_prompt, mode, values, styles, make, from_builder, source_id, compare_with)


def _settings_widgets(default_model: str) -> _Settings:
    """Seeds, the model and its settings (from its defaults, following the model box)."""
    start = settings_for(default_model)
    with gr.Row():
        seeds = gr.Textbox(label="Seeds", value="1, 2", elem_id="compare-seeds")
        random_seeds = gr.Number(
            label="…or this many random seeds", value=2, precision=0, minimum=1, maximum=16
        )
    with gr.Accordion("Shared settings", open=False):
        model = gr.Textbox(label="Model", value=default_model, elem_id="compare-model")
        with gr.Row():
            steps = gr.Slider(
                1, 150, value=start.steps, step=1, label="Steps", elem_id="compare-steps"
            )
            guidance = gr.Slider(
                0, 30, value=start.guidance_scale, step=0.5, label="CFG scale",
                elem_id="compare-guidance",
            )  # fmt: skip
        with gr.Row():
            width = gr.Slider(
                64, 2048, value=start.width, step=8, label="Width", elem_id="compare-width"
            )
            height = gr.Slider(
                64, 2048, value=start.height, step=8, label="Height", elem_id="compare-height"
            )
        scheduler = gr.Dropdown(
            scheduler_names(), value=start.scheduler, label="Scheduler",
            elem_id="compare-scheduler",
        )  # fmt: skip
        with gr.Row():
            axis_name = gr.Dropdown(
                h.AXIS_CHOICES, value=NO_AXIS, label="Second axis", elem_id="compare-axis"
            )
            axis_values = gr.Textbox(
                label="Axis values", placeholder="5, 7, 9", elem_id="compare-axis-values"
            )
    follow_model(model, [steps, guidance, width, height, scheduler], default_model)
    return _Settings(
        seeds, random_seeds, model, steps, guidance, width, height, scheduler, axis_name,
        axis_values,
    )  # fmt: skip


def _saved_widgets(store: h.Store) -> _Saved:
    with gr.Accordion("Saved experiments", open=True):
        saved = gr.Dropdown(
            choices=h.experiment_choices(store), label="Experiment", elem_id="compare-saved"
        )
        with gr.Row():
            open_button = gr.Button("Open", elem_id="compare-open")
            export_button = gr.Button("Export zip", elem_id="compare-export")
        with gr.Row():
            with_images = gr.Checkbox(label="also delete its images", value=False)
            delete_button = gr.Button("Delete", variant="stop", elem_id="compare-delete")
        missing_button = gr.Button("Run the missing cells", elem_id="compare-missing")
        exported = gr.File(label="Exported", interactive=False, elem_id="compare-file")
    return _Saved(
        saved, open_button, export_button, with_images, delete_button, exported, missing_button
    )


def _result_widgets() -> _Results:
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
    heat_legend = gr.HTML(h.heat_legend_markup(), visible=False, elem_id="compare-heat-legend")
    pick_info = gr.Markdown(elem_id="compare-pick")
    slider = gr.ImageSlider(
        label="Side by side", type="pil", format="png", elem_id="compare-slider"
    )
    with gr.Row():
        row_best = gr.Button("Best of its row: the last cell clicked", elem_id="compare-rowbest")
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
            left = gr.Image(label="1", show_label=False, interactive=False, elem_id="blind-left")
            right = gr.Image(label="2", show_label=False, interactive=False, elem_id="blind-right")
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
            y_lim=[0, None], visible=False, elem_id="compare-ablation-plot",
        )  # fmt: skip
        ablation_table = gr.Dataframe(
            headers=["Term", "Change (mean)", "Spread", "SSIM", "ΔE"],
            interactive=False,
            elem_id="compare-ablation",
        )
    return _Results(
        summary, header, grid, heat, heat_legend, pick_info, slider, row_best, winner,
        winner_button, open_in_gallery, judged, blind_start, blind_text, left, right, vote_left,
        vote_right, ranking, ablation_plot, ablation_table,
    )  # fmt: skip


def _wire_maker(
    maker: _Maker,
    settings: _Settings,
    store: h.Store,
    library: StyleLibrary | None,
    variants: gr.Dataframe,
    negative: gr.Textbox,
) -> None:
    """Variant generators and "Compare with…" a gallery image."""
    maker.make.click(
        partial(h.generate_variants, library),
        [maker.mode, maker.base_prompt, maker.values, maker.styles, negative],
        variants,
        **PRIVATE,
    )
    maker.compare_with.click(
        partial(h.compare_with, store),
        maker.source_id,
        [variants, settings.seeds, negative, *settings.model_and_settings()],
        **PRIVATE,
    )


def _wire_saved(
    saved: _Saved,
    results: _Results,
    state: _State,
    store: h.Store,
    tab: gr.Tab | None,
    runs: _RunEvents,
) -> None:
    """Runs show their experiment when done; Stop; open, delete and export saved ones."""
    shown = results.shown()
    show = partial(h.show_experiment, store)
    refresh = partial(_refresh_saved, store)
    experiment = [state.experiment_id, results.heat]
    if tab is not None:
        tab.select(refresh, None, saved.saved, **PRIVATE)
    for event in (runs.running, runs.ablating, runs.missing):
        event.success(show, experiment, shown, **PRIVATE).then(
            refresh, state.experiment_id, saved.saved, **PRIVATE
        )
    cleared = _picks(results, state)
    saved.open_button.click(
        lambda x: (x, *NO_PICKS), saved.saved, [state.experiment_id, *cleared], **PRIVATE
    ).then(show, experiment, shown, **PRIVATE)
    results.heat.change(show, experiment, shown, **PRIVATE)
    results.heat.change(h.heat_legend, results.heat, results.heat_legend, **PRIVATE)
    saved.delete_button.click(
        partial(h.delete_experiment, store),
        [state.experiment_id, saved.with_images],
        runs.status,
        **PRIVATE,
    ).success(lambda: (None, *NO_PICKS), None, [state.experiment_id, *cleared], **PRIVATE).then(
        show, experiment, shown, **PRIVATE
    ).then(refresh, None, saved.saved, **PRIVATE)
    saved.export_button.click(
        partial(h.export_experiment, store), state.experiment_id, saved.exported, **PRIVATE
    )


def _wire_judging(results: _Results, state: _State, store: h.Store) -> None:
    """Clicking cells (slider, last cell), best of row, overall winner, blind votes."""
    shown = results.shown()
    show = partial(h.show_experiment, store)
    experiment = [state.experiment_id, results.heat]

    def pick(eid: Any, first: Any, evt: gr.SelectData) -> tuple[Any, Any, str, int | None]:
        """One event per click: the slider's pair and the last cell are set together."""
        try:
            slider, picked, info = h.pick_cell(store, eid, first, evt.index)
        except gr.Error as exc:
            return gr.skip(), gr.skip(), _said(exc), gr.skip()
        return slider, picked, info, h.cell_generation_id(store, eid, evt.index)

    def judge(mark: Callable[..., str]) -> Callable[..., str]:
        """A judging button's handler whose refusal is a sentence on the line (no bare
        "Error" pill), also in a message that stays until dismissed."""

        def judged(*values: Any) -> str:
            try:
                return mark(store, *values)
            except gr.Error as exc:
                return _said(exc)

        return judged

    results.grid.select(
        pick,
        [state.experiment_id, state.picked],
        [results.slider, state.picked, results.pick_info, state.last_cell],
        **JUDGING,
    )
    results.row_best.click(
        judge(h.mark_row_best), [state.experiment_id, state.last_cell], results.judged,
        **JUDGING,
    ).then(show, experiment, shown, **PRIVATE)  # fmt: skip
    results.winner_button.click(
        judge(h.mark_winner), [state.experiment_id, results.winner], results.judged,
        **JUDGING,
    ).then(show, experiment, shown, **PRIVATE)  # fmt: skip
    blind = [results.left, results.right, state.blind_pair, results.blind_text]
    results.blind_start.click(
        partial(h.next_blind_pair, store), state.experiment_id, blind, **PRIVATE
    )
    for button, choice in ((results.vote_left, "left"), (results.vote_right, "right")):
        button.click(
            partial(_vote_then_next, store, choice),
            [state.experiment_id, state.blind_pair],
            [*blind, results.ranking],
            **PRIVATE,
        )


def _said(refusal: gr.Error) -> str:
    """A handler's refusal as a message that stays and the status line's sentence."""
    gr.Warning(refusal.message, duration=None)
    return error_line(refusal.message)


def _refresh_saved(store: h.Store, selected: Any = None) -> gr.Dropdown:
    return gr.Dropdown(choices=h.experiment_choices(store), value=selected)


def _vote_then_next(store: h.Store, choice: str, experiment_id: Any, pair: Any) -> tuple:
    h.blind_vote(store, pair, choice)
    following = h.next_blind_pair(store, experiment_id)
    view = h.load_view(store, int(experiment_id))
    return (*following, h.ranking_rows(view))


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
