"""The page's interrogation and refinement as plain functions (tested directly;
`ui.refine.tab` wires them). Bad input raises `gr.Error` with one sentence."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import closing
from typing import Any

import gradio as gr
from PIL import Image

from engine.errors import EngineError
from engine.interrogate import Interrogation, Interrogator
from engine.refine import Candidate, RefineProgress, RefineRound
from gallery.errors import GalleryError
from gallery.views import OwnerGallery
from prompts.recipe import Recipe, RecipeError
from ui.builder.handlers import recipe_values
from ui.forms import FormError
from ui.hosting.hosted_engine import HostedEngine
from ui.messages import md_text, shown
from ui.refine.form import RefineForm
from ui.refine.images import ImageInputError, open_picture
from ui.refine.readout import candidate_line, lineage_markdown, summary_markdown
from ui.refine.runner import RefineEvent, interrogate, stream_refinement

Caption = tuple[Image.Image, str]


def picture(path: Any) -> Image.Image:
    """An uploaded picture; `gr.Error` when it is none or not an image."""
    try:
        return open_picture(path)
    except ImageInputError as exc:
        raise gr.Error(str(exc)) from None


def read_upload(interrogator: Interrogator, path: Any) -> list[Any]:
    """The Builder's upload: the recipe in the Builder's fields, then how sure per part."""
    interrogation = interrogate(interrogator, picture(path))
    return [*recipe_values(interrogation.recipe), summary_markdown(interrogation)]


def read_generation(
    store: OwnerGallery, interrogator: Interrogator, generation_id: Any
) -> tuple[str, dict[str, Any], list[list[str]]]:
    """A gallery image (the Gallery's detail, a Compare cell) read into a recipe: the
    summary, the recipe (for "Send to Builder") and Compare rows (its own prompt, then the
    read one, for "Compare with…")."""
    if generation_id in (None, ""):
        raise gr.Error("Choose an image first.")
    try:
        record = store.get(int(generation_id))
    except GalleryError as exc:
        raise gr.Error(shown(exc)) from None
    except (TypeError, ValueError):
        raise gr.Error("Choose an image first.") from None
    if record.image is None or record.image.missing:
        raise gr.Error("That image's file is missing.")
    interrogation = interrogate(interrogator, picture(record.image.path))
    rows = [[f"#{record.id}", record.prompt], ["read back", interrogation.prompt]]
    return summary_markdown(interrogation), interrogation.recipe.to_dict(), rows


def recipe_to_builder(recipe: Any) -> list[Any]:
    """A read recipe as the Builder's widget values; `gr.Error` before one was read."""
    if not isinstance(recipe, Mapping) or not recipe:
        raise gr.Error("Read a picture first.")
    try:
        return recipe_values(Recipe.from_dict(dict(recipe)))
    except RecipeError as exc:
        raise gr.Error(shown(exc)) from None


def rows_to_compare(rows: Any) -> list[list[str]]:
    """The Compare rows of the last reading; `gr.Error` before one was made."""
    if not rows:
        raise gr.Error("Read a picture first.")
    return [list(row) for row in rows]


def interrogation_dict(interrogation: Interrogation) -> dict[str, Any]:
    """What the API returns: the recipe as Builder fields with each term's score."""
    return interrogation.to_dict()


# --- refinement ----------------------------------------------------------------------------


def read_form(values: Mapping[str, Any], target: Any) -> RefineForm:
    """The page's or the API's values as a form (`target`: an uploaded picture or None)."""
    image = picture(target) if target else None
    try:
        return RefineForm.read(values, image)
    except FormError as exc:
        raise gr.Error(shown(exc)) from None


def progress_text(update: RefineProgress) -> str:
    """`Round 2 of 3 · cells 4 of 8` for the status line."""
    cells = update.cells
    return (
        f"Round {update.round} of {update.rounds} · cells {cells.cells_done} of {cells.cells_total}"
    )


def round_grid(round_: RefineRound) -> list[Caption]:
    """A round as the Compare grid shows it: rows = seeds, columns = parents then variants,
    each captioned with its id, score and edits."""
    columns = [c for c in [*round_.parents, *round_.variants] if c.scores]
    seeds = max((len(c.cells) for c in columns), default=0)
    return [
        (c.cells[row].image, _caption(c, round_))
        for row in range(seeds)
        for c in columns
        if row < len(c.cells)
    ]


def _caption(candidate: Candidate, round_: RefineRound) -> str:
    mark = " ★" if round_.beam and candidate is round_.best else ""
    return f"{candidate.id}{mark} · {candidate.score:.1f} · {candidate.describe()}"


def lineage_strip(path: list[Candidate]) -> list[Caption]:
    """The path from the start to the best on the first seed, each step captioned."""
    return [(c.cells[0].image, f"{c.id} · {c.score:.1f} · {c.describe()}") for c in path if c.cells]


def run_refine(
    engine: HostedEngine,
    store: OwnerGallery,
    interrogator: Interrogator,
    form: RefineForm,
    progress: gr.Progress | None = None,
) -> Iterator[tuple[str, list[Caption], str, list[Caption], str]]:
    """The Refine button: yield (status, the latest round's grid, the rounds so far, the
    lineage strip, the lineage table) as the run goes; Stop keeps the finished rounds."""
    rounds: list[str] = []
    grid: list[Caption] = []
    try:
        with closing(stream_refinement(engine, store, form, interrogator)) as events:
            for event in events:
                yield from _shown(event, rounds, grid, progress)
    except (EngineError, GalleryError, FormError) as exc:
        raise gr.Error(shown(exc)) from None


def _shown(
    event: RefineEvent, rounds: list[str], grid: list[Caption], progress: gr.Progress | None
) -> Iterator[tuple[str, list[Caption], str, list[Caption], str]]:
    skip = gr.skip()
    if event.progress is not None:
        update = event.progress
        if progress is not None:
            cells = update.cells
            done = update.round + cells.cells_done / max(cells.cells_total, 1)
            progress(done / (update.rounds + 1), desc=progress_text(update))
        yield progress_text(update), skip, skip, skip, skip
    elif event.round is not None:
        round_ = event.round
        grid[:] = round_grid(round_)
        lines = [candidate_line(c) for c in round_.variants if c.scores]
        rounds.append(
            f"**Round {round_.index}** (experiment {event.experiment_id}): best "
            f"{md_text(round_.best.id)} {round_.best.score:.2f}\n\n"
            + "\n".join(f"- {md_text(line)}" for line in lines)
        )
        yield f"Round {round_.index} done.", list(grid), "\n\n".join(rounds), skip, skip
    elif event.outcome is not None:
        outcome = event.outcome
        path = outcome.refiner.lineage() if outcome.refiner.rounds else []
        how = "Stopped" if outcome.cancelled else "Finished"
        status = f"{how} after {len(outcome.experiments)} saved round(s)."
        if path:
            status += f" Best: {path[-1].id} ({path[-1].score:.2f}): {md_text(path[-1].prompt)}"
        yield status, skip, skip, lineage_strip(path), lineage_markdown(path)
