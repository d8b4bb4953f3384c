"""`ExperimentService`: variants compared on shared seeds, their grid cells, winners, votes.

Every write is one transaction. Every method takes `owner` (see `gallery.owners`;
`EVERY_OWNER` for an admin) and keeps to that owner's experiments in its own statements;
another owner's experiment is reported exactly like one that does not exist.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from gallery.errors import GalleryError, NotFoundError
from gallery.experiment_export import SCORE_METRIC, write_experiment_zip
from gallery.experiment_state import experiment_state, this_runner
from gallery.models import (
    Experiment,
    ExperimentVariant,
    ExperimentVote,
    Generation,
    VariantGeneration,
    utc_now,
)
from gallery.owners import Owner, writing_owner
from gallery.records import (
    CellRecord,
    ExperimentRecord,
    VariantRecord,
    VariantSpec,
    VoteRecord,
    json_safe,
)
from gallery.services.common import Sessions, check_id, owned
from gallery.services.curation import CurationService
from gallery.services.recording import RecordService
from gallery.services.scores import ScoreService

EXPERIMENT_KINDS = ("compare", "ablation", "refine")


class ExperimentService:
    """Create, read, judge, export and delete experiments."""

    def __init__(
        self,
        sessions: Sessions,
        records: RecordService,
        curation: CurationService,
        scores: ScoreService,
    ) -> None:
        self._sessions = sessions
        self._records = records
        self._curation = curation
        self._scores = scores

    def create(
        self,
        name: str,
        variants: Sequence[VariantSpec | str],
        *,
        description: str = "",
        owner: Owner,
        kind: str = "compare",
        settings: dict[str, Any] | None = None,
        seeds: Sequence[int] = (),
        axis: dict[str, Any] | None = None,
    ) -> ExperimentRecord:
        """Create an experiment of `owner` with its variants (in the order given)."""
        user_id = writing_owner(owner)
        if not isinstance(name, str) or not name.strip():
            raise GalleryError("An experiment needs a name.")
        if kind not in EXPERIMENT_KINDS:
            raise GalleryError(f"An experiment's kind is one of {', '.join(EXPERIMENT_KINDS)}.")
        specs = [VariantSpec(v) if isinstance(v, str) else v for v in variants]
        names = [spec.name.strip() if isinstance(spec.name, str) else "" for spec in specs]
        if not specs or not all(names):
            raise GalleryError("An experiment needs at least one variant, each with a name.")
        if len(set(names)) != len(names):
            raise GalleryError("Variant names within an experiment must differ.")
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise GalleryError("Seeds must be whole numbers.")
        with self._sessions.write() as session:
            experiment = Experiment(
                name=name.strip()[:200],
                description=description,
                created_at=utc_now(),
                user_id=user_id,
                kind=kind,
                settings=json_safe(settings or {}, "experiment settings"),
                seeds=list(seeds),
                axis=json_safe(axis or {}, "experiment axis"),
            )
            for position, (spec, variant_name) in enumerate(zip(specs, names, strict=True)):
                experiment.variants.append(
                    ExperimentVariant(
                        name=variant_name[:200],
                        position=position,
                        recipe=json_safe(spec.recipe, "variant recipe"),
                        is_winner=False,
                    )
                )
            session.add(experiment)
            session.flush()
            experiment_id = experiment.id
        return self.get(experiment_id, owner=user_id)

    def get(self, experiment_id: int, *, owner: Owner) -> ExperimentRecord:
        """An experiment with its variants, cells and generations; `NotFoundError` if none."""
        with self._sessions.read() as session:
            experiment = self._find(session, experiment_id, owner)
            return _record(session, experiment)

    def list(self, *, owner: Owner) -> list[ExperimentRecord]:
        """Every experiment of `owner`, newest first."""
        with self._sessions.read() as session:
            statement = (
                select(Experiment)
                .where(*owned(Experiment, owner))
                .options(selectinload(Experiment.variants))
            )
            experiments = session.scalars(statement.order_by(Experiment.id.desc())).all()
            return [_record(session, e) for e in experiments]

    def add_cell(
        self,
        variant_id: int,
        generation_id: int,
        seed_index: int | None = None,
        axis_index: int | None = None,
        *,
        owner: Owner,
    ) -> None:
        """Count a generation as made for a variant (both `owner`'s), at a grid position when
        given; adding twice is harmless."""
        with self._sessions.write() as session:
            variant = session.scalar(
                select(ExperimentVariant)
                .join(Experiment, Experiment.id == ExperimentVariant.experiment_id)
                .where(ExperimentVariant.id == check_id(variant_id), *owned(Experiment, owner))
            )
            if variant is None:
                raise NotFoundError(f"There is no experiment variant {variant_id}.")
            found = session.scalar(
                select(Generation.id).where(
                    Generation.id == check_id(generation_id), *owned(Generation, owner)
                )
            )
            if found is None:
                raise NotFoundError(f"There is no generation {generation_id}.")
            row = session.get(VariantGeneration, (variant_id, generation_id))
            if row is None:
                session.add(
                    VariantGeneration(
                        variant_id=variant_id,
                        generation_id=generation_id,
                        seed_index=seed_index,
                        axis_index=axis_index,
                    )
                )
            elif seed_index is not None or axis_index is not None:
                row.seed_index, row.axis_index = seed_index, axis_index

    def mark_running(self, experiment_id: int, *, owner: Owner) -> None:
        """This process is making the experiment's cells: call when a run starts and after
        each batch (the heartbeat a replica on another host goes by)."""
        with self._sessions.write() as session:
            experiment = self._find(session, experiment_id, owner)
            experiment.runner, experiment.heartbeat_at = this_runner(), utc_now()

    def mark_stopped(self, experiment_id: int, *, owner: Owner) -> None:
        """The run ended (finished, stopped or failed): the experiment is then finished, or
        interrupted with the cells it has (`gallery.experiment_state`)."""
        with self._sessions.write() as session:
            experiment = self._find(session, experiment_id, owner)
            experiment.runner, experiment.heartbeat_at = None, None

    def set_winner(self, experiment_id: int, variant_id: int | None, *, owner: Owner) -> None:
        """Mark one variant of an experiment as the overall winner, or clear it with None."""
        with self._sessions.write() as session:
            experiment = self._find(session, experiment_id, owner)
            if variant_id is not None and variant_id not in {v.id for v in experiment.variants}:
                raise NotFoundError(f"Experiment {experiment_id} has no variant {variant_id}.")
            for variant in experiment.variants:
                variant.is_winner = variant.id == variant_id

    def delete(self, experiment_id: int, *, with_images: bool = False, owner: Owner) -> None:
        """Delete one of `owner`'s experiments with its variants and votes; `with_images` also
        deletes the generations made for its cells (otherwise they stay in the gallery)."""
        with self._sessions.write() as session:
            experiment = self._find(session, experiment_id, owner)
            generation_ids = _cell_generation_ids(session, experiment)
            session.execute(delete(Experiment).where(Experiment.id == experiment.id))
        if with_images and generation_ids:
            with self._sessions.read() as session:
                still_there = list(
                    session.scalars(
                        select(Generation.id).where(
                            Generation.id.in_(generation_ids), *owned(Generation, owner)
                        )
                    )
                )
            self._curation.delete(still_there, owner=owner)

    def add_vote(
        self,
        experiment_id: int,
        winner_variant_id: int,
        loser_variant_id: int | None = None,
        *,
        seed_index: int | None = None,
        axis_index: int | None = None,
        blind: bool = False,
        owner: Owner,
    ) -> VoteRecord:
        """Record `owner`'s judgement on their experiment (see `VoteRecord`); both variants
        must be the experiment's."""
        voter = writing_owner(owner)
        if winner_variant_id == loser_variant_id:
            raise GalleryError("A variant cannot win against itself.")
        with self._sessions.write() as session:
            experiment = self._find(session, experiment_id, owner)
            ids = {v.id for v in experiment.variants}
            for variant_id in (winner_variant_id, loser_variant_id):
                if variant_id is not None and variant_id not in ids:
                    raise NotFoundError(f"Experiment {experiment_id} has no variant {variant_id}.")
            if seed_index is not None and not 0 <= seed_index < max(len(experiment.seeds), 1):
                raise GalleryError(f"Experiment {experiment_id} has no seed row {seed_index}.")
            vote = ExperimentVote(
                experiment_id=experiment.id,
                winner_variant_id=winner_variant_id,
                loser_variant_id=loser_variant_id,
                seed_index=seed_index,
                axis_index=axis_index,
                blind=bool(blind),
                user_id=voter,
                created_at=utc_now(),
            )
            session.add(vote)
            session.flush()
            return _vote_record(vote)

    def votes(self, experiment_id: int, *, owner: Owner) -> list[VoteRecord]:
        """Every vote of an experiment, oldest first."""
        with self._sessions.read() as session:
            experiment = self._find(session, experiment_id, owner)
            rows = session.scalars(
                select(ExperimentVote)
                .where(ExperimentVote.experiment_id == experiment.id)
                .order_by(ExperimentVote.id)
            ).all()
            return [_vote_record(row) for row in rows]

    def export(
        self,
        experiment_id: int,
        out_path: str | os.PathLike[str],
        contact_sheet_png: bytes | None = None,
        *,
        owner: Owner,
    ) -> Path:
        """Write one of `owner`'s experiments to a zip: contact sheet, cell PNGs, CSVs (see
        `gallery.experiment_export`)."""
        experiment = self.get(experiment_id, owner=owner)
        records = {
            c.generation_id: self._records.get(c.generation_id, owner=owner)
            for c in experiment.cells
        }
        scores = self._scores.of(records, SCORE_METRIC, owner=owner)
        votes = self.votes(experiment_id, owner=owner)
        return write_experiment_zip(
            experiment, records, scores, votes, contact_sheet_png, Path(out_path)
        )

    def _find(self, session: Session, experiment_id: int, owner: Owner) -> Experiment:
        experiment = session.scalar(
            select(Experiment)
            .where(Experiment.id == check_id(experiment_id), *owned(Experiment, owner))
            .options(selectinload(Experiment.variants))
        )
        if experiment is None:
            raise NotFoundError(f"There is no experiment {experiment_id}.")
        return experiment


def _cell_generation_ids(session: Session, experiment: Experiment) -> list[int]:
    variant_ids = [v.id for v in experiment.variants]
    if not variant_ids:
        return []
    return sorted(
        set(
            session.scalars(
                select(VariantGeneration.generation_id).where(
                    VariantGeneration.variant_id.in_(variant_ids)
                )
            )
        )
    )


def _record(session: Session, experiment: Experiment) -> ExperimentRecord:
    variant_ids = [variant.id for variant in experiment.variants]
    members: dict[int, list[int]] = {variant_id: [] for variant_id in variant_ids}
    cells: list[CellRecord] = []
    if variant_ids:
        rows = session.execute(
            select(
                VariantGeneration.variant_id,
                VariantGeneration.generation_id,
                VariantGeneration.seed_index,
                VariantGeneration.axis_index,
            )
            .where(VariantGeneration.variant_id.in_(variant_ids))
            .order_by(VariantGeneration.generation_id)
        )
        for variant_id, generation_id, seed_index, axis_index in rows:
            members[variant_id].append(generation_id)
            cells.append(CellRecord(variant_id, generation_id, seed_index, axis_index))
    record = ExperimentRecord(
        id=experiment.id,
        name=experiment.name,
        description=experiment.description,
        created_at=experiment.created_at,
        user_id=experiment.user_id,
        variants=tuple(
            VariantRecord(
                id=v.id,
                experiment_id=experiment.id,
                name=v.name,
                position=v.position,
                recipe=v.recipe,
                is_winner=v.is_winner,
                generation_ids=tuple(members[v.id]),
            )
            for v in experiment.variants
        ),
        kind=experiment.kind,
        settings=dict(experiment.settings or {}),
        seeds=tuple(experiment.seeds or ()),
        axis=dict(experiment.axis or {}),
        cells=tuple(cells),
    )
    state = experiment_state(
        record.grid(), record.made_positions(), experiment.runner, experiment.heartbeat_at
    )
    return dataclasses.replace(record, state=state)


def _vote_record(row: ExperimentVote) -> VoteRecord:
    return VoteRecord(
        id=row.id,
        experiment_id=row.experiment_id,
        winner_variant_id=row.winner_variant_id,
        loser_variant_id=row.loser_variant_id,
        seed_index=row.seed_index,
        axis_index=row.axis_index,
        blind=row.blind,
        user_id=row.user_id,
        created_at=row.created_at,
    )
