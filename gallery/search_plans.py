"""A look before a gallery page: how much a search's text and tag match, so the page takes the
plan that fits (`gallery.search.Plan`). No single plan serves a rare and a common word:

- PostgreSQL's planner walks the owner's newest rows checking each against the text (0.5 ms
  for a common word), even for a word in 100 prompts of a million (600 ms: every row
  visited); through the GIN index a rare word takes 1 ms, a common one seconds. So the page
  first asks the planner's own statistics (one `EXPLAIN`, about 1 ms; a capped count through
  the GIN index would build the whole bitmap of a common word first: 20-300 ms at a million
  rows) how many rows the owner has, how many the text matches, and how many each word
  matches on its own, and compares what each plan visits: the index reads every word's row
  list and then each match's row (`HEAP_VISIT` times a walked row), the walk reads
  page × owner's rows / matches rows. A rare conjunction of common words (`samurai rain`)
  walks; a rare word or a medium one (0.3 %) goes through the index. Words that come together
  (`steam locomotive`) fool the planner, which takes them as independent: several words' matches
  are also counted in a fixed 0.5 % sample of the table's pages (1-3 ms), and the larger count
  decides.
- SQLite's FTS5 gives its matches newest first and stops after a page, but a word's start
  (`"masterpi"*`) makes it merge every matching word's rows first; each start is spelled out
  as the words the index holds (`gallery.fts_terms`), and a word no prompt has ends the
  search before it starts.
- A tag: its id is looked up (an unknown tag ends the search) and its rows counted up to
  `TAG_CAP` through `(tag_id, generation_id)` (a fraction of a millisecond): a rare tag's rows
  give the candidates, a common tag is checked row by row while the page walks the index that
  fits the other filters.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select, text

import gallery.fts_terms as fts_terms
from gallery.models import GenerationTag, Tag
from gallery.records import GalleryQuery, normalize_tag
from gallery.search import DEFAULT_PLAN, Plan, TextMode, query_words, tsquery_expression

TAG_CAP = 2_000
# What a match visited through the GIN index costs against a row the walk checks: a random
# heap page against the next row of an index walk (measured at a million rows: 6-8 times).
HEAP_VISIT = 8.0
# Several words: their matches also counted in a sample of the table (see `_sampled_matches`).
SAMPLE_PERCENT = 0.5
SAMPLE_HITS = 5


def plan_search(
    connection: Connection, query: GalleryQuery, mode: TextMode, *, count_limit: int | None = None
) -> Plan:
    """The plan for `query`'s page (or, with `count_limit`, for counting its matches up to
    that many), after looking at its words and tag (see the module)."""
    words = query_words(query.text)
    text_driven, fts = True, None
    if words and mode == "fts5":
        fts = _expanded_fts(connection, words)
        if fts is None:
            return Plan(nothing=True)
    elif words and mode == "tsvector":
        skipped = 0 if query.before_id is not None else (query.page - 1) * query.page_size
        wanted = skipped + query.page_size + 1 if count_limit is None else count_limit
        text_driven = _index_pays(connection, words, query.user_id, max(wanted, 1))
    tag_id, tag_driven = None, True
    if query.tag is not None:
        tag_id = _tag_id(connection, query.tag)
        if tag_id is None:
            return Plan(nothing=True)
        # Counting, the tag's rows drive whatever their number: they are what is counted.
        if count_limit is None:
            tag_driven = _tag_rows(connection, tag_id) <= TAG_CAP
    if (text_driven, tag_driven, tag_id, fts) == (True, True, None, None):
        return DEFAULT_PLAN
    return Plan(text_driven=text_driven, tag_driven=tag_driven, tag_id=tag_id, fts=fts)


def _expanded_fts(connection: Connection, words: list[str]) -> str | None:
    """The FTS5 expression with each start spelled out as the indexed words that have it
    (a start that cannot be, kept as `"start"*`); None when a word starts no indexed word."""
    parts = []
    for word in words:
        terms = fts_terms.prefix_terms(connection, word)
        if terms is None:
            parts.append(f'"{word}"*')
        elif not terms:
            return None
        else:
            parts.append("(" + " OR ".join(f'"{term}"' for term in terms) + ")")
    return " AND ".join(parts)


def _index_pays(connection: Connection, words: list[str], user_id: str | None, wanted: int) -> bool:
    """PostgreSQL: whether reading the text's matches through the GIN index visits fewer rows
    than walking the owner's newest rows until a page is full (estimates: see the module)."""
    owned, rows, matches, *word_rows = _estimates(connection, words, user_id)
    if len(words) > 1:
        matches = max(matches, _sampled_matches(connection, words, user_id, rows))
    matches = max(matches, 1.0)
    through_index = sum(word_rows) + HEAP_VISIT * matches
    walking = wanted * min(owned, rows) / matches
    return through_index <= walking


def _estimates(connection: Connection, words: list[str], user_id: str | None) -> list[float]:
    """The planner's row estimates, in one `EXPLAIN`: the owner's rows, all rows, the owner's
    rows matching every word, then the rows matching each word alone."""
    owner = "user_id = :user_id" if user_id is not None else "TRUE"
    match = "prompt_tsv @@ to_tsquery('simple'::regconfig, :{})"
    parts = [
        f"SELECT 1 FROM generations WHERE {owner}",
        "SELECT 1 FROM generations",
        f"SELECT 1 FROM generations WHERE {owner} AND {match.format('every_word')}",
    ]
    params: dict[str, object] = {"user_id": user_id, "every_word": tsquery_expression(words)}
    for n, word in enumerate(words):
        parts.append(f"SELECT 1 FROM generations WHERE {match.format(f'word_{n}')}")
        params[f"word_{n}"] = tsquery_expression([word])
    explain = text("EXPLAIN (FORMAT JSON) " + " UNION ALL ".join(parts))
    (plan,) = connection.execute(explain, params).scalar_one()
    return [float(child["Plan Rows"]) for child in plan["Plan"]["Plans"]]


def _sampled_matches(
    connection: Connection,
    words: list[str],
    user_id: str | None,
    rows: float,
    percent: float = SAMPLE_PERCENT,
) -> float:
    """The owner's rows matching every word, counted in a fixed 0.5 % sample of the table's
    pages and scaled up; 0 when fewer than `SAMPLE_HITS` sampled rows match. The planner takes
    words as independent, so words that come together (`steam locomotive`) looked 30 times
    rarer than they are and sent a 3,600-match search through the index (80 ms, not 10)."""
    owner = "user_id = :user_id AND " if user_id is not None else ""
    sample = text(
        "SELECT count(*), count(*) FILTER (WHERE "
        f"{owner}prompt_tsv @@ to_tsquery('simple'::regconfig, :every_word)) "
        f"FROM generations TABLESAMPLE SYSTEM ({float(percent)}) REPEATABLE (7)"
    )
    params = {"user_id": user_id, "every_word": tsquery_expression(words)}
    seen, hits = connection.execute(sample, params).one()
    if not seen or hits < SAMPLE_HITS:
        return 0.0
    return float(hits) * rows / float(seen)


def _tag_id(connection: Connection, tag: str) -> int | None:
    return connection.scalar(select(Tag.id).where(Tag.name == normalize_tag(tag)))


def _tag_rows(connection: Connection, tag_id: int) -> int:
    """How many generations (of any owner) carry the tag, counted up to `TAG_CAP` + 1."""
    rows = select(GenerationTag.generation_id).where(GenerationTag.tag_id == tag_id)
    capped = rows.limit(TAG_CAP + 1).subquery()
    return int(connection.scalar(select(func.count()).select_from(capped)) or 0)
