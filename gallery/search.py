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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    column,
    exists,
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
from gallery.records import MAX_RATING, GalleryQuery, normalize_tag

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


@dataclass(frozen=True)
class Plan:
    """What `gallery.search_plans` found out before a page is read; the defaults need no look.

    - `text_driven`: the text index gives the page's candidates (a rare word), else every row
      the page walks is checked against the text (a common word). SQLite's FTS5 always drives:
      it returns its matches newest first and stops after a page.
    - `tag_driven`: the tag's rows give the candidates (a rare tag), else each row is checked;
      `tag_id`: the tag's id, looked up already (so the database plans for that very tag).
    - `fts`: SQLite's FTS5 expression with each word's start spelled out as the words the index
      holds (`gallery.fts_terms`); None: word starts (`"word"*`).
    - `nothing`: a word no prompt has, so nothing can match.
    """

    text_driven: bool = True
    tag_driven: bool = True
    tag_id: int | None = None
    fts: str | None = None
    nothing: bool = False


DEFAULT_PLAN = Plan()


class Shape(NamedTuple):
    """What a query's statement depends on (not the values): the key of the statement cache."""

    present: frozenset[str]
    mode: TextMode
    text: bool  # searched with the database's index (FTS5, tsvector)
    like_words: int
    text_driven: bool
    tag_driven: bool
    tag_known: bool  # the tag's id is a parameter (else looked up by name in the statement)
    rating_exact: bool  # `rating = 5`: the highest rating is one value, so an index walks it


def shape_and_params(
    query: GalleryQuery, *, mode: TextMode, plan: Plan = DEFAULT_PLAN
) -> tuple[Shape, dict[str, Any]]:
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
        params["fts"] = plan.fts or fts_expression(words)
    elif words and mode == "tsvector":
        params["tsquery"] = tsquery_expression(words)
    else:
        params.update((f"word_{n}", _like_pattern(word)) for n, word in enumerate(words))
        like_words = len(words)
    present = frozenset(name for name in _FIELDS if name in params)
    tag_known = "tag" in present and plan.tag_id is not None
    if tag_known:
        params["tag_id"] = plan.tag_id
        del params["tag"]
    text = "fts" in params or "tsquery" in params
    shape = Shape(
        present,
        mode,
        text,
        like_words,
        text_driven=text and (mode == "fts5" or plan.text_driven),
        tag_driven="tag" in present and plan.tag_driven,
        tag_known=tag_known,
        rating_exact=query.min_rating == MAX_RATING,
    )
    return shape, params


def by_date(shape: Shape) -> bool:
    """Whether pages are ordered by `created_at` (a date filter drives them) rather than id."""
    has_dates = bool(shape.present & {"created_from", "created_to"})
    return has_dates and _driver(shape) == "walk"


def _driver(shape: Shape) -> str:
    """What gives a page its candidates: `experiment` (its few images), `text` (the text
    index), `tag` (the tag's rows) or `walk` (an owner-first index of `generations`)."""
    if "experiment_id" in shape.present and shape.mode == "tsvector":
        return "experiment"
    if shape.text_driven:
        return "text"
    if shape.tag_driven:
        return "tag"
    return "walk"


def _conditions(shape: Shape, *, skip: str = "") -> list[ColumnElement]:
    """The WHERE conditions of a shape; `skip` names the one its driver already applies."""
    present = shape.present
    conditions: list[ColumnElement] = []
    if "model_id" in present:
        conditions.append(Generation.model_id == bindparam("model_id"))
    if "created_from" in present:
        conditions.append(Generation.created_at >= bindparam("created_from"))
    if "created_to" in present:
        conditions.append(Generation.created_at < bindparam("created_to"))
    if "min_rating" in present:
        rating = bindparam("min_rating")
        conditions.append(
            Generation.rating == rating if shape.rating_exact else Generation.rating >= rating
        )
    if "favourite" in present:
        conditions.append(Generation.favourite == bindparam("favourite"))
    if "seed" in present:
        conditions.append(Generation.seed == bindparam("seed"))
    if "user_id" in present:
        conditions.append(Generation.user_id == bindparam("user_id"))
    if "tag" in present and skip != "tag":
        if shape.tag_driven:
            tagged = select(GenerationTag.generation_id).where(
                GenerationTag.tag_id == _tag_id(shape)
            )
            conditions.append(Generation.id.in_(tagged))
        else:  # checked row by row, through the (generation_id, tag_id) key
            conditions.append(
                exists().where(
                    GenerationTag.generation_id == Generation.id,
                    GenerationTag.tag_id == _tag_id(shape),
                )
            )
    if "experiment_id" in present and skip != "experiment":
        conditions.append(Generation.id.in_(_experiment_members()))
    if shape.mode == "tsvector" and shape.text and skip != "text":
        tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), bindparam("tsquery"))
        if shape.text_driven:
            conditions.append(PG_TSVECTOR.op("@@")(tsquery))
        else:  # the same test as a function: no index can drive it, so the page walks
            conditions.append(func.ts_match_vq(PG_TSVECTOR, tsquery))
    conditions.extend(
        Generation.prompt.ilike(bindparam(f"word_{n}"), escape=_LIKE_ESCAPE)
        for n in range(shape.like_words)
    )
    return conditions


def _experiment_members() -> Select:
    return (
        select(VariantGeneration.generation_id)
        .join(ExperimentVariant, ExperimentVariant.id == VariantGeneration.variant_id)
        .where(ExperimentVariant.experiment_id == bindparam("experiment_id"))
    )


def _tag_id(shape: Shape) -> ColumnElement:
    if shape.tag_known:
        return bindparam("tag_id")
    return select(Tag.id).where(Tag.name == bindparam("tag")).scalar_subquery()


def matching_ids(shape: Shape) -> tuple[Select, list[ColumnElement]]:
    """(statement selecting the matching ids as `id`, the columns to order them by).

    The driver (`_driver`) decides where the candidates come from:
    - `walk`: `generations` itself, newest first through an owner-first index (the database
      picks which: `(user_id, model_id, rating, id)` for a model and the top rating, ...),
      each row checked against the rest; with a date filter the walk goes by `created_at`
      (the same order in practice, and no sort of the whole date range);
    - `tag`: a rare tag's rows, newest first through `(tag_id, generation_id)`;
    - `text`: SQLite's FTS5 matches, newest first; PostgreSQL's GIN index gives a rare text's
      matches in no order, so they are gathered in a `MATERIALIZED` CTE (else the planner may
      walk the whole table newest first instead) and those few sorted;
    - `experiment` (PostgreSQL): an experiment's images gathered the same way; SQLite takes
      them as an `IN` list it builds once.
    """
    before = "before_id" in shape.present
    driver = _driver(shape)
    if by_date(shape):
        conditions = _conditions(shape)
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
    if shape.mode == "tsvector" and driver in ("text", "experiment"):
        return _gathered(shape, driver, before)
    if driver == "text":  # SQLite FTS5
        key: ColumnElement = FTS_TABLE.c.rowid
        stmt = (
            select(key.label("id"))
            .select_from(FTS_TABLE)
            .where(literal_column("generations_fts").op("MATCH")(bindparam("fts")))
        )
    elif driver == "tag":
        key = GenerationTag.generation_id
        stmt = select(key.label("id")).where(GenerationTag.tag_id == _tag_id(shape))
    else:
        key = Generation.id
        stmt = select(key.label("id"))
    conditions = _conditions(shape, skip=driver)
    if conditions:
        if key is not Generation.id:
            stmt = stmt.join(Generation, Generation.id == key)
        stmt = stmt.where(*conditions)
    if before:
        stmt = stmt.where(key < bindparam("before_id"))
    return stmt, [key]


def _gathered(shape: Shape, driver: str, before: bool) -> tuple[Select, list[ColumnElement]]:
    """PostgreSQL: the candidates of `driver` gathered in a MATERIALIZED CTE, then sorted."""
    stmt = select(Generation.id)
    if driver == "experiment":
        stmt = stmt.where(Generation.id.in_(_experiment_members()))
    conditions = _conditions(shape, skip="experiment")
    if before:
        conditions.append(Generation.id < bindparam("before_id"))
    found = stmt.where(*conditions).cte("candidates").prefix_with("MATERIALIZED")
    return select(found.c.id.label("id")), [found.c.id]


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
def count_statement_for(shape: Shape, limited: bool = False) -> Select:
    """The statement counting the matches of a shape (`before_id` respected); `limited`: up
    to the parameter `count_limit` (it stops there: a page's status needs no more)."""
    ids, _ = matching_ids(shape)
    if limited:
        ids = ids.limit(bindparam("count_limit"))
    return select(func.count()).select_from(ids.subquery("matches"))


def page_statement(
    query: GalleryQuery, *, mode: TextMode, plan: Plan = DEFAULT_PLAN
) -> tuple[Select, dict[str, Any]]:
    """One page (plus one row, to tell whether more follow) of summaries, newest first; `plan`
    from `gallery.search_plans` (its defaults: the text and tag indexes drive)."""
    shape, params = shape_and_params(query, mode=mode, plan=plan)
    offset = 0 if query.before_id is not None else (query.page - 1) * query.page_size
    params.update(limit=query.page_size + 1, offset=offset)
    return page_statement_for(shape), params


def count_statement(
    query: GalleryQuery, *, mode: TextMode, plan: Plan = DEFAULT_PLAN, limit: int | None = None
) -> tuple[Select, dict[str, Any]]:
    """How many generations match `query` (paging ignored, `before_id` respected), counted up
    to `limit` when given."""
    shape, params = shape_and_params(query, mode=mode, plan=plan)
    if limit is None:
        return count_statement_for(shape), params
    params["count_limit"] = limit
    return count_statement_for(shape, limited=True), params
