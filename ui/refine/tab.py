"""The page's interrogation and refinement: a picture upload on the Builder that fills its
parts, "What prompt would give this?" under the Gallery's detail and the Compare grid, and
the Compare tab's Refine mode (target, rounds, beam, proposals; each round's grid as it
finishes; a click on a picture picks its variant to go on from, "Next round" goes on; Stop
keeps the finished rounds; the lineage from the start to the best)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from engine.interrogate import Interrogator
from gallery.views import OwnerGallery
from ui.builder.tab import BuilderTab
from ui.hosting.hosted_engine import HostedEngine
from ui.refine import handlers as h
from ui.refine import page_rounds as rounds
from ui.refine.form import DEFAULTS

PRIVATE: dict[str, Any] = {"api_visibility": "private"}
QUIET: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}


def _with_stop(button: gr.Button, stop: gr.Button) -> Any:
    """A run's first, instant step: Stop becomes usable (it is greyed while nothing runs)."""
    return button.click(lambda: gr.Button(interactive=True), None, stop, queue=False, **QUIET)


Reader = Callable[[], Interrogator]


def build_builder_reader(builder: BuilderTab, interrogator: Reader) -> None:
    """On the Builder: upload a picture, one click fills the Builder's parts with its recipe
    and says how sure each part is."""
    with gr.Accordion("Start from a picture", open=False, elem_id="builder-read"), gr.Row():
        upload = gr.Image(
            label="Picture", type="filepath", sources=["upload"], height=220,
            elem_id="builder-read-image",
        )  # fmt: skip
        with gr.Column():
            read = gr.Button("Read into the Builder", elem_id="builder-read-button")
            summary = gr.Markdown(elem_id="builder-read-summary")

    def fill(path: Any) -> list[Any]:
        return h.read_upload(interrogator(), path)

    read.click(fill, inputs=upload, outputs=[*builder.fields, summary], **PRIVATE)


@dataclass(frozen=True)
class ReaderPanel:
    """ "What prompt would give this?" for a selected gallery id."""

    button: gr.Button
    summary: gr.Markdown
    send: gr.Button
    compare: gr.Button
    rows: gr.State
    """The image's own prompt and the one read back, as Compare variant rows."""


def build_image_reader(
    store: OwnerGallery,
    interrogator: Reader,
    selected: gr.State,
    builder: BuilderTab,
    tabs: gr.Tabs,
    builder_tab_id: str,
    prefix: str,
) -> ReaderPanel:
    """Under a selected image (the Gallery's detail, a Compare cell): read it into a recipe,
    then "Send to Builder"."""
    recipe, rows = gr.State(None), gr.State(None)
    with gr.Accordion("What prompt would give this?", open=False, elem_id=f"{prefix}-read"):
        with gr.Row():
            button = gr.Button("Interrogate the selected image", elem_id=f"{prefix}-read-button")
            send = gr.Button("Send to Builder", elem_id=f"{prefix}-read-send")
            compare = gr.Button("Compare with…", elem_id=f"{prefix}-read-compare")
        summary = gr.Markdown(elem_id=f"{prefix}-read-summary")

    def read(generation_id: Any) -> tuple[str, dict[str, Any], list[list[str]]]:
        return h.read_generation(store, interrogator(), generation_id)

    def to_builder(value: Any) -> list[Any]:
        return [*h.recipe_to_builder(value), gr.Tabs(selected=builder_tab_id)]

    button.click(read, inputs=selected, outputs=[summary, recipe, rows], **PRIVATE)
    send.click(to_builder, inputs=recipe, outputs=[*builder.fields, tabs], **PRIVATE)
    return ReaderPanel(button, summary, send, compare, rows)


def connect_compare_with(
    panels: list[ReaderPanel], variants: gr.Dataframe, tabs: gr.Tabs, compare_tab_id: str
) -> None:
    """ "Compare with…": the image's prompt and the read one become the Compare variants."""

    def hand_over(rows: Any) -> tuple[Any, ...]:
        return h.rows_to_compare(rows), gr.Tabs(selected=compare_tab_id)

    for panel in panels:
        panel.compare.click(hand_over, inputs=panel.rows, outputs=[variants, tabs], **PRIVATE)


@dataclass(frozen=True)
class _RefineWidgets:
    """The Refine mode's inputs (in the order `go` reads them) and outputs."""

    inputs: list[Any]
    outputs: list[Any]  # status, grid, log, lineage, table, run, picks, picked line
    start: gr.Textbox
    use_builder: gr.Button
    pause: gr.Checkbox
    run: gr.Button
    next: gr.Button
    stop: gr.Button


def _refine_layout(most: tuple[int, int, int]) -> _RefineWidgets:
    with gr.Accordion("Refine toward a target", open=False, elem_id="refine"):
        with gr.Row():
            with gr.Column():
                start = gr.Textbox(label="Start prompt", value="a shape", elem_id="refine-start")
                use_builder = gr.Button("Use the Builder's prompt", size="sm")
                target_text = gr.Textbox(
                    label="Target in words (used when no picture is given)",
                    elem_id="refine-target-text",
                )
                kind = gr.Radio(
                    [("the picture, else the words", "auto"), ("my picks only", "picks")],
                    value="auto", label="Climb toward", elem_id="refine-target-kind",
                )  # fmt: skip
            target = gr.Image(
                label="Target picture", type="filepath", sources=["upload"], height=200,
                elem_id="refine-target-image",
            )  # fmt: skip
        with gr.Row():
            rounds = gr.Slider(1, most[0], value=min(DEFAULTS["rounds"], most[0]), step=1,
                               label="Rounds", elem_id="refine-rounds")  # fmt: skip
            beam = gr.Slider(1, most[1], value=min(DEFAULTS["beam"], most[1]), step=1,
                             label="Beam (recipes kept)", elem_id="refine-beam")  # fmt: skip
            proposals = gr.Slider(
                1, most[2], value=min(DEFAULTS["proposals"], most[2]), step=1,
                label="Proposals per recipe", elem_id="refine-proposals",
            )  # fmt: skip
        with gr.Row():
            seeds = gr.Textbox(label="Seeds", value=DEFAULTS["seeds"], elem_id="refine-seeds")
            model = gr.Textbox(label="Model", value=DEFAULTS["model"], elem_id="refine-model")
            steps = gr.Number(label="Steps", value=DEFAULTS["steps"], precision=0,
                              elem_id="refine-steps")  # fmt: skip
            size = gr.Number(label="Size (px)", value=DEFAULTS["width"], precision=0,
                             elem_id="refine-size")  # fmt: skip
        with gr.Row():
            pause = gr.Checkbox(label="Pause after each round for my pick", elem_id="refine-pause")
            run = gr.Button("Refine", variant="primary", elem_id="refine-run")
            following = gr.Button("Next round", elem_id="refine-next")
            stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="refine-stop")
        status = gr.Markdown(elem_id="refine-status")
        grid = gr.Gallery(
            label="Latest round (rows: seeds; ★ the best). Click a picture to go on from it.",
            columns=6, height="auto", object_fit="contain", allow_preview=False,
            elem_id="refine-grid",
        )  # fmt: skip
        picked = gr.Markdown(elem_id="refine-picked")
        rounds_md = gr.Markdown(elem_id="refine-rounds-log")
        lineage = gr.Gallery(label="Lineage: from the start to the best (first seed)",
                             columns=6, height=200, elem_id="refine-lineage")  # fmt: skip
        lineage_md = gr.Markdown(elem_id="refine-lineage-table")
    return _RefineWidgets(
        [kind, pause, target, target_text, start, rounds, beam, proposals, seeds, model, steps,
         size],
        [status, grid, rounds_md, lineage, lineage_md, gr.State(None), gr.State([]), picked],
        start, use_builder, pause, run, following, stop,
    )  # fmt: skip


def build_refine_panel(
    engine: HostedEngine, store: OwnerGallery, interrogator: Reader, builder_prompt: gr.Textbox
) -> None:
    """The Compare tab's Refine mode: run, pick a picture of the latest round, next round."""
    limits = engine.hosting.limits
    most = (20, 8, 16) if limits is None else (
        limits.max_refine_rounds, limits.max_refine_beam, limits.max_refine_proposals
    )  # fmt: skip
    w = _refine_layout(most)
    run_state, picks, picked = w.outputs[5:]
    grid = w.outputs[1]

    def go(
        kind: str,
        pause: bool,
        target_path: Any,
        *texts_and_numbers: Any,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects it here)
    ) -> Any:
        names = ("target_text", "prompt", "rounds", "beam", "proposals", "seeds", "model",
                 "steps", "width")  # fmt: skip
        values = dict(zip(names, texts_and_numbers, strict=True))
        values |= {"height": values["width"], "target_kind": "" if kind == "auto" else kind}
        form = h.read_form(values, target_path)
        yield from rounds.start_refine(engine, store, interrogator(), form, pause, progress)

    def go_on(
        run: Any,
        chosen: Any,
        pause: bool,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects it here)
    ) -> Any:
        yield from rounds.next_round(run, chosen, pause, progress)

    def pick(run: Any, chosen: Any, evt: gr.SelectData) -> tuple[list[str], str]:
        return rounds.pick_cell(run, chosen, evt.index)

    started = _with_stop(w.run, w.stop).then(go, inputs=w.inputs, outputs=w.outputs, **PRIVATE)
    went_on = _with_stop(w.next, w.stop).then(
        go_on, inputs=[run_state, picks, w.pause], outputs=w.outputs, **PRIVATE
    )
    for event in (started, went_on):
        event.then(lambda: gr.Button(interactive=False), None, w.stop, **QUIET)
    grid.select(pick, inputs=[run_state, picks], outputs=[picks, picked], **PRIVATE)
    w.stop.click(None, cancels=[started, went_on], **PRIVATE)
    w.use_builder.click(lambda prompt: prompt, inputs=builder_prompt, outputs=w.start, **PRIVATE)
