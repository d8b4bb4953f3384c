"""`SearchService`: pages and counts of an owner's generations, their models and tags.

The statements themselves are built by `gallery.search` (full-text index where the database
has one), after `gallery.search_plans` has looked at how much the words and tag match; this
service runs them for one owner.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy import func, literal, select, text

from gallery.errors import GalleryError
from gallery.image_storage import ImageStorage
from gallery.models import Generation, GenerationTag, Tag
from gallery.owners import Owner, owner_filter
from gallery.records import GalleryQuery, Page
from gallery.search import DEFAULT_PLAN, TextMode, count_statement, page_statement
from gallery.search_plans import plan_search
from gallery.services.common import Sessions, localize_summaries, owned, summary


class SearchService:
    """Find an owner's generations: search, count, the models and tags they use."""

    def __init__(
        self, sessions: Sessions, root: Path, text_mode: TextMode, files: ImageStorage
    ) -> None:
        self._sessions = sessions
        self._root = root.as_posix()
        self._files = files
        self._text_mode = text_mode

    def search(self, query: GalleryQuery | None = None, *, owner: Owner) -> Page:
        """One page of `owner`'s generations matching `query`, newest first."""
        query = _scoped(query or GalleryQuery(), owner)
        query.validate()
        with self._sessions.connect() as connection:
            plan = plan_search(connection, query, self._text_mode)
            if plan.nothing:
                return Page((), query.page, query.page_size, has_more=False)
            statement, params = page_statement(query, mode=self._text_mode, plan=plan)
            rows = connection.execute(statement, params).all()
        items = tuple(summary(self._root, row) for row in rows[: query.page_size])
        localize_summaries(self._files, self._root, items)
        return Page(items, query.page, query.page_size, has_more=len(rows) > query.page_size)

    def count(
        self, query: GalleryQuery | None = None, *, owner: Owner, limit: int | None = None
    ) -> int:
        """How many of `owner`'s generations match `query` (its page is ignored); with `limit`,
        counting stops after `limit + 1`, so a result above `limit` means "more" (at a million
        rows an exact count reads every match: 0.1-3 s, while a page takes a millisecond)."""
        query = _scoped(query or GalleryQuery(), owner)
        query.validate()
        if limit is not None and limit < 0:
            raise GalleryError("A count's limit must be 0 or more.")
        with self._sessions.connect() as connection:
            plan = DEFAULT_PLAN
            if limit is not None:
                limit += 1
                plan = plan_search(connection, query, self._text_mode, count_limit=limit)
                if plan.nothing:
                    return 0
            statement, params = count_statement(query, mode=self._text_mode, plan=plan, limit=limit)
            return int(connection.scalar(statement, params) or 0)

    def models(self, *, owner: Owner) -> list[str]:
        """Every model id in `owner`'s gallery, sorted (for a filter menu).

        One owner's: read by skipping from each model to the next through
        `(user_id, model_id, id)` (a recursive CTE; a few index lookups per model, where
        `DISTINCT` reads every row: 300 ms at a million on PostgreSQL)."""
        user_id = owner_filter(owner)
        with self._sessions.connect() as connection:
            if user_id is None:
                stmt = select(Generation.model_id).where(Generation.model_id.is_not(None))
                return sorted(connection.scalars(stmt.distinct()))
            return sorted(connection.scalars(_NEXT_MODEL, {"user_id": user_id}))

    def tags(self, *, owner: Owner, limit: int | None = None) -> list[tuple[str, int]]:
        """Every tag `owner` uses with how many of their generations carry it, by name; with
        `limit`, each count stops above `limit` (`limit + 1` then means "more"): an exact
        count reads every tagged row, 1.5 s for a million."""
        if limit is None:
            with self._sessions.read() as session:
                rows = session.execute(
                    select(Tag.name, func.count(GenerationTag.generation_id))
                    .join(GenerationTag, GenerationTag.tag_id == Tag.id)
                    .join(Generation, Generation.id == GenerationTag.generation_id)
                    .where(*owned(Generation, owner))
                    .group_by(Tag.name)
                    .order_by(Tag.name)
                ).all()
            return [(name, int(count)) for name, count in rows]
        if limit < 0:
            raise GalleryError("A count's limit must be 0 or more.")
        # Whether each tagged row is the owner's, looked up row by row in (user_id, id): as a
        # join, PostgreSQL merges the tag's rows with the owner's whole index instead of
        # stopping (0.9 s at a million, 0.1 s this way).
        user_id = owner_filter(owner)
        is_mine = (
            select(literal(1))
            .where(Generation.user_id == user_id, Generation.id == GenerationTag.generation_id)
            .scalar_subquery()
        )
        mine = () if user_id is None else (is_mine.is_not(None),)
        beyond = (
            select(GenerationTag.generation_id)
            .where(GenerationTag.tag_id == Tag.id, *mine)
            .order_by(GenerationTag.generation_id.desc())
            .limit(1)
            .offset(limit)
            .scalar_subquery()
        )
        with self._sessions.connect() as connection:
            # The owner's row after their first `limit` with the tag, newest first through
            # (tag_id, generation_id): it stops there. Exact counts only for the other tags.
            listed = connection.execute(select(Tag.id, Tag.name, beyond.is_not(None))).all()
            few = [tag_id for tag_id, _name, more in listed if not more]
            counts = dict(
                connection.execute(
                    select(GenerationTag.tag_id, func.count())
                    .join(Generation, Generation.id == GenerationTag.generation_id)
                    .where(GenerationTag.tag_id.in_(few), *owned(Generation, owner))
                    .group_by(GenerationTag.tag_id)
                ).all()
            )
        found = [
            (name, limit + 1 if more else int(counts.get(tag_id, 0)))
            for tag_id, name, more in listed
        ]
        return sorted((name, count) for name, count in found if count)


# Each model of an owner, then the next one up: one index lookup per model.
_NEXT_MODEL = text(
    """
    WITH RECURSIVE found(model_id) AS (
        SELECT min(model_id) FROM generations
        WHERE user_id = :user_id AND model_id IS NOT NULL
        UNION ALL
        SELECT (
            SELECT min(g.model_id) FROM generations g
            WHERE g.user_id = :user_id AND g.model_id > found.model_id
        )
        FROM found WHERE found.model_id IS NOT NULL
    )
    SELECT model_id FROM found WHERE model_id IS NOT NULL
    """
)


def _scoped(query: GalleryQuery, owner: Owner) -> GalleryQuery:
    """`query` limited to `owner` (an admin's own `user_id` filter is kept)."""
    user_id = owner_filter(owner)
    if user_id is None:
        return query
    return dataclasses.replace(query, user_id=user_id)
