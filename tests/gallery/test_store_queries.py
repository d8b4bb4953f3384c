"""Queries: newest first with paging, full-text search, every filter, get, lineage, delete,
export. Each test runs on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from gallery import GalleryError, GalleryQuery, GalleryStore, NotFoundError, read_metadata, search
from gallery.models import Generation
from gallery.owners import EVERY_OWNER

UTC = timezone.utc


def ids(page) -> list[int]:
    return [item.id for item in page.items]


@pytest.fixture
def five(store: GalleryStore, make_generation) -> list[int]:
    prompts = [
        "a red fox in the snow",
        "portrait of an old sailor, oil painting",
        "a fox and a hare, watercolour",
        "city at night, neon, rain",
        "Foxes playing in autumn leaves",
    ]
    return [
        store.record_generation(make_generation(prompt=p, seed=100 + n))
        for n, p in enumerate(prompts)
    ]


def test_newest_first_with_page_numbers(store, five):
    first = store.search(GalleryQuery(page_size=2))
    assert ids(first) == [five[4], five[3]]
    assert first.has_more
    second = store.search(GalleryQuery(page=2, page_size=2))
    assert ids(second) == [five[2], five[1]]
    last = store.search(GalleryQuery(page=3, page_size=2))
    assert ids(last) == [five[0]]
    assert not last.has_more and last.next_before_id is None
    assert store.search(GalleryQuery(page=4, page_size=2)).items == ()


def test_keyset_paging_continues_after_the_last_id(store, five):
    first = store.search(GalleryQuery(page_size=3))
    rest = store.search(GalleryQuery(page_size=3, before_id=first.next_before_id))
    assert ids(first) + ids(rest) == list(reversed(five))
    assert not rest.has_more


def test_summaries_carry_the_thumbnail_and_image_paths(store, five):
    item = store.search(GalleryQuery(page_size=1)).items[0]
    assert item.thumbnail_path is not None and Path(item.thumbnail_path).is_file()
    assert item.image_path == str(store.get(item.id).image.path)
    assert item.seed == 104 and item.model_id == "runwayml/stable-diffusion-v1-5"


def test_full_text_search_matches_words_in_the_prompt(store, five):
    assert ids(store.search(GalleryQuery(text="fox"))) == [five[4], five[2], five[0]]
    assert ids(store.search(GalleryQuery(text="FOX snow"))) == [five[0]]
    assert ids(store.search(GalleryQuery(text="oil sailor"))) == [five[1]]
    assert ids(store.search(GalleryQuery(text="dragon"))) == []
    assert store.count(GalleryQuery(text="fox")) == 3


def test_search_text_with_operators_and_quotes_is_taken_literally(store, five):
    assert ids(store.search(GalleryQuery(text='"neon", (rain*)'))) == [five[3]]
    assert ids(store.search(GalleryQuery(text='NEAR("fox" -'))) == []  # no syntax error
    assert ids(store.search(GalleryQuery(text="100%_"))) == []
    # No words at all: no text filter.
    assert len(store.search(GalleryQuery(text="  ,;  ")).items) == 5


@pytest.mark.parametrize("mode", ["like", "indexed"])
def test_every_search_mode_agrees_on_whole_words(store, five, mode):
    """The portable LIKE fallback (databases without a search index) and the index agree."""
    text_mode = search.text_mode(store.engine.dialect.name, store.uses_full_text_index)
    for text, expected in [
        ("fox", [five[4], five[2], five[0]]),
        ("FOX snow", [five[0]]),
        ("oil sailor", [five[1]]),
        ("night neon", [five[3]]),
        ("dragon", []),
    ]:
        query = GalleryQuery(text=text)
        statement, params = search.page_statement(
            query, mode="like" if mode == "like" else text_mode
        )
        with store.engine.connect() as connection:
            found = [row.id for row in connection.execute(statement, params)]
        assert found == expected, (mode, text)


def test_search_does_not_look_in_the_negative_prompt(store, make_generation):
    store.record_generation(make_generation(prompt="a castle", negative_prompt="fox"))
    assert store.search(GalleryQuery(text="fox")).items == ()


def test_search_sees_deletions(store, five):
    store.delete(five[0])
    assert ids(store.search(GalleryQuery(text="snow"))) == []


def test_filter_by_model(store, make_generation):
    a = store.record_generation(make_generation(model_id="model-a"))
    store.record_generation(make_generation(model_id="model-b"))
    c = store.record_generation(make_generation(model_id="model-a"))
    assert ids(store.search(GalleryQuery(model_id="model-a"))) == [c, a]
    assert store.models() == ["model-a", "model-b"]


def test_filter_by_date_range(store, make_generation):
    old, new = (store.record_generation(make_generation()) for _ in range(2))
    with store.engine.begin() as connection:
        connection.execute(
            update(Generation)
            .where(Generation.id == old)
            .values(created_at=datetime(2024, 1, 15, 12, tzinfo=UTC))
        )
    january = GalleryQuery(
        created_from=datetime(2024, 1, 1, tzinfo=UTC), created_to=datetime(2024, 2, 1, tzinfo=UTC)
    )
    assert ids(store.search(january)) == [old]
    assert ids(store.search(GalleryQuery(created_from=datetime(2025, 1, 1, tzinfo=UTC)))) == [new]
    # The end is exclusive.
    assert store.search(GalleryQuery(created_to=datetime(2024, 1, 15, 12, tzinfo=UTC))).items == ()
    assert store.get(old).created_at == datetime(2024, 1, 15, 12, tzinfo=UTC)


def test_date_range_pages_are_newest_first_by_time_with_keyset_paging(store, make_generation):
    made = [store.record_generation(make_generation()) for _ in range(5)]
    # Recorded out of time order (a clock set back): the date-filtered order follows the time.
    times = [datetime(2024, 3, day, tzinfo=UTC) for day in (5, 1, 4, 2, 3)]
    with store.engine.begin() as connection:
        for generation_id, when in zip(made, times, strict=True):
            connection.execute(
                update(Generation).where(Generation.id == generation_id).values(created_at=when)
            )
    march = {"created_from": datetime(2024, 3, 1, tzinfo=UTC)}
    by_time = [made[0], made[2], made[4], made[3], made[1]]
    first = store.search(GalleryQuery(page_size=2, **march))
    assert ids(first) == by_time[:2]
    second = store.search(GalleryQuery(page_size=2, before_id=first.next_before_id, **march))
    assert ids(second) == by_time[2:4]
    assert ids(store.search(GalleryQuery(page=3, page_size=2, **march))) == by_time[4:]
    assert store.count(GalleryQuery(**march)) == 5


def test_filter_by_rating_excludes_unrated(store, five):
    store.set_rating(five[0], 5)
    store.set_rating(five[1], 3)
    store.set_rating(five[2], 0)
    assert ids(store.search(GalleryQuery(min_rating=3))) == [five[1], five[0]]
    assert ids(store.search(GalleryQuery(min_rating=0))) == [five[2], five[1], five[0]]
    store.set_rating(five[0], None)
    assert store.get(five[0]).rating is None


def test_ratings_outside_0_to_5_are_refused(store, five):
    for bad in (6, -1, 2.5, True):
        with pytest.raises(GalleryError, match="rating must be a whole number from 0 to 5"):
            store.set_rating(five[0], bad)
    with pytest.raises(GalleryError, match="from 0 to 5"):
        store.search(GalleryQuery(min_rating=9))


def test_filter_by_tag(store, five):
    store.add_tag(five[1], "Portrait")
    store.add_tag(five[3], "portrait")
    store.add_tag(five[3], "night")
    store.add_tag(five[3], "night")  # twice is harmless
    assert ids(store.search(GalleryQuery(tag="PORTRAIT"))) == [five[3], five[1]]
    store.remove_tag(five[3], "portrait")
    store.remove_tag(five[3], "never-added")
    assert ids(store.search(GalleryQuery(tag="portrait"))) == [five[1]]
    assert store.get(five[3]).tags == ("night",)
    assert store.search(GalleryQuery(tag="unknown")).items == ()


def test_filter_by_favourite(store, five):
    store.set_favourite(five[2])
    store.set_favourite(five[4], True)
    store.set_favourite(five[4], False)
    assert ids(store.search(GalleryQuery(favourite=True))) == [five[2]]
    assert len(store.search(GalleryQuery(favourite=False)).items) == 4


def test_filter_by_seed(store, five):
    assert ids(store.search(GalleryQuery(seed=102))) == [five[2]]


def test_filter_by_user(store, make_generation):
    mine = store.record_generation(make_generation(user_id="ada"))
    store.record_generation(make_generation(user_id="grace"))
    assert ids(store.search(GalleryQuery(user_id="ada"), owner=EVERY_OWNER)) == [mine]
    assert ids(store.search(GalleryQuery(user_id="grace"), owner="ada")) == [mine]
    assert ids(store.search()) == []  # the local user owns neither


def test_filter_by_experiment(store, five):
    experiment = store.create_experiment("steps", ["20 steps", "30 steps"])
    store.add_to_variant(experiment.variants[0].id, five[1])
    store.add_to_variant(experiment.variants[1].id, five[3])
    other = store.create_experiment("other", ["only"])
    store.add_to_variant(other.variants[0].id, five[0])
    assert ids(store.search(GalleryQuery(experiment_id=experiment.id))) == [five[3], five[1]]


def test_filters_combine_with_text(store, five):
    store.set_rating(five[0], 4)
    store.set_rating(five[2], 2)
    store.set_favourite(five[0])
    assert ids(store.search(GalleryQuery(text="fox", min_rating=1))) == [five[2], five[0]]
    assert ids(store.search(GalleryQuery(text="fox", favourite=True, min_rating=4))) == [five[0]]
    assert store.count(GalleryQuery(text="fox", min_rating=1)) == 2
    page = store.search(GalleryQuery(text="fox", page_size=1, page=2))
    assert ids(page) == [five[2]] and page.has_more


def test_get_returns_everything_and_unknown_ids_are_not_found(store, five):
    store.set_notes(five[0], "try with more steps")
    record = store.get(five[0])
    assert record.notes == "try with more steps"
    assert len(record.images) == 1
    with pytest.raises(NotFoundError, match="no generation 9999"):
        store.get(9999)
    for action in (
        lambda: store.set_rating(9999, 1),
        lambda: store.set_favourite(9999),
        lambda: store.set_notes(9999, ""),
        lambda: store.add_tag(9999, "x"),
        lambda: store.lineage(9999),
    ):
        with pytest.raises(NotFoundError):
            action()


def test_lineage_lists_ancestors_root_first_and_all_descendants(store, make_generation):
    root = store.record_generation(make_generation(prompt="fox"))
    child = store.record_generation(make_generation(prompt="red fox", parent_id=root))
    grandchild = store.record_generation(make_generation(prompt="red fox, snow", parent_id=child))
    sibling = store.record_generation(make_generation(prompt="fox at night", parent_id=root))
    store.record_generation(make_generation(prompt="unrelated"))

    middle = store.lineage(child)
    assert middle.generation.id == child
    assert [g.id for g in middle.ancestors] == [root]
    assert [g.id for g in middle.descendants] == [grandchild]

    top = store.lineage(root)
    assert top.ancestors == ()
    assert [g.id for g in top.descendants] == [child, sibling, grandchild]
    assert [g.parent_id for g in top.descendants] == [root, root, child]

    assert [g.id for g in store.lineage(grandchild).ancestors] == [root, child]


def test_deleting_a_parent_keeps_the_children(store, make_generation):
    root = store.record_generation(make_generation())
    child = store.record_generation(make_generation(parent_id=root))
    store.delete(root)
    assert store.get(child).parent_id is None
    assert store.lineage(child).ancestors == ()


def test_delete_removes_rows_files_and_tags(store, five):
    store.add_tag(five[0], "keep-me")
    record = store.get(five[0])
    assert store.delete([five[0], five[1]]) == 2
    assert not record.image.path.exists()
    assert not record.image.thumbnail_path.exists()
    assert store.count() == 3
    assert store.tags() == []
    with pytest.raises(NotFoundError):
        store.get(five[0])


def test_delete_with_an_unknown_id_deletes_nothing(store, five):
    with pytest.raises(NotFoundError, match="no generation 12345"):
        store.delete([five[0], 12345])
    assert store.count() == 5
    assert store.get(five[0]).image.path.exists()


def test_export_zip_has_images_csv_and_json(store, five, tmp_path):
    store.add_tag(five[2], "fox")
    store.set_rating(five[2], 4)
    out = store.export_zip([five[2], five[0]], tmp_path / "out" / "foxes.zip")
    with zipfile.ZipFile(out) as archive:
        names = sorted(archive.namelist())
        assert names == [
            f"images/{five[0]}-100.png",
            f"images/{five[2]}-102.png",
            "settings.csv",
            "settings.json",
        ]
        png = archive.read(f"images/{five[2]}-102.png")
        rows = list(csv.DictReader(io.StringIO(archive.read("settings.csv").decode())))
        documents = json.loads(archive.read("settings.json"))
    assert png == store.get(five[2]).image.path.read_bytes()
    assert read_metadata(png).prompt == "a fox and a hare, watercolour"
    assert [row["id"] for row in rows] == [str(five[2]), str(five[0])]
    assert rows[0]["prompt"] == "a fox and a hare, watercolour"
    assert rows[0]["seed"] == "102" and rows[0]["rating"] == "4" and rows[0]["tags"] == "fox"
    assert rows[0]["scheduler"] == "DPM++ 2M Karras"
    assert documents[0]["id"] == five[2]
    assert documents[0]["recipe"]["free_text"] == "a fox and a hare, watercolour"
    assert documents[0]["images"][0]["file"] == f"images/{five[2]}-102.png"
    assert [p.name for p in out.parent.iterdir()] == ["foxes.zip"]  # no temp file left


def test_export_refuses_unknown_ids_and_bad_names(store, five, tmp_path):
    with pytest.raises(NotFoundError):
        store.export_zip([five[0], 777], tmp_path / "x.zip")
    with pytest.raises(GalleryError, match=r"end in \.zip"):
        store.export_zip([five[0]], tmp_path / "x.tar")
    with pytest.raises(GalleryError, match="at least one"):
        store.export_zip([], tmp_path / "x.zip")
    assert list(tmp_path.glob("*.zip")) == []


def test_page_and_page_size_are_checked(store):
    with pytest.raises(GalleryError, match="page number"):
        store.search(GalleryQuery(page=0))
    with pytest.raises(GalleryError, match="page size"):
        store.search(GalleryQuery(page_size=5000))


def test_a_second_store_on_the_same_gallery_sees_the_same_rows(
    store, five, gallery_dir, database_url
):
    with GalleryStore.open(gallery_dir, database_url) as other:
        assert ids(other.search(GalleryQuery(text="fox"))) == [five[4], five[2], five[0]]
        other.set_rating(five[1], 2)
    assert store.get(five[1]).rating == 2
    assert store.count() == 5


def test_created_at_is_recent_and_utc(store, five):
    created = store.get(five[0]).created_at
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)
