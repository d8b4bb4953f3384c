"""Export one experiment as a zip:

    contact_sheet.png          the grid with labels and prompt diffs drawn in (when given)
    cells/r<row>-v<col>[-a<axis>]-seed<seed>.png   each cell's stored PNG, settings embedded
    cells.csv                  one row per cell: variant, prompts, seed, axis value, CLIP score,
                               the votes on that cell (its variant, seed row and axis value;
                               summed over the rows they are the variant's totals)
    votes.csv                  one row per vote
    experiment.json            variants, seeds, axis, shared settings and cells

Written to a temporary name beside the target and renamed, so a failed export leaves nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gallery.errors import GalleryError
from gallery.records import ExperimentRecord, GenerationRecord, ScoreRecord, VoteRecord
from gallery.spreadsheet import SafeDictWriter

SCORE_METRIC = "clip"
CELL_COLUMNS = (
    "experiment_id",
    "seed_row",
    "seed",
    "variant",
    "variant_label",
    "axis",
    "axis_value",
    "generation_id",
    "file",
    "prompt",
    "negative_prompt",
    "clip_score",
    "clip_meaningful",
    "pair_wins",
    "pair_losses",
    "picked_best",
    "is_winner",
)
VOTE_COLUMNS = ("vote_id", "seed_row", "seed", "winner", "loser", "blind", "user", "created_at")


def cell_file_name(row: int | None, column: int, axis_index: int | None, seed: Any) -> str:
    """The name of a cell's PNG inside the zip."""
    axis = f"-a{axis_index + 1}" if axis_index is not None else ""
    row_text = f"r{row + 1}" if row is not None else "r-"
    return f"cells/{row_text}-v{column + 1}{axis}-seed{seed if seed is not None else 'x'}.png"


def write_experiment_zip(
    experiment: ExperimentRecord,
    records: Mapping[int, GenerationRecord],
    scores: Mapping[int, ScoreRecord],
    votes: Sequence[VoteRecord],
    contact_sheet_png: bytes | None,
    out_path: Path,
) -> Path:
    """Write the experiment's zip to `out_path` atomically and return its path."""
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".zip":
        raise GalleryError("The export file name must end in .zip.")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=".export-", suffix=".zip", dir=out_path.parent)
    os.close(handle)
    try:
        _write(experiment, records, scores, votes, contact_sheet_png, Path(temp_name))
        os.replace(temp_name, out_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    return out_path


def vote_tally(votes: Sequence[VoteRecord]) -> dict[Any, dict[str, int]]:
    """Per (variant id, seed row, axis index) of each vote: pair wins, pair losses and times
    picked best. A vote without an axis index counts on every axis value of its row."""
    tally: dict[Any, dict[str, int]] = {}

    def entry(variant_id: int, vote: VoteRecord) -> dict[str, int]:
        key = (variant_id, vote.seed_index, vote.axis_index)
        return tally.setdefault(key, {"pair_wins": 0, "pair_losses": 0, "picked_best": 0})

    for vote in votes:
        if vote.loser_variant_id is None:
            entry(vote.winner_variant_id, vote)["picked_best"] += 1
        else:
            entry(vote.winner_variant_id, vote)["pair_wins"] += 1
            entry(vote.loser_variant_id, vote)["pair_losses"] += 1
    return tally


def cell_votes(
    tally: Mapping[Any, Mapping[str, int]], variant_id: int, row: int | None, axis: int | None
) -> dict[str, int]:
    """The votes on one cell: its row's (and axis value's), plus its row's without an axis."""
    counts = {"pair_wins": 0, "pair_losses": 0, "picked_best": 0}
    keys = {(variant_id, row, axis), (variant_id, row, None)}
    for key in keys:
        for name, value in tally.get(key, {}).items():
            counts[name] += value
    return counts


def _write(
    experiment: ExperimentRecord,
    records: Mapping[int, GenerationRecord],
    scores: Mapping[int, ScoreRecord],
    votes: Sequence[VoteRecord],
    contact_sheet_png: bytes | None,
    temp_path: Path,
) -> None:
    positions = {v.id: v.position for v in experiment.variants}
    labels = {v.id: v.name for v in experiment.variants}
    tally = vote_tally(votes)
    axis_name = experiment.axis.get("name", "")
    axis_values = list(experiment.axis.get("values") or [])
    cells_table = io.StringIO()
    cells = SafeDictWriter(cells_table, fieldnames=CELL_COLUMNS, lineterminator="\n")
    cells.writeheader()
    cell_documents = []
    with zipfile.ZipFile(temp_path, "w", compression=zipfile.ZIP_STORED) as archive:
        if contact_sheet_png:
            archive.writestr("contact_sheet.png", contact_sheet_png)
        ordered = sorted(
            experiment.cells,
            key=lambda c: (c.seed_index or 0, c.axis_index or 0, positions[c.variant_id]),
        )
        for cell in ordered:
            record = records.get(cell.generation_id)
            if record is None:
                continue
            image = record.image
            name = ""
            if image is not None and not image.missing and image.path.exists():
                name = cell_file_name(
                    cell.seed_index, positions[cell.variant_id], cell.axis_index, record.seed
                )
                archive.write(image.path, name)
            score = scores.get(cell.generation_id)
            counts = cell_votes(tally, cell.variant_id, cell.seed_index, cell.axis_index)
            axis_value = (
                axis_values[cell.axis_index]
                if cell.axis_index is not None and cell.axis_index < len(axis_values)
                else ""
            )
            row = {
                "experiment_id": experiment.id,
                "seed_row": "" if cell.seed_index is None else cell.seed_index + 1,
                "seed": "" if record.seed is None else record.seed,
                "variant": positions[cell.variant_id] + 1,
                "variant_label": labels[cell.variant_id],
                "axis": axis_name,
                "axis_value": axis_value,
                "generation_id": cell.generation_id,
                "file": name,
                "prompt": record.prompt,
                "negative_prompt": record.negative_prompt,
                "clip_score": "" if score is None else f"{score.value:.6f}",
                "clip_meaningful": "" if score is None else ("yes" if score.meaningful else "no"),
                "pair_wins": counts.get("pair_wins", 0),
                "pair_losses": counts.get("pair_losses", 0),
                "picked_best": counts.get("picked_best", 0),
                "is_winner": "yes" if experiment.variant(cell.variant_id).is_winner else "no",
            }
            cells.writerow(row)
            cell_documents.append(row)
        archive.writestr("cells.csv", cells_table.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(
            "votes.csv", _votes_csv(experiment, votes, labels), compress_type=zipfile.ZIP_DEFLATED
        )
        document = {
            "id": experiment.id,
            "name": experiment.name,
            "kind": experiment.kind,
            "description": experiment.description,
            "created_at": experiment.created_at.isoformat(),
            "settings": experiment.settings,
            "seeds": list(experiment.seeds),
            "axis": experiment.axis,
            "variants": [
                {"label": v.name, "recipe": v.recipe, "is_winner": v.is_winner}
                for v in experiment.variants
            ],
            "cells": cell_documents,
        }
        archive.writestr(
            "experiment.json",
            json.dumps(document, ensure_ascii=False, indent=2),
            compress_type=zipfile.ZIP_DEFLATED,
        )


def _votes_csv(
    experiment: ExperimentRecord, votes: Sequence[VoteRecord], labels: Mapping[int, str]
) -> str:
    table = io.StringIO()
    rows = SafeDictWriter(table, fieldnames=VOTE_COLUMNS, lineterminator="\n")
    rows.writeheader()
    for vote in votes:
        seed = (
            experiment.seeds[vote.seed_index]
            if vote.seed_index is not None and vote.seed_index < len(experiment.seeds)
            else ""
        )
        rows.writerow(
            {
                "vote_id": vote.id,
                "seed_row": "" if vote.seed_index is None else vote.seed_index + 1,
                "seed": seed,
                "winner": labels.get(vote.winner_variant_id, ""),
                "loser": labels.get(vote.loser_variant_id, "") if vote.loser_variant_id else "",
                "blind": "yes" if vote.blind else "no",
                "user": vote.user_id or "",
                "created_at": vote.created_at.isoformat(),
            }
        )
    return table.getvalue()
