"""Running a comparison, read top to bottom: check the plan, lay out the cells, group them into
batched pipeline calls (`Engine.generate_rows`: one prompt row and one seeded generator per
image), report progress over the whole grid, hand each finished batch on, stop between steps.

Cell [seed, variant] equals a single generation of that seed and prompt (within one level),
because every row keeps its own CPU generator. Stop keeps the cells that are finished.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from PIL import Image

from engine.compare_plan import DEFAULT_MAX_BATCH, Cell, ComparePlan, batches
from engine.errors import GenerationCancelled, InvalidRequestError
from engine.generate import Engine
from engine.request import ImageSpec
from engine.result import GenerationResult, ProgressUpdate

CellPosition = tuple[int, int, int | None]
"""(seed row, variant index, axis column or None): where a cell sits in the grid."""


@dataclass(frozen=True)
class CellImage:
    """A finished cell: its image and the batch result it came from (row `index`)."""

    cell: Cell
    image: Image.Image
    result: GenerationResult
    index: int


@dataclass(frozen=True)
class CompareProgress:
    """Cells done of cells total, the current batch's step, and a preview of its first cell."""

    cells_done: int
    cells_total: int
    step: int = 0
    steps: int = 0
    preview: Image.Image | None = None
    batch: int = 0  # images in the current call

    @property
    def fraction(self) -> float:
        """Share of the whole grid done, counting the current call's steps."""
        if not self.cells_total:
            return 0.0
        within = self.step / self.steps * self.batch if self.steps else 0.0
        return min(1.0, (self.cells_done + within) / self.cells_total)


@dataclass
class CompareRun:
    """All finished cells (in grid order) and whether Stop ended the run early."""

    cells: list[CellImage] = field(default_factory=list)
    cancelled: bool = False


def run_plan(
    engine: Engine,
    plan: ComparePlan,
    *,
    max_batch: int = DEFAULT_MAX_BATCH,
    on_progress: Callable[[CompareProgress], None] | None = None,
    on_batch: Callable[[list[CellImage]], None] | None = None,
    cancel: threading.Event | None = None,
    only: Collection[CellPosition] | None = None,
) -> CompareRun:
    """Generate every cell of `plan`, or only those at the positions `only` (the missing
    cells of an interrupted run); raises EngineError subclasses (not for Stop)."""
    # 1. Check the whole plan before any work.
    plan.validate()
    cells = plan.cells()
    if only is not None:
        cells = [c for c in cells if (c.seed_index, c.variant_index, c.axis_index) in only]
    # 2. Resolve wildcards per cell seed, as a single generation of that seed would.
    try:
        resolved = {
            (cell.prompt, cell.negative_prompt, cell.seed): (
                engine.resolve_prompt(cell.prompt, cell.seed),
                engine.resolve_prompt(cell.negative_prompt, cell.seed),
            )
            for cell in cells
        }
    except ValueError as exc:  # an unknown wildcard list, a malformed {a|b}
        raise InvalidRequestError(str(exc)) from exc
    # 3. Group cells that share model and settings into calls of at most `max_batch` images.
    run = CompareRun()
    total = len(cells)
    for chunk in batches(cells, max_batch):
        if cancel is not None and cancel.is_set():
            run.cancelled = True
            break
        specs = [
            ImageSpec(*resolved[(c.prompt, c.negative_prompt, c.seed)], seed=c.seed) for c in chunk
        ]
        done = len(run.cells)

        def report(update: ProgressUpdate, done: int = done, size: int = len(chunk)) -> None:
            if on_progress is not None:
                on_progress(
                    CompareProgress(done, total, update.step, update.total, update.preview, size)
                )

        # 4. One pipeline call per chunk; Stop leaves between steps and keeps earlier chunks.
        try:
            result = engine.generate_rows(
                specs, chunk[0].settings, model=chunk[0].model, on_progress=report, cancel=cancel
            )
        except GenerationCancelled:
            run.cancelled = True
            break
        finished = [
            CellImage(cell, image, result, index)
            for index, (cell, image) in enumerate(zip(chunk, result.images, strict=True))
        ]
        run.cells.extend(finished)
        if on_batch is not None:
            on_batch(finished)
        if on_progress is not None:
            on_progress(CompareProgress(len(run.cells), total))
    run.cells.sort(key=lambda c: (c.cell.seed_index, c.cell.axis_index or 0, c.cell.variant_index))
    return run
