"""A saved experiment as the Compare tab, the contact sheet and the CLI see it: a grid of rows
(seeds) by columns (axis value, then variant), each column's prompt diff against the first
variant, CLIP scores, the Bradley–Terry ranking from votes, paired score differences against
variant A, and, for an ablation, the terms ranked by how much the image changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from PIL import Image

from engine.ablation import TermImpact, rank_terms
from gallery.experiment_export import SCORE_METRIC
from gallery.rankings import PairedDifference, VariantRank, paired_difference, rank_variants
from gallery.records import ExperimentRecord, GenerationRecord, ScoreRecord, VoteRecord
from gallery.views import OwnerGallery
from prompts.diff import Highlight, highlight_diff


@dataclass(frozen=True)
class GridCell:
    """One image of the grid with where it came from."""

    row: int
    column: int
    variant_index: int
    axis_index: int | None
    generation: GenerationRecord
    score: ScoreRecord | None

    @property
    def image_path(self) -> Path | None:
        image = self.generation.image
        return image.path if image is not None and not image.missing else None


@dataclass(frozen=True)
class ExperimentView:
    """Everything the grid and its statistics need, read once from the store."""

    experiment: ExperimentRecord
    cells: dict[tuple[int, int], GridCell]  # (row, column) -> cell
    votes: tuple[VoteRecord, ...]

    @property
    def variants(self):
        return self.experiment.variants

    @property
    def rows(self) -> int:
        return len(self.experiment.seeds)

    @property
    def axis_values(self) -> tuple:
        return self.experiment.axis_values

    @property
    def columns(self) -> list[tuple[int | None, int]]:
        """(axis index or None, variant index) for each column, axis value major."""
        has_axis = bool(self.experiment.axis.get("values"))
        return [
            (axis_index if has_axis else None, variant_index)
            for axis_index in range(len(self.axis_values))
            for variant_index in range(len(self.variants))
        ]

    def prompt(self, variant_index: int) -> str:
        return str(self.variants[variant_index].recipe.get("prompt", ""))

    def column_label(self, column: int) -> str:
        axis_index, variant_index = self.columns[column]
        label = self.variants[variant_index].name
        if axis_index is None:
            return label
        value = self.axis_values[axis_index]
        value_text = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{label} · {self.experiment.axis.get('name', '')} {value_text}"

    def header_diff(self, variant_index: int) -> list[Highlight]:
        """The variant's prompt as a word diff against the first variant's."""
        return highlight_diff(self.prompt(0), self.prompt(variant_index))

    def cell(self, row: int, column: int) -> GridCell | None:
        return self.cells.get((row, column))

    def column_of(self, variant_index: int, axis_index: int | None) -> int:
        return self.columns.index((axis_index, variant_index))

    @cached_property
    def scores_meaningful(self) -> bool | None:
        """None without scores; False when a random (untrained) CLIP made any of them."""
        scores = [c.score for c in self.cells.values() if c.score is not None]
        return all(s.meaningful for s in scores) if scores else None

    @cached_property
    def scorer_name(self) -> str:
        return next((c.score.scorer for c in self.cells.values() if c.score is not None), "")

    def ranking(self, rounds: int = 500) -> list[VariantRank]:
        """Variants ranked by Bradley–Terry from the votes (index = variant position)."""
        positions = {v.id: v.position for v in self.variants}
        votes = [
            (
                positions[v.winner_variant_id],
                positions[v.loser_variant_id] if v.loser_variant_id is not None else None,
            )
            for v in self.votes
        ]
        return rank_variants(votes, len(self.variants), rounds=rounds)

    def score_differences(self) -> list[tuple[int, PairedDifference]]:
        """For each variant after the first: mean CLIP difference to variant A, paired on
        (seed, axis value), with a bootstrap interval."""
        result = []
        for variant_index in range(1, len(self.variants)):
            values, reference = [], []
            for row in range(self.rows):
                for axis_index in range(len(self.axis_values)):
                    axis = axis_index if self.experiment.axis.get("values") else None
                    mine = self.cell(row, self.column_of(variant_index, axis))
                    base = self.cell(row, self.column_of(0, axis))
                    if mine and base and mine.score and base.score:
                        values.append(mine.score.value)
                        reference.append(base.score.value)
            result.append((variant_index, paired_difference(values, reference)))
        return result

    def ablation(self) -> list[TermImpact]:
        """For an ablation: terms ranked by the change their removal makes (first axis value)."""
        removed = [str(v.recipe.get("removed_term") or v.name) for v in self.variants[1:]]
        axis = 0 if self.experiment.axis.get("values") else None
        full, ablated = [], [[] for _ in removed]
        for row in range(self.rows):
            row_cells = [self.cell(row, self.column_of(i, axis)) for i in range(len(self.variants))]
            if any(c is None or c.image_path is None for c in row_cells):
                continue
            images = [Image.open(c.image_path).convert("RGB") for c in row_cells]  # type: ignore[union-attr]
            full.append(images[0])
            for index, image in enumerate(images[1:]):
                ablated[index].append(image)
        if not full:
            return []
        return rank_terms(full, list(zip(removed, ablated, strict=True)))


def load_view(store: OwnerGallery, experiment_id: int) -> ExperimentView:
    """Read one of the store's owner's experiments with its cells' records, scores and votes."""
    experiment = store.get_experiment(experiment_id)
    positions = {v.id: v.position for v in experiment.variants}
    has_axis = bool(experiment.axis.get("values"))
    ids = [c.generation_id for c in experiment.cells]
    scores = store.scores_of(ids, SCORE_METRIC)
    columns = [
        (a if has_axis else None, v)
        for a in range(len(experiment.axis_values))
        for v in range(len(experiment.variants))
    ]
    cells: dict[tuple[int, int], GridCell] = {}
    for cell in experiment.cells:
        if cell.seed_index is None:
            continue
        key = (cell.axis_index if has_axis else None, positions[cell.variant_id])
        if key not in columns:
            continue
        column = columns.index(key)
        cells[(cell.seed_index, column)] = GridCell(
            cell.seed_index,
            column,
            positions[cell.variant_id],
            cell.axis_index,
            store.get(cell.generation_id),
            scores.get(cell.generation_id),
        )
    return ExperimentView(experiment, cells, tuple(store.votes(experiment_id)))
