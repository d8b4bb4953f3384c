"""Search plans at scale: whatever plan a page takes (a word's index or a walk of the newest
rows, a tag's rows or a check per row, word starts spelled out as whole words), it finds exactly
the rows a plain reading of the filters finds; the planner gets statistics by itself; and on
SQLite the pages use the owner-first indexes without sorting. Runs on SQLite and PostgreSQL,
on a few thousand rows of several owners written in bulk (as `bench/gallery_scale.py` writes a
million)."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import insert, text

from gallery import GalleryQuery, GalleryStore, search, search_plans
from gallery.database import alembic_config, writer
from gallery.fts_terms import prefix_terms
from gallery.models import Generation, GenerationTag, Tag
from gallery.owners import LOCAL_OWNER
from gallery.planner_statistics import PlannerStatistics
from gallery.search_plans import plan_search

UTC = timezone.utc
OTHER = "user:ada"
ROWS = 3_000
COMMON = ("fox", "castle", "masterpiece", "rain")
RARE = "axolotl"  # in 6 prompts
START = datetime(2026, 1, 1, tzinfo=UTC)


def _prompt(rng: random.Random, n: int) -> str:
    words = [rng.choice(COMMON), rng.choice(("oil painting", "watercolour", "pixel art"))]
    if rng.random() < 0.5:
        words.append("masterpiece")
    if n % 500 == 7:
        words.append(RARE)
    words.append(f"w{n % 97}")  # 97 words that start with "w"
    return ", ".join(words)


@pytest.fixture(autouse=True)
def _small_tag_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A common tag here has 1,000 rows; at a million it has many more than `TAG_CAP`."""
    monkeypatch.setattr(search_plans, "TAG_CAP", 500)


@pytest.fixture
def grown(store: GalleryStore) -> list[dict]:
    """`ROWS` generations, a fifth of them another owner's, tags common and rare, analyzed."""
    return _grow(store)


def _grow(store: GalleryStore) -> list[dict]:
    rng = random.Random(5)
    rows = [
        {
            "batch_id": f"{n:032x}",
            "created_at": START + timedelta(hours=n),
            "user_id": OTHER if n % 5 == 0 else LOCAL_OWNER,
            "source": "generated",
            "recipe": {},
            "prompt": _prompt(rng, n),
            "negative_prompt": "",
            "seed": n,
            "model_id": rng.choice(("sd15", "sd15", "sdxl", "rare-model")),
            "settings": {},
            "provenance": {},
            "versions": {},
            "timings": {},
            "rating": rng.choice((None, None, 1, 3, 4, 5)),
            "favourite": n % 20 == 0,
            "notes": "",
        }
        for n in range(ROWS)
    ]
    with writer(store.engine).begin() as connection:
        ids = connection.execute(
            insert(Generation).returning(Generation.id, sort_by_parameter_order=True), rows
        ).scalars()
        for row, generation_id in zip(rows, ids, strict=True):
            row["id"] = generation_id
        connection.execute(insert(Tag), [{"name": "keeper"}, {"name": "print"}])
        tag_ids = dict(connection.execute(text("SELECT name, id FROM tags")).all())
        tagged = []
        for row in rows:
            row["tags"] = set()
            if row["id"] % 3 == 0:
                row["tags"].add("keeper")
            if row["id"] % 400 == 2:
                row["tags"].add("print")
            tagged += [{"generation_id": row["id"], "tag_id": tag_ids[t]} for t in row["tags"]]
        connection.execute(insert(GenerationTag), tagged)
    store.admin().optimize()
    return rows


def _reference(rows: list[dict], query: GalleryQuery) -> list[int]:
    """The ids a plain reading of `query` finds (words match word starts, any case)."""
    words = [w.lower() for w in search.query_words(query.text)]
    found = []
    for row in rows:
        prompt_words = [w.lower() for w in re.findall(r"[^\W_]+", row["prompt"])]
        if query.user_id is not None and row["user_id"] != query.user_id:
            continue
        if not all(any(p.startswith(w) for p in prompt_words) for w in words):
            continue
        if query.model_id is not None and row["model_id"] != query.model_id:
            continue
        if query.min_rating is not None and (row["rating"] or -1) < query.min_rating:
            continue
        if query.favourite and not row["favourite"]:
            continue
        if query.tag is not None and query.tag not in row["tags"]:
            continue
        if query.created_from is not None and row["created_at"] < query.created_from:
            continue
        if query.created_to is not None and row["created_at"] >= query.created_to:
            continue
        found.append(row["id"])
    return sorted(found, reverse=True)


QUERIES = [
    {},
    {"text": RARE},
    {"text": "axo"},
    {"text": "fox"},
    {"text": "masterpi"},
    {"text": "FOX oil"},
    {"text": "w"},  # starts 97 words: more than a start may expand into
    {"text": "w1"},
    {"text": "zebra"},
    {"text": "castle", "model_id": "rare-model"},
    {"text": "rain", "tag": "print"},
    {"model_id": "sd15"},
    {"model_id": "rare-model", "min_rating": 5},
    {"min_rating": 4},
    {"min_rating": 5, "tag": "keeper"},
    {"favourite": True},
    {"tag": "keeper"},
    {"tag": "print"},
    {"tag": "never used"},
    {"created_from": START + timedelta(days=30), "created_to": START + timedelta(days=60)},
    {"created_from": START + timedelta(days=30), "tag": "keeper", "text": "rain"},
]


@pytest.mark.parametrize("fields", QUERIES, ids=[str(q) for q in QUERIES])
def test_every_plan_finds_what_the_filters_say(store, grown, fields):
    owner = store.for_owner(LOCAL_OWNER)
    expected = _reference(grown, GalleryQuery(user_id=LOCAL_OWNER, **fields))
    pages, before = [], None
    while True:  # keyset paging through everything, 40 at a time
        page = owner.search(GalleryQuery(page_size=40, before_id=before, **fields))
        pages += [item.id for item in page.items]
        if not page.has_more:
            break
        before = page.next_before_id
    if "created_from" in fields and "tag" not in fields:  # by time, which here is by id too
        assert pages == expected
    assert pages == expected
    third = owner.search(GalleryQuery(page_size=25, page=3, **fields))
    assert [item.id for item in third.items] == expected[50:75]
    assert owner.count(GalleryQuery(**fields)) == len(expected)


@pytest.mark.parametrize("fields", QUERIES[:12], ids=[str(q) for q in QUERIES[:12]])
def test_counts_stop_after_their_limit(store, grown, fields):
    owner = store.for_owner(LOCAL_OWNER)
    exact = len(_reference(grown, GalleryQuery(user_id=LOCAL_OWNER, **fields)))
    assert owner.count(GalleryQuery(**fields)) == exact
    for limit in (0, 5, 100, 1_000):
        assert owner.count(GalleryQuery(**fields), limit=limit) == min(exact, limit + 1)


def test_menus_of_models_and_tags_keep_to_the_owner(store, grown):
    owner = store.for_owner(LOCAL_OWNER)
    other = store.for_owner(OTHER)
    with writer(store.engine).begin() as connection:  # a model only the other owner has
        connection.execute(
            text("UPDATE generations SET model_id = 'theirs' WHERE id = :id"),
            {"id": next(r["id"] for r in grown if r["user_id"] == OTHER)},
        )
    mine = sorted({r["model_id"] for r in grown if r["user_id"] == LOCAL_OWNER})
    assert owner.models() == mine
    assert "theirs" in other.models() and "theirs" not in owner.models()
    exact = {
        tag: sum(1 for r in grown if r["user_id"] == LOCAL_OWNER and tag in r["tags"])
        for tag in ("keeper", "print")
    }
    assert exact["print"] and owner.tags() == sorted(exact.items())
    for limit in (0, 3, 100, 5_000):
        capped = [(tag, min(count, limit + 1)) for tag, count in sorted(exact.items())]
        assert owner.tags(limit=limit) == capped
    assert store.for_owner("nobody").tags(limit=10) == []


def test_rare_and_common_words_and_tags_take_different_plans(store, grown):
    mode = search.text_mode(store.engine.dialect.name, store.uses_full_text_index)
    with store.engine.connect() as connection:

        def plan(**fields):
            return plan_search(connection, GalleryQuery(user_id=LOCAL_OWNER, **fields), mode)

        assert plan(tag="print").tag_driven and not plan(tag="keeper").tag_driven
        assert plan(tag="print").tag_id is not None and plan(tag="nothing").nothing
        assert len([r for r in grown if "print" in r["tags"]]) <= search_plans.TAG_CAP
        if mode == "tsvector":
            assert plan(text=RARE).text_driven
            assert not plan(text="masterpiece").text_driven
        else:
            assert plan(text="masterpi").fts == '("masterpiece")'
            assert plan(text="fox ax").fts == '("fox") AND ("axolotl")'
            assert plan(text="zebra").nothing
            assert plan(text="w").fts == '"w"*'  # too many words start so: FTS5 merges them


def test_the_top_rating_is_one_value_in_the_statement(store):
    mode = search.text_mode(store.engine.dialect.name, store.uses_full_text_index)
    top, _ = search.page_statement(GalleryQuery(min_rating=5), mode=mode)
    four, _ = search.page_statement(GalleryQuery(min_rating=4), mode=mode)
    assert "generations.rating = " in str(top) and "generations.rating >= " in str(four)


PLANNED_PAGES = {
    "newest": ({}, "ix_generations_user_id_id"),
    "month": (
        {"created_from": START + timedelta(days=30), "created_to": START + timedelta(days=60)},
        "ix_generations_user_id_created_at_id",
    ),
    "model": ({"model_id": "sdxl"}, "ix_generations_user_id_model_id_id"),
    "model and top rating": (
        {"model_id": "sdxl", "min_rating": 5},
        "ix_generations_user_id_model_id_rating_id",
    ),
    "top rating": ({"min_rating": 5}, "ix_generations_user_id_rating_id"),
    "favourites": ({"favourite": True}, "ix_generations_user_id_favourite_id"),
    "rare tag": ({"tag": "print"}, "ix_generation_tags_tag_id_generation_id"),
}


@pytest.mark.parametrize("name", PLANNED_PAGES)
def test_sqlite_pages_walk_owner_first_indexes_without_sorting(sqlite_store, name):
    """EXPLAIN QUERY PLAN of pages the bench measures, with the statistics the store made:
    the page's ids come newest first from an owner-first index (only the page's own 41 rows
    are sorted, once, by the outer query)."""
    _grow(sqlite_store)
    fields, index = PLANNED_PAGES[name]
    query = GalleryQuery(user_id=LOCAL_OWNER, page_size=40, **fields)
    with sqlite_store.engine.connect() as connection:
        plan = plan_search(connection, query, "fts5")
        statement, params = search.page_statement(query, mode="fts5", plan=plan)
        compiled = statement.compile(sqlite_store.engine)
        values = compiled.construct_params(params)
        raw = connection.connection.driver_connection
        positional = [values[name] for name in compiled.positiontup]
        steps = [row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {compiled}", positional)]
    assert any(index in step for step in steps), steps
    assert sum("TEMP B-TREE" in step for step in steps) == 1, steps


def test_statistics_come_after_migrations_and_every_few_recordings(tmp_path, make_generation):
    with GalleryStore.open(tmp_path / "g") as store:
        with store.engine.connect() as connection:
            analyzed = connection.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar()
        assert analyzed  # the migration's new indexes got statistics
        statistics = PlannerStatistics(store.engine, "fts5", every=2)
        store.records._statistics = statistics
        local = store.for_owner(LOCAL_OWNER)
        local.record_generation(make_generation(prompt="a quokka"))
        with store.engine.connect() as connection:
            # Not yet moved to the terms, yet a start finds it through the pending words.
            assert (
                connection.execute(text("SELECT count(*) FROM generations_fts_terms")).scalar() == 0
            )
            assert prefix_terms(connection, "quo") == ["quokka"]
        local.record_generation(make_generation(prompt="a quoll"))
        with store.engine.connect() as connection:
            terms = connection.execute(text("SELECT term FROM generations_fts_terms")).scalars()
            assert set(terms) == {"a", "quokka", "quoll"}
            pending = text("SELECT count(*) FROM generations_fts_pending_vocab")
            assert connection.execute(pending).scalar() == 0
            assert prefix_terms(connection, "QUO") == ["quokka", "quoll"]
        assert [i.id for i in local.search(GalleryQuery(text="quo")).items] == [2, 1]


def test_upgrading_a_sqlite_gallery_lists_the_words_of_its_prompts(tmp_path, make_generation):
    gallery_dir = tmp_path / "gallery"
    with GalleryStore.open(gallery_dir) as store:
        local = store.for_owner(LOCAL_OWNER)
        café = local.record_generation(make_generation(prompt="Café au lait, Zürich"))
        with writer(store.engine).begin() as connection:
            command.downgrade(alembic_config(connection), "0005")
        local.record_generation(make_generation(prompt="a narwhal"))  # as an older release
    with GalleryStore.open(gallery_dir) as store:
        local = store.for_owner(LOCAL_OWNER)
        with store.engine.connect() as connection:
            assert prefix_terms(connection, "nar") == ["narwhal"]
            assert prefix_terms(connection, "zur") == ["zurich"]  # the index folds accents
            assert prefix_terms(connection, "x") == []
            assert prefix_terms(connection, "zü") is None  # not ASCII: FTS5 matches the start
        for words in ("caf", "Café", "zü", "CAFÉ AU"):
            assert [i.id for i in local.search(GalleryQuery(text=words)).items] == [café]


def test_words_that_come_together_are_counted_in_a_sample_not_taken_as_independent(store, grown):
    """PostgreSQL's planner multiplies the words' frequencies; 'oil painting' always comes as
    a pair, so it is three times commoner than the planner thinks. The sample (whole here,
    0.5 % of the pages at a million rows) counts the pairs themselves."""
    if search.text_mode(store.engine.dialect.name, store.uses_full_text_index) != "tsvector":
        pytest.skip("PostgreSQL's planner estimates only")
    words = ["oil", "painting"]
    actual = len(_reference(grown, GalleryQuery(user_id=LOCAL_OWNER, text="oil painting")))
    with store.engine.connect() as connection:
        independent = search_plans._estimates(connection, words, LOCAL_OWNER)[2]
        sampled = search_plans._sampled_matches(
            connection, words, LOCAL_OWNER, rows=len(grown), percent=100
        )
    assert sampled == actual
    assert independent < actual / 2  # what the sample corrects
