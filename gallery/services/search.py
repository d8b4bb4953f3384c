"""`SearchService`: pages and counts of an owner's generations, their models and tags.

The statements themselves are built by `gallery.search` (full-text index where the database
has one); this service runs them for one owner.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy import func, select

from gallery.models import Generation, GenerationTag, Tag
from gallery.owners import Owner, owner_filter
from gallery.records import GalleryQuery, Page
from gallery.search import TextMode, count_statement, page_statement
from gallery.services.common import Sessions, owned, summary


class SearchService:
    """Find an owner's generations: search, count, the models and tags they use."""

    def __init__(self, sessions: Sessions, root: Path, text_mode: TextMode) -> None:
        self._sessions = sessions
        self._root = root.as_posix()
        self._text_mode = text_mode

    def search(self, query: GalleryQuery | None = None, *, owner: Owner) -> Page:
        """One page of `owner`'s generations matching `query`, newest first."""
        query = _scoped(query or GalleryQuery(), owner)
        query.validate()
        statement, params = page_statement(query, mode=self._text_mode)
        with self._sessions.connect() as connection:
            rows = connection.execute(statement, params).all()
        items = tuple(summary(self._root, row) for row in rows[: query.page_size])
        return Page(items, query.page, query.page_size, has_more=len(rows) > query.page_size)

    def count(self, query: GalleryQuery | None = None, *, owner: Owner) -> int:
        """How many of `owner`'s generations match `query` (its page is ignored)."""
        query = _scoped(query or GalleryQuery(), owner)
        query.validate()
        statement, params = count_statement(query, mode=self._text_mode)
        with self._sessions.connect() as connection:
            return int(connection.scalar(statement, params) or 0)

    def models(self, *, owner: Owner) -> list[str]:
        """Every model id in `owner`'s gallery, sorted (for a filter menu)."""
        with self._sessions.read() as session:
            stmt = select(Generation.model_id).where(
                Generation.model_id.is_not(None), *owned(Generation, owner)
            )
            return sorted(session.scalars(stmt.distinct()))

    def tags(self, *, owner: Owner) -> list[tuple[str, int]]:
        """Every tag `owner` uses with how many of their generations carry it, by name."""
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


def _scoped(query: GalleryQuery, owner: Owner) -> GalleryQuery:
    """`query` limited to `owner` (an admin's own `user_id` filter is kept)."""
    user_id = owner_filter(owner)
    if user_id is None:
        return query
    return dataclasses.replace(query, user_id=user_id)
