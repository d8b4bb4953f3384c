"""A refinement on the page, round by round (plain functions; `ui.refine.tab` wires them).

The Refine button starts a run: to the end, or, with "pause" (always with the target "my
picks"), up to the artist's turn after each round. A click on a picture of the latest round
picks its variant (a second click drops it); "Next round" goes on from the picks, else from
the score's best. The run (`RefineRun`) stays in the page's session between the clicks.
Every handler yields `Shown`: status, the latest round's grid, the rounds' log, the lineage
strip, the lineage table, the run, the picks and the line that says what was picked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from typing import Any

import gradio as gr
from PIL import Image

from engine.errors import EngineError
from engine.interrogate import Interrogator
from engine.refine import Candidate, RefineProgress, RefineRound
from gallery.errors import GalleryError
from gallery.views import OwnerGallery
from ui.forms import FormError
from ui.hosting.hosted_engine import HostedEngine
from ui.messages import md_text, shown
from ui.refine.form import RefineForm
from ui.refine.readout import candidate_line, chosen_by, lineage_markdown
from ui.refine.runner import RefineEvent, RefineRun, stream_refinement

Caption = tuple[Image.Image, str]
Shown = tuple[Any, Any, Any, Any, Any, Any, Any, Any]
NO_RUN = "Start a refinement first (the Refine button)."


def start_refine(
    engine: HostedEngine,
    store: OwnerGallery,
    interrogator: Interrogator,
    form: RefineForm,
    pause: bool = False,
    progress: gr.Progress | None = None,
) -> Iterator[Shown]:
    """The Refine button: a new run, shown round by round; Stop keeps the finished rounds."""
    try:
        run = RefineRun(engine, store, form, interrogator)
    except (EngineError, GalleryError, FormError) as exc:
        raise gr.Error(shown(exc)) from None
    yield from _play(run, (), pause, progress)


def next_round(
    run: Any, picks: Any, pause: bool = True, progress: gr.Progress | None = None
) -> Iterator[Shown]:
    """The "Next round" button: the run goes on from the picks (else from the score's best)."""
    if not isinstance(run, RefineRun) or run.last is None:
        raise gr.Error(NO_RUN)
    if run.over:
        raise gr.Error("This refinement has run all its rounds or was stopped; start a new one.")
    picks = [str(p) for p in picks or []]
    if not picks and run.refiner.finished:
        if not run.target.scored:
            raise gr.Error("Pick a variant first: click its picture in the latest round.")
        raise gr.Error("No variant beat its parent: click a picture to go on from it.")
    yield from _play(run, picks, pause, progress)


def pick_cell(run: Any, picks: Any, index: Any) -> tuple[list[str], str]:
    """A click on the latest round's picture `index`: its variant joins the picks (or leaves
    them, clicked again); returns the picks and the line that says so."""
    if not isinstance(run, RefineRun) or run.last is None:
        raise gr.Error(NO_RUN)
    ids = grid_ids(run.last)
    if not isinstance(index, int) or not 0 <= index < len(ids):
        raise gr.Error("Click a picture of the latest round.")
    chosen, picks = ids[index], [str(p) for p in picks or []]
    picks = [p for p in picks if p != chosen] if chosen in picks else [*picks, chosen]
    return picks, picked_line(run, picks)


def picked_line(run: RefineRun, picks: Sequence[str]) -> str:
    """What "Next round" will go on from."""
    last = run.last
    if last is None or run.over:
        return ""
    if picks:
        best = f" instead of the score's {last.best.id}" if last.beam and run.target.scored else ""
        return f"Your pick: {', '.join(picks)}. Next round goes on from it{best}."
    if not run.target.scored:
        return "Click a picture to pick the variant the next round goes on from."
    if run.refiner.finished:
        return "No variant beat its parent. Click a picture to go on from it anyway."
    return f"No pick: the next round goes on from the score's best ({last.best.id})."


def progress_text(update: RefineProgress) -> str:
    """`Round 2 of 3 · cells 4 of 8` for the status line."""
    cells = update.cells
    return (
        f"Round {update.round} of {update.rounds} · cells {cells.cells_done} of {cells.cells_total}"
    )


def _columns(round_: RefineRound) -> list[Candidate]:
    return [c for c in [*round_.parents, *round_.variants] if c.scores]


def grid_ids(round_: RefineRound) -> list[str]:
    """The candidate of each picture of `round_grid`, in its order."""
    columns = _columns(round_)
    seeds = max((len(c.cells) for c in columns), default=0)
    return [c.id for row in range(seeds) for c in columns if row < len(c.cells)]


def round_grid(round_: RefineRound) -> list[Caption]:
    """A round as the Compare grid shows it: rows = seeds, columns = parents then variants,
    each captioned with its id, score, edits; ★ the best, "picked" a parent the artist
    picked."""
    columns = _columns(round_)
    seeds = max((len(c.cells) for c in columns), default=0)
    return [
        (c.cells[row].image, _caption(c, round_))
        for row in range(seeds)
        for c in columns
        if row < len(c.cells)
    ]


def _caption(candidate: Candidate, round_: RefineRound) -> str:
    mark = " ★" if round_.beam and candidate is round_.best else ""
    if candidate in round_.parents and candidate.picked:
        mark += " · picked"
    return f"{candidate.id}{mark} · {candidate.score:.1f} · {candidate.describe()}"


def lineage_strip(path: list[Candidate]) -> list[Caption]:
    """The path from the start to the best on the first seed, each step captioned."""
    return [
        (c.cells[0].image, f"{c.id} · {c.score:.1f} · {chosen_by(c)} · {c.describe()}")
        for c in path
        if c.cells
    ]


def rounds_markdown(run: RefineRun) -> str:
    """Each saved round: its experiment, what it went on from (picked or by score), the best
    and every variant's line."""
    parts = []
    for round_ in run.refiner.rounds:
        if round_.index not in run.saved:
            continue
        parents = ", ".join(f"{c.id} ({chosen_by(c)})" for c in round_.parents)
        lines = [candidate_line(c) for c in round_.variants if c.scores]
        top = max(_columns(round_), key=lambda c: c.score)
        parts.append(
            f"**Round {round_.index}** (experiment {run.saved[round_.index]})"
            + (f" from {md_text(parents)}" if parents else "")
            + f": best by score {md_text(top.id)} {top.score:.2f}\n\n"
            + "\n".join(f"- {md_text(line)}" for line in lines)
        )
    return "\n\n".join(parts)


def _play(
    run: RefineRun, picks: Sequence[str], pause: bool, progress: gr.Progress | None
) -> Iterator[Shown]:
    pause = pause or not run.target.scored
    try:
        with closing(stream_refinement(run, picks, pause=pause)) as events:
            for event in events:
                yield _shown(run, event, progress)
    except (EngineError, GalleryError, FormError) as exc:
        raise gr.Error(shown(exc)) from None


def _shown(run: RefineRun, event: RefineEvent, progress: gr.Progress | None) -> Shown:
    skip = gr.skip()
    if event.progress is not None:
        update = event.progress
        if progress is not None:
            cells = update.cells
            done = update.round + cells.cells_done / max(cells.cells_total, 1)
            progress(done / (update.rounds + 1), desc=progress_text(update))
        return progress_text(update), skip, skip, skip, skip, skip, skip, skip
    if event.round is not None:
        index = event.round.index
        grid = gr.Gallery(round_grid(event.round), selected_index=None)  # no pick yet
        log = rounds_markdown(run)
        return f"Round {index} done.", grid, log, skip, skip, run, [], picked_line(run, [])
    path = run.refiner.lineage() if run.refiner.rounds else []
    return _status(run), skip, skip, lineage_strip(path), lineage_markdown(path), run, [], skip


def _status(run: RefineRun) -> str:
    outcome = run.outcome()
    saved = len(outcome.experiments)
    if outcome.cancelled:
        text = f"Stopped after {saved} saved round(s)."
    elif run.over or (run.refiner.finished and run.target.scored):
        text = f"Finished after {saved} saved round(s)."
    else:
        text = f"Round {run.refiner.rounds[-1].index} of {run.refiner.spec.rounds} done: your turn."
    scored = run.target.scored and run.refiner.rounds and run.refiner.rounds[-1].beam
    best = run.refiner.best if scored else None
    if best is not None:
        text += f" Best: {best.id} ({best.score:.2f}): {md_text(best.prompt)}"
    return text
