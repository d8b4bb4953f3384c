"""Gallery queries: filters, full-text search and paging as SQLAlchemy statements.

Newest first means highest id first: ids are given out in recording order (the store sets
`created_at` when it inserts), so the order is the recording order. A page is found in two
steps: first the page's ids, walking one index backwards and stopping at the limit (the FTS
index for a text search, the tag index for a tag filter, the `created_at` index for a date
range, else the table itself), then the rows for those ids.

Full-text search matches when every word of the query starts a word of the prompt, in any
order (words are runs of letters and digits; everything else in the query is ignored). SQLite
uses the FTS5 index `generations_fts`; PostgreSQL a GIN index on a stored `tsvector` of the
prompt (`simple` configuration); any other database a portable fallback where every word must
appear in the prompt as a case-insensitive substring.

Statements are built once per *shape* of query (which filters are present) with bound
parameters, and cached: a page then costs little more than the database's own work.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.sql.elements import ColumnElement

from gallery.models import (
    ExperimentVariant,
    Generation,
    GenerationTag,
    ImageFile,
    Tag,
    VariantGeneration,
)
from gallery.records import GalleryQuery, normalize_tag

FTS_TABLE = table("generations_fts", column("rowid"))
_WORD = re.compile(r"[^\W_]+")
_MAX_WORDS = 16
_LIKE_ESCAPE = "/"
# Filters that compare one column with one value: query field -> parameter name.
_FIELDS = (
    "model_id",
    "created_from",
    "created_to",
    "min_rating",
    "favourite",
    "seed",
    "user_id",
    "tag",
    "experiment_id",
    "before_id",
)


# The PostgreSQL generated column made by migration 0003 (not in the models: PostgreSQL only).
PG_TSVECTOR = literal_column("generations.prompt_tsv")

TextMode = Literal["fts5", "tsvector", "like"]


def text_mode(dialect_name: str, has_fts5: bool) -> TextMode:
    """How a database searches prompts."""
    if dialect_name == "sqlite" and has_fts5:
        return "fts5"
    if dialect_name == "postgresql":
        return "tsvector"
    return "like"


def query_words(text: str) -> list[str]:
    """The words of a search text: runs of letters and digits (all else is ignored)."""
    return _WORD.findall(text or "")[:_MAX_WORDS]


def fts_expression(words: list[str]) -> str:
    """An FTS5 query matching rows where every word starts a word of the prompt."""
    return " AND ".join(f'"{word}"*' for word in words)


def tsquery_expression(words: list[str]) -> str:
    """A PostgreSQL tsquery matching rows where every word starts a word of the prompt."""
    return " & ".join(f"'{word.lower()}':*" for word in words)


def _like_pattern(word: str) -> str:
    escaped = word.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
    escaped = escaped.replace("%", _LIKE_ESCAPE + "%").replace("_", _LIKE_ESCAPE + "_")
    return f"%{escaped}%"


def _first_image(column_: ColumnElement) -> ColumnElement:
    return (
        select(column_)
        .where(ImageFile.generation_id == Generation.id)
        .order_by(ImageFile.id)
        .limit(1)
        .correlate(Generation)
        .scalar_subquery()
    )


SUMMARY_COLUMNS: tuple[ColumnElement, ...] = (
    Generation.id,
    Generation.created_at,
    Generation.prompt,
    Generation.negative_prompt,
    Generation.seed,
    Generation.model_id,
    Generation.width,
    Generation.height,
    Generation.rating,
    Generation.favourite,
    Generation.parent_id,
    Generation.batch_id,
    _first_image(ImageFile.path).label("image_path"),
    _first_image(ImageFile.thumbnail_path).label("thumbnail_path"),
)


class Shape(NamedTuple):
    """What a query's statement depends on (not the values): the key of the statement cache."""

    present: frozenset[str]
    fts: bool  # driven by the SQLite FTS5 index
    tsquery: bool  # filtered by the PostgreSQL tsvector index
    like_words: int


def shape_and_params(query: GalleryQuery, *, mode: TextMode) -> tuple[Shape, dict[str, Any]]:
    """The statement shape of `query` and the values of its bound parameters."""
    params: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(query, name)
        if value is not None:
            params[name] = normalize_tag(value) if name == "tag" else value
    if "favourite" in params:
        params["favourite"] = bool(params["favourite"])
    words = query_words(query.text)
    like_words = 0
    if words and mode == "fts5":
        params["fts"] = fts_expression(words)
    elif words and mode == "tsvector":
        params["tsquery"] = tsquery_expression(words)
    else:
        params.update((f"word_{n}", _like_pattern(word)) for n, word in enumerate(words))
        like_words = len(words)
    present = frozenset(name for name in _FIELDS if name in params)
    return Shape(present, "fts" in params, "tsquery" in params, like_words), params


def by_date(shape: Shape) -> bool:
    """Whether pages are ordered by `created_at` (a date filter drives them) rather than id."""
    has_dates = bool(shape.present & {"created_from", "created_to"})
    return has_dates and "tag" not in shape.present and not shape.fts


def _conditions(shape: Shape, *, skip_tag: bool) -> list[ColumnElement]:
    present = shape.present
    conditions: list[ColumnElement] = []
    if "model_id" in present:
        conditions.append(Generation.model_id == bindparam("model_id"))
    if "created_from" in present:
        conditions.append(Generation.created_at >= bindparam("created_from"))
    if "created_to" in present:
        conditions.append(Generation.created_at < bindparam("created_to"))
    if "min_rating" in present:
        conditions.append(Generation.rating >= bindparam("min_rating"))
    if "favourite" in present:
        conditions.append(Generation.favourite == bindparam("favourite"))
    if "seed" in present:
        conditions.append(Generation.seed == bindparam("seed"))
    if "user_id" in present:
        conditions.append(Generation.user_id == bindparam("user_id"))
    if "tag" in present and not skip_tag:
        tagged = select(GenerationTag.generation_id).where(GenerationTag.tag_id == _tag_id())
        conditions.append(Generation.id.in_(tagged))
    if "experiment_id" in present:
        in_experiment = (
            select(VariantGeneration.generation_id)
            .join(ExperimentVariant, ExperimentVariant.id == VariantGeneration.variant_id)
            .where(ExperimentVariant.experiment_id == bindparam("experiment_id"))
        )
        conditions.append(Generation.id.in_(in_experiment))
    if shape.tsquery:
        tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), bindparam("tsquery"))
        conditions.append(PG_TSVECTOR.op("@@")(tsquery))
    conditions.extend(
        Generation.prompt.ilike(bindparam(f"word_{n}"), escape=_LIKE_ESCAPE)
        for n in range(shape.like_words)
    )
    return conditions


def _tag_id() -> ColumnElement:
    return select(Tag.id).where(Tag.name == bindparam("tag")).scalar_subquery()


def matching_ids(shape: Shape) -> tuple[Select, list[ColumnElement]]:
    """(statement selecting the matching ids as `id`, the columns to order them by).

    Without a date filter the order is by id (recording order), walking the FTS index, the
    tag index or the table. With a date filter but no text or tag, the order is by
    `created_at`, then id, walking the `created_at` index: the same order in practice, and
    no sort of the whole date range.
    """
    before = "before_id" in shape.present
    if by_date(shape):
        conditions = _conditions(shape, skip_tag=False)
        if before:
            cursor_time = (
                select(Generation.created_at)
                .where(Generation.id == bindparam("before_id"))
                .scalar_subquery()
            )
            conditions.append(
                or_(
                    Generation.created_at < cursor_time,
                    and_(
                        Generation.created_at == cursor_time,
                        Generation.id < bindparam("before_id"),
                    ),
                )
            )
        stmt = select(Generation.id.label("id")).where(*conditions)
        return stmt, [Generation.created_at, Generation.id]
    if shape.fts:
        key: ColumnElement = FTS_TABLE.c.rowid
        stmt = (
            select(key.label("id"))
            .select_from(FTS_TABLE)
            .where(literal_column("generations_fts").op("MATCH")(bindparam("fts")))
        )
    elif "tag" in shape.present:
        key = GenerationTag.generation_id
        stmt = select(key.label("id")).where(GenerationTag.tag_id == _tag_id())
    else:
        key = Generation.id
        stmt = select(key.label("id"))
    conditions = _conditions(shape, skip_tag=key is GenerationTag.generation_id)
    if conditions:
        if key is not Generation.id:
            stmt = stmt.join(Generation, Generation.id == key)
        stmt = stmt.where(*conditions)
    if before:
        stmt = stmt.where(key < bindparam("before_id"))
    return stmt, [key]


@lru_cache(maxsize=256)
def page_statement_for(shape: Shape) -> Select:
    """The page statement of a shape; parameters `limit` and `offset` come with the values."""
    ids, keys = matching_ids(shape)
    page = (
        ids.order_by(*(key.desc() for key in keys))
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("page")
    )
    order = (
        (Generation.created_at.desc(), Generation.id.desc())
        if by_date(shape)
        else (Generation.id.desc(),)
    )
    return (
        select(*SUMMARY_COLUMNS)
        .join_from(Generation, page, page.c.id == Generation.id)
        .order_by(*order)
    )


@lru_cache(maxsize=256)
def count_statement_for(shape: Shape) -> Select:
    """The statement counting the matches of a shape (`before_id` respected)."""
    ids, _ = matching_ids(shape)
    return select(func.count()).select_from(ids.subquery("matches"))


def page_statement(query: GalleryQuery, *, mode: TextMode) -> tuple[Select, dict[str, Any]]:
    """One page (plus one row, to tell whether more follow) of summaries, newest first."""
    shape, params = shape_and_params(query, mode=mode)
    offset = 0 if query.before_id is not None else (query.page - 1) * query.page_size
    params.update(limit=query.page_size + 1, offset=offset)
    return page_statement_for(shape), params


def count_statement(query: GalleryQuery, *, mode: TextMode) -> tuple[Select, dict[str, Any]]:
    """How many generations match `query` (paging ignored, `before_id` respected)."""
    shape, params = shape_and_params(query, mode=mode)
    return count_statement_for(shape), params
