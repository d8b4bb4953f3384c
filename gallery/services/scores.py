"""Scores kept with images (e.g. `clip`, the CLIP text-image similarity), one per metric.

Scores belong to their generation's owner, and every method keeps to `owner`'s. Saving a
score for a generation and metric that already has one replaces it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select

from gallery.errors import GalleryError, NotFoundError
from gallery.models import Generation, GenerationScore, utc_now
from gallery.owners import Owner
from gallery.records import ScoreRecord
from gallery.services.common import Sessions, owned

MAX_METRIC_CHARS = 64


class ScoreService:
    """Save, read and rank generations by their scores."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def save(self, scores: Sequence[ScoreRecord], *, owner: Owner) -> None:
        """Save (or replace) scores of `owner`'s generations, all or nothing."""
        for score in scores:
            if not score.metric or len(score.metric) > MAX_METRIC_CHARS:
                raise GalleryError(f"A score's metric name is 1 to {MAX_METRIC_CHARS} characters.")
            if not isinstance(score.value, (int, float)) or not math.isfinite(score.value):
                raise GalleryError("A score must be a finite number.")
        if not scores:
            return
        now = utc_now()
        with self._sessions.write() as session:
            ids = {score.generation_id for score in scores}
            found = set(
                session.scalars(
                    select(Generation.id).where(Generation.id.in_(ids), *owned(Generation, owner))
                )
            )
            if missing := sorted(ids - found):
                raise NotFoundError(f"There is no generation {missing[0]}.")
            for score in scores:
                session.execute(
                    delete(GenerationScore).where(
                        GenerationScore.generation_id == score.generation_id,
                        GenerationScore.metric == score.metric,
                    )
                )
            session.flush()
            session.add_all(
                GenerationScore(
                    generation_id=score.generation_id,
                    metric=score.metric,
                    value=float(score.value),
                    scorer=score.scorer[:200],
                    meaningful=bool(score.meaningful),
                    created_at=now,
                )
                for score in scores
            )

    def of(
        self, generation_ids: Iterable[int], metric: str, *, owner: Owner
    ) -> dict[int, ScoreRecord]:
        """The `metric` score of each of these generations of `owner`'s that has one, by id."""
        ids = sorted(set(generation_ids))
        if not ids:
            return {}
        with self._sessions.read() as session:
            rows = session.scalars(
                select(GenerationScore)
                .join(Generation, Generation.id == GenerationScore.generation_id)
                .where(
                    GenerationScore.generation_id.in_(ids),
                    GenerationScore.metric == metric,
                    *owned(Generation, owner),
                )
            ).all()
            return {row.generation_id: _record(row) for row in rows}

    def ranked(
        self, metric: str, *, limit: int = 50, descending: bool = True, owner: Owner
    ) -> list[ScoreRecord]:
        """`owner`'s generations sorted by their `metric` score (best first by default)."""
        order = GenerationScore.value.desc() if descending else GenerationScore.value.asc()
        statement = (
            select(GenerationScore)
            .join(Generation, Generation.id == GenerationScore.generation_id)
            .where(GenerationScore.metric == metric, *owned(Generation, owner))
        )
        statement = statement.order_by(order, GenerationScore.generation_id).limit(limit)
        with self._sessions.read() as session:
            return [_record(row) for row in session.scalars(statement).all()]


def _record(row: GenerationScore) -> ScoreRecord:
    return ScoreRecord(row.generation_id, row.metric, row.value, row.scorer, row.meaningful)
