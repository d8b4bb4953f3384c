"""The Compare tab's handlers as plain functions (tested directly; `ui.compare.tab` wires them).

Variants come as rows `[label, prompt]`; a blank label becomes the prompt, shortened. The grid
is rows = seeds by columns = (axis value, variant); a `gr.Gallery` shows it row by row, so the
selected index maps back to (row, column). Bad input raises `gr.Error` with one sentence.
"""

from __future__ import annotations

import html
import random
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from engine.compare_plan import AXIS_LABELS
from engine.compare_run import CompareProgress
from engine.errors import EngineError
from engine.image_metrics import HEAT_MAP_FULL_SCALE, difference_heat_map, heat_colours
from gallery.errors import GalleryError
from gallery.experiment_state import FINISHED, INTERRUPTED, RUNNING, ExperimentState
from gallery.views import OwnerGallery
from prompts.styles import StyleError, StyleLibrary
from prompts.variants import (
    MAX_VARIANTS,
    VariantError,
    default_label,
    prompt_matrix,
    prompt_search_replace,
    style_sweep,
)
from ui.compare.contact_sheet import contact_sheet_png
from ui.compare.runner import (
    ExperimentOutcome,
    RunEvent,
    stream_experiment,
    stream_missing_cells,
)
from ui.compare.view import ExperimentView, load_view
from ui.forms import NO_AXIS, CompareForm, FormError, variant_rows
from ui.hosting.hosted_engine import HostedEngine
from ui.messages import error_line, md_text, shown
from ui.model_settings import settings_for

Store = OwnerGallery
GENERATORS = ("Prompt S/R", "Prompt matrix", "Style sweep")
AXIS_CHOICES = [(NO_AXIS, NO_AXIS), *((label, name) for name, label in AXIS_LABELS.items())]
NOT_MEANINGFUL = (
    "⚠️ CLIP scores here come from a **{name}** and are **not meaningful** "
    "(no real or trained CLIP is available)."
)
TAG_COLOURS = {"+": "#1b7f2a", "-": "#b3261e", "~": "#b06000"}


# --- variants ------------------------------------------------------------------------------


def generate_variants(
    library: StyleLibrary | None,
    mode: str,
    base_prompt: str,
    values: str,
    style_names: Sequence[str] | None,
    negative: str = "",
) -> list[list[str]]:
    """Rows made by a generator (Prompt S/R, prompt matrix, style sweep) from the base prompt."""
    try:
        if mode == "Prompt S/R":
            made = prompt_search_replace(base_prompt or "", values or "", negative)
        elif mode == "Prompt matrix":
            made = prompt_matrix(base_prompt or "", negative)
        elif mode == "Style sweep":
            if library is None:
                raise VariantError("No style library is available.")
            made = style_sweep(
                base_prompt or "", [library.get(n) for n in style_names or []], negative
            )
        else:
            raise VariantError(f"Choose a generator: {', '.join(GENERATORS)}.")
    except (VariantError, StyleError) as exc:
        raise gr.Error(str(exc), duration=None) from None
    return [[variant.label, variant.prompt] for variant in made]


def add_variant(table: Any, prompt: str, label: str = "") -> list[list[str]]:
    """The rows with one more variant (e.g. the Builder's composed prompt)."""
    rows = variant_rows(table)
    if not (prompt or "").strip():
        raise gr.Error(
            "There is no prompt to add; compose one in the Builder first.", duration=None
        )
    if len(rows) >= MAX_VARIANTS:
        raise gr.Error(f"A comparison takes at most {MAX_VARIANTS} variants.", duration=None)
    return [*rows, [label or default_label(prompt), prompt.strip()]]


def compare_with(store: Store, generation_id: Any) -> tuple[Any, ...]:
    """A gallery image's recipe as variant A (plus an empty B), with its seed, model and
    settings."""
    try:
        record = store.get(int(generation_id))
    except GalleryError as exc:
        raise gr.Error(str(exc), duration=None) from None
    except (TypeError, ValueError):
        raise gr.Error("Choose a gallery image (its id) to compare with.", duration=None) from None
    rows = [[f"#{record.id}", record.prompt], ["B", record.prompt]]
    seed = "" if record.seed is None else str(record.seed)
    return (rows, seed, record.negative_prompt, *record_settings(record, record.model_id or ""))


def record_settings(record: Any, model: str) -> tuple[Any, ...]:
    """(model, steps, CFG, width, height, scheduler) a gallery record was made with; what it
    lacks, from its model's defaults (`model` when the record names none)."""
    model = record.model_id or model
    start = settings_for(model)
    return (
        model,
        record.steps or start.steps,
        record.guidance_scale if record.guidance_scale is not None else start.guidance_scale,
        record.width or start.width,
        record.height or start.height,
        record.scheduler or start.scheduler,
    )


# --- running ---------------------------------------------------------------------------------


def read_form(values: Mapping[str, Any]) -> CompareForm:
    """The page's or the API's values as a form; gr.Error with one sentence for bad input."""
    try:
        return CompareForm.read(values)
    except FormError as exc:
        raise gr.Error(str(exc), duration=None) from None


def progress_text(update: CompareProgress) -> str:
    """`Cells 2 of 8 · 30 % · current batch (4 cells) step 3/20` for the status line: the
    share counts the steps of the batch in flight, so a first batch does not read as 0."""
    text = f"Cells {update.cells_done} of {update.cells_total} · {update.fraction:.0%}"
    if update.steps:
        text += f" · current batch ({update.batch} cells) step {update.step}/{update.steps}"
    return text


def run_comparison(
    engine: HostedEngine,
    store: Store,
    form: CompareForm,
    progress: gr.Progress | None = None,
    stop: threading.Event | None = None,
) -> Iterator[tuple[Any, Any, Any]]:
    """The Run and "Which words matter?" buttons: yield (status, preview, experiment id)
    while the experiment runs, then the final one. Setting `stop` ends it after the step in
    flight, keeping the finished cells."""
    size = (form.settings.width, form.settings.height)
    try:
        with closing(stream_experiment(engine, store, form, stop)) as events:
            yield from _run_outputs(events, store, size, progress)
    except (EngineError, GalleryError) as exc:
        raise gr.Error(shown(exc), duration=None) from None


def run_missing(
    engine: HostedEngine,
    store: Store,
    experiment_id: Any,
    progress: gr.Progress | None = None,
    stop: threading.Event | None = None,
) -> Iterator[tuple[Any, Any, Any]]:
    """The "Run the missing cells" button: make what an interrupted experiment lacks, with
    its own seeds and settings; yield (status, preview, experiment id) like a run (`stop`
    as for `run_comparison`)."""
    if experiment_id in (None, ""):
        raise gr.Error("Choose a saved experiment first.")
    try:
        settings = store.get_experiment(int(experiment_id)).settings
        size = (int(settings.get("width", 512)), int(settings.get("height", 512)))
        with closing(stream_missing_cells(engine, store, int(experiment_id), stop)) as events:
            yield from _run_outputs(events, store, size, progress)
    except (EngineError, GalleryError) as exc:
        raise gr.Error(shown(exc), duration=None) from None


def _run_outputs(
    events: Iterator[RunEvent],
    store: Store,
    size: tuple[int, int],
    progress: gr.Progress | None,
) -> Iterator[tuple[Any, Any, Any]]:
    """(status, preview, experiment id) for each event of a running experiment."""
    for event in events:
        if event.progress is not None:
            update = event.progress
            if progress is not None:
                progress(update.fraction, desc="Comparing", unit="cells")
            preview = None
            if update.preview is not None:
                preview = update.preview.resize(size, Image.Resampling.NEAREST)
            yield progress_text(update), preview if preview else gr.skip(), gr.skip()
        elif event.outcome is not None:
            yield _outcome_outputs(store, event.outcome)


def _outcome_outputs(store: Store, outcome: ExperimentOutcome) -> tuple[Any, Any, Any]:
    """The final status: what was saved, or, stopped before a cell finished, nothing."""
    experiment = outcome.experiment
    done = len(experiment.cells)
    if not outcome.cancelled:
        status = f"Saved experiment #{experiment.id}: {done} image(s)."
        if experiment.state.status == INTERRUPTED:
            status += f" {state_text(experiment.state)}"
        return status, gr.skip(), experiment.id
    if done == 0:
        store.delete_experiment(experiment.id)
        return "Stopped before the first cell finished; nothing was saved.", None, None
    planned = len(experiment.seeds) * len(experiment.variants) * len(experiment.axis_values)
    status = (
        f"Stopped: kept {done} of {planned} cells as experiment #{experiment.id} "
        "(the finished ones, scored)."
    )
    return status, gr.skip(), experiment.id


def error_outputs(message: str) -> tuple[Any, Any, Any]:
    """A failed run's outputs: the sentence on the status line, the preview and the open
    experiment left as they are."""
    return error_line(message), gr.skip(), gr.skip()


# --- showing an experiment ---------------------------------------------------------------


def experiment_choices(store: Store) -> list[tuple[str, int]]:
    """(label, id) of every saved experiment, newest first."""
    return [
        (f"#{e.id} {e.name} ({e.kind}, {_count_or_state(e.state, len(e.cells))})", e.id)
        for e in store.list_experiments()
    ]


def _count_or_state(state: ExperimentState, images: int) -> str:
    return f"{images} images" if state.status == FINISHED else str(state)


def state_text(state: ExperimentState) -> str:
    """One sentence on an experiment that is not finished (empty when it is)."""
    if state.status == RUNNING:
        return f"**Running**: {state.made} of {state.expected} cells made so far."
    if state.status == INTERRUPTED:
        return (
            f"**Interrupted**: {state.made} of {state.expected} cells made; "
            "*Run the missing cells* completes it."
        )
    return ""


def _view(store: Store, experiment_id: Any) -> ExperimentView:
    try:
        return load_view(store, int(experiment_id))
    except GalleryError as exc:
        raise gr.Error(str(exc), duration=None) from None
    except (TypeError, ValueError):
        raise gr.Error("Open a saved experiment first.", duration=None) from None


def header_html(view: ExperimentView) -> str:
    """Column headers (one per variant): label and the word diff against the first variant,
    coloured, escaped; with a second axis, a line saying what the rows are."""
    columns = len(view.variants)
    cells = []
    for variant_index, variant in enumerate(view.variants):
        pieces = []
        for text, tag in view.header_diff(variant_index):
            escaped = html.escape(text)
            if tag is None:
                pieces.append(escaped)
            else:
                style = f"color:{TAG_COLOURS[tag]}"
                if tag == "-":
                    style += ";text-decoration:line-through"
                kind = {"+": "added", "-": "removed", "~": "reweighted"}[tag]
                pieces.append(f'<span class="diff-{kind}" style="{style}">{escaped}</span>')
        cells.append(
            f'<div class="compare-column"><b>{html.escape(variant.name)}</b>'
            f'<div class="compare-diff">{"".join(pieces)}</div></div>'
        )
    rows = ""
    if _has_axis(view):
        values = ", ".join(_value_text(v) for v in view.axis_values)
        rows = (
            f'<div class="compare-rows">Rows: each seed × {html.escape(_axis_label(view))} '
            f"({html.escape(values)}) · columns: variants</div>"
        )
    return (
        f'{rows}<div class="compare-header" style="display:grid;gap:8px;'
        f'grid-template-columns:repeat({columns},minmax(0,1fr))">{"".join(cells)}</div>'
    )


def _has_axis(view: ExperimentView) -> bool:
    return bool(view.experiment.axis.get("values"))


def _axis_label(view: ExperimentView) -> str:
    name = str(view.experiment.axis.get("name", ""))
    return AXIS_LABELS.get(name, name)


def _value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def grid_order(view: ExperimentView) -> list[tuple[int, int]]:
    """(row, column) of each grid place, as the page lays them out, A1111's X/Y plot way:
    one column per variant; one row per seed, or, with a second axis, per seed and axis
    value (seed major)."""
    axes = range(len(view.axis_values)) if _has_axis(view) else [None]
    return [
        (row, view.column_of(variant_index, axis))
        for row in range(view.rows)
        for axis in axes
        for variant_index in range(len(view.variants))
    ]


def grid_label(view: ExperimentView) -> str:
    """The grid's label: what its rows and columns are."""
    if _has_axis(view):
        return f"Rows: seed × {_axis_label(view)} · columns: variants (click two cells to compare)"
    return "Rows: seeds · columns: variants (click two cells to compare them)"


def heat_legend_markup(full_scale: float = HEAT_MAP_FULL_SCALE) -> str:
    """The heat map's colour scale (its own colours, sampled) with ΔE marks under it."""
    marks = np.linspace(0.0, full_scale, 7)
    stops = ", ".join(
        f"rgb({r}, {g}, {b}) {100 * i / 6:.1f}%"
        for i, (r, g, b) in enumerate(heat_colours(marks, full_scale).tolist())
    )
    return (
        '<div class="heat-legend">'
        f'<div class="heat-legend-bar" style="background: linear-gradient(to right, {stops})">'
        "</div>"
        '<div class="heat-legend-marks"><span>ΔE 0 · same</span>'
        f"<span>{full_scale / 2:g}</span><span>≥ {full_scale:g} · very different</span></div>"
        "<small>Per-pixel colour difference (CIE76 ΔE) against the first variant; about 2 is "
        "the smallest difference an eye sees.</small></div>"
    )


def heat_legend(heat: bool) -> Any:
    """The legend shows while the heat map does."""
    return gr.HTML(visible=bool(heat))


def grid_items(view: ExperimentView, heat: bool = False) -> list[tuple[Any, str]]:
    """Gallery items in `grid_order`; with `heat`, each cell's ΔE heat map against the first
    variant's cell on the same seed (and axis value); the first variant stays as it is."""
    items: list[tuple[Any, str]] = []
    for row, column in grid_order(view):
        axis, variant_index = view.columns[column]
        cell = view.cell(row, column)
        caption = f"seed {view.experiment.seeds[row]}"
        if axis is not None:
            caption += f" · {_axis_label(view)} {_value_text(view.axis_values[axis])}"
        caption += f" · {view.variants[variant_index].name}"
        if cell is None or cell.image_path is None:
            items.append((Image.new("RGB", (64, 64), (235, 235, 235)), caption + " · not made"))
            continue
        caption += f" · #{cell.generation.id}"
        if cell.score is not None:
            caption += f" · CLIP {cell.score.value:.1f}"
        image: Any = str(cell.image_path)
        base = view.cell(row, view.column_of(0, axis))
        if heat and variant_index and base is not None and base.image_path is not None:
            with Image.open(base.image_path) as a, Image.open(cell.image_path) as b:
                image = difference_heat_map(a.convert("RGB"), b.convert("RGB"))
            caption += " · ΔE heat map"
        items.append((image, caption))
    return items


def ranking_rows(view: ExperimentView) -> list[list[Any]]:
    """Per variant: label, Bradley–Terry strength [interval], votes, mean CLIP and the paired
    CLIP difference to variant A [interval]."""
    ranks = {r.variant: r for r in view.ranking()}
    order = sorted(range(len(view.variants)), key=lambda i: -ranks[i].strength)
    differences = dict(view.score_differences())
    rows = []
    for index in order:
        rank = ranks[index]
        scores = [
            c.score.value for c in view.cells.values() if c.variant_index == index and c.score
        ]
        mean = f"{sum(scores) / len(scores):.2f}" if scores else ""
        delta = ""
        if index in differences and differences[index].pairs:
            d = differences[index]
            delta = f"{d.mean:+.2f} [{d.low:+.2f}, {d.high:+.2f}] (n={d.pairs})"
        elif index == 0:
            delta = "reference"
        winner = " 🏆" if view.variants[index].is_winner else ""
        rows.append(
            [
                view.variants[index].name + winner,
                f"{rank.strength:+.2f} [{rank.low:+.2f}, {rank.high:+.2f}]",
                f"{rank.wins}–{rank.losses}",
                mean,
                delta,
            ]
        )
    return rows


def ablation_rows(view: ExperimentView) -> list[list[Any]]:
    """For an ablation: term, mean distance, spread, SSIM, ΔE, biggest change first."""
    if view.experiment.kind != "ablation":
        return []
    return [
        [
            i.term,
            round(i.mean_distance, 4),
            round(i.spread, 4),
            round(i.mean_ssim, 4),
            round(i.mean_delta_e, 2),
        ]
        for i in view.ablation()
    ]


def ablation_plot_value(rows: list[list[Any]]) -> Any:
    """The bar chart's data: one bar per term (mean distance)."""
    import pandas as pd

    return pd.DataFrame(
        {"term": [r[0] for r in rows], "change": [r[1] for r in rows]}
        if rows
        else {"term": [], "change": []}
    )


def summary_markdown(view: ExperimentView) -> str:
    """Name, settings, seeds, axis and the note about CLIP scores."""
    e = view.experiment
    s = e.settings
    parts = [
        f"**#{e.id} {md_text(e.name)}** · {e.kind} · seeds {', '.join(map(str, e.seeds))}",
        f"{md_text(str(s.get('model', '')))} · {s.get('width')}x{s.get('height')} · "
        f"{s.get('steps')} steps · CFG {s.get('guidance_scale')} · "
        f"{md_text(str(s.get('scheduler', '')))}",
    ]
    if e.axis.get("values"):
        parts.append(
            f"Axis {AXIS_LABELS.get(e.axis['name'], e.axis['name'])}: "
            + ", ".join(md_text(str(v)) for v in e.axis["values"])
        )
    if e.state.status != FINISHED:
        parts.append(state_text(e.state))
    if view.scores_meaningful is False:
        parts.append(NOT_MEANINGFUL.format(name=md_text(view.scorer_name)))
    elif view.scorer_name:
        parts.append(f"CLIP scores by {md_text(view.scorer_name)}.")
    return "\n\n".join(parts)


def show_experiment(store: Store, experiment_id: Any, heat: bool = False) -> tuple[Any, ...]:
    """Everything the result panel shows for one experiment."""
    if experiment_id in (None, ""):
        return (
            "",
            "",
            gr.Gallery(value=[]),
            [],
            [],
            gr.BarPlot(value=ablation_plot_value([]), visible=False),
            gr.Dropdown(choices=[]),
        )
    view = _view(store, experiment_id)
    ablation = ablation_rows(view)
    return (
        summary_markdown(view),
        header_html(view),
        gr.Gallery(
            value=grid_items(view, heat), columns=len(view.variants), label=grid_label(view)
        ),
        ranking_rows(view),
        ablation,
        # Drawn only for an ablation: an empty chart draws as blank axes ("Infinite extent").
        gr.BarPlot(value=ablation_plot_value(ablation), visible=bool(ablation)),
        gr.Dropdown(choices=[v.name for v in view.variants], value=None),
    )


# --- judging -------------------------------------------------------------------------------


def cell_at(view: ExperimentView, index: int) -> tuple[int, int]:
    """(row, column) of the gallery index."""
    return grid_order(view)[int(index)]


def cell_generation_id(store: Store, experiment_id: Any, index: int | None) -> int | None:
    """The gallery id of the grid cell at `index` (None where that cell was not made)."""
    if index is None or experiment_id is None:
        return None
    view = _view(store, experiment_id)
    cell = view.cell(*cell_at(view, index))
    return None if cell is None else cell.generation.id


def pick_cell(
    store: Store, experiment_id: Any, first: Any, index: int | None
) -> tuple[Any, Any, str]:
    """Clicking cells: the first is remembered, the second opens both in the slider."""
    if index is None:
        return gr.skip(), first, ""
    view = _view(store, experiment_id)
    row, column = cell_at(view, index)
    cell = view.cell(row, column)
    if cell is None or cell.image_path is None:
        raise gr.Error("That cell was not made.", duration=None)
    label = md_text(view.column_label(column))
    info = f"#{cell.generation.id} · seed {cell.generation.seed} · {label}"
    if first is None or first == [row, column]:
        return gr.skip(), [row, column], f"Picked {info}; click a second cell to compare."
    other = view.cell(*first)
    if other is None or other.image_path is None:
        return gr.skip(), [row, column], f"Picked {info}."
    pair = (Image.open(other.image_path).convert("RGB"), Image.open(cell.image_path).convert("RGB"))
    left = f"#{other.generation.id} {md_text(view.column_label(first[1]))}"
    return pair, None, f"Slider: {left} ⟷ {info}"


def next_blind_pair(
    store: Store, experiment_id: Any, rng: random.Random | None = None
) -> tuple[Any, ...]:
    """Two images of the same seed (and axis value), unlabelled, in random order; a pair not
    yet voted on first (a second vote on a pair replaces the first)."""
    view = _view(store, experiment_id)
    rng = rng or random.SystemRandom()
    candidates = []
    for row in range(view.rows):
        for axis in range(len(view.axis_values)):
            axis_index = axis if view.experiment.axis.get("values") else None
            made = [
                i for i in range(len(view.variants))
                if (c := view.cell(row, view.column_of(i, axis_index))) and c.image_path
            ]  # fmt: skip
            candidates += [
                (row, axis_index, (a, b)) for n, a in enumerate(made) for b in made[n + 1 :]
            ]
    if not candidates:
        raise gr.Error("Blind voting needs two variants made on the same seed.", duration=None)
    voted = {
        (v.seed_index, v.axis_index, frozenset((v.winner_variant_id, v.loser_variant_id)))
        for v in view.votes
        if v.loser_variant_id is not None
    }
    fresh = [
        (row, axis, pair)
        for row, axis, pair in candidates
        if (row, axis, frozenset(view.variants[i].id for i in pair)) not in voted
    ]
    row, axis_index, two = rng.choice(fresh or candidates)
    left, right = rng.sample(two, 2)
    images = [view.cell(row, view.column_of(i, axis_index)) for i in (left, right)]
    pair = {
        "experiment": view.experiment.id,
        "row": row,
        "axis": axis_index,
        "left": view.variants[left].id,
        "right": view.variants[right].id,
    }
    votes = len(view.votes)
    return (
        str(images[0].image_path),  # type: ignore[union-attr]
        str(images[1].image_path),  # type: ignore[union-attr]
        pair,
        f"Which is better? ({votes} vote(s) so far)",
    )


def blind_vote(store: Store, pair: Any, choice: str) -> str:
    """Record the blind choice ("left" or "right") as a pairwise vote."""
    if not isinstance(pair, dict) or choice not in ("left", "right"):
        raise gr.Error("Start blind voting first.", duration=None)
    winner, loser = (
        (pair["left"], pair["right"]) if choice == "left" else (pair["right"], pair["left"])
    )
    try:
        store.add_vote(
            pair["experiment"],
            winner,
            loser,
            seed_index=pair["row"],
            axis_index=pair["axis"],
            blind=True,
        )
    except GalleryError as exc:
        raise gr.Error(str(exc), duration=None) from None
    return "Vote recorded."


def mark_winner(store: Store, experiment_id: Any, label: str | None) -> str:
    """Mark the overall winner by its label (None clears it)."""
    view = _view(store, experiment_id)
    variant = next((v for v in view.variants if v.name == label), None)
    if label and variant is None:
        raise gr.Error("Choose one of this experiment's variants.", duration=None)
    store.set_winner(view.experiment.id, variant.id if variant else None)
    return f"Winner: {md_text(label)}." if label else "Winner cleared."


def mark_row_best(store: Store, experiment_id: Any, generation_id: Any) -> str:
    """Record the last cell clicked (its gallery id) as the best of its seed row (and axis
    value); a second click, on this cell or another of the row, changes that vote."""
    view = _view(store, experiment_id)
    cell = next(
        (c for c in view.experiment.cells if generation_id is not None
         and c.generation_id == generation_id),
        None,
    )  # fmt: skip
    if cell is None:
        raise gr.Error("Click a cell first; it becomes the best of its row.", duration=None)
    store.add_vote(
        view.experiment.id, cell.variant_id, seed_index=cell.seed_index, axis_index=cell.axis_index
    )
    name = md_text(view.experiment.variant(cell.variant_id).name)
    seed = view.experiment.seeds[cell.seed_index] if cell.seed_index is not None else "?"
    return f"Best on seed {seed}: {name}."


# --- keeping -------------------------------------------------------------------------------


def delete_experiment(store: Store, experiment_id: Any, with_images: bool) -> str:
    """Delete the open experiment (and its images when asked)."""
    view = _view(store, experiment_id)
    store.delete_experiment(view.experiment.id, with_images=bool(with_images))
    return f"Deleted experiment #{view.experiment.id}" + (
        " and its images." if with_images else "."
    )


def export_experiment(store: Store, experiment_id: Any) -> str:
    """Write the open experiment's zip (contact sheet, cells, CSVs); return its path."""
    view = _view(store, experiment_id)
    folder = Path(tempfile.mkdtemp(prefix="atelier-experiment-"))
    path = folder / f"experiment-{view.experiment.id}.zip"
    try:
        store.export_experiment(view.experiment.id, path, contact_sheet_png(view))
    except GalleryError as exc:
        raise gr.Error(str(exc), duration=None) from None
    return str(path)
