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
from gallery.owners import EVERY_OWNER, LOCAL_OWNER

UTC = timezone.utc


def ids(page) -> list[int]:
    return [item.id for item in page.items]


@pytest.fixture
def five(local, make_generation) -> list[int]:
    prompts = [
        "a red fox in the snow",
        "portrait of an old sailor, oil painting",
        "a fox and a hare, watercolour",
        "city at night, neon, rain",
        "Foxes playing in autumn leaves",
    ]
    return [
        local.record_generation(make_generation(prompt=p, seed=100 + n))
        for n, p in enumerate(prompts)
    ]


def test_newest_first_with_page_numbers(local, five):
    first = local.search(GalleryQuery(page_size=2))
    assert ids(first) == [five[4], five[3]]
    assert first.has_more
    second = local.search(GalleryQuery(page=2, page_size=2))
    assert ids(second) == [five[2], five[1]]
    last = local.search(GalleryQuery(page=3, page_size=2))
    assert ids(last) == [five[0]]
    assert not last.has_more and last.next_before_id is None
    assert local.search(GalleryQuery(page=4, page_size=2)).items == ()


def test_keyset_paging_continues_after_the_last_id(local, five):
    first = local.search(GalleryQuery(page_size=3))
    rest = local.search(GalleryQuery(page_size=3, before_id=first.next_before_id))
    assert ids(first) + ids(rest) == list(reversed(five))
    assert not rest.has_more


def test_summaries_carry_the_thumbnail_and_image_paths(local, five):
    item = local.search(GalleryQuery(page_size=1)).items[0]
    assert item.thumbnail_path is not None and Path(item.thumbnail_path).is_file()
    assert item.image_path == str(local.get(item.id).image.path)
    assert item.seed == 104 and item.model_id == "runwayml/stable-diffusion-v1-5"


def test_full_text_search_matches_words_in_the_prompt(local, five):
    assert ids(local.search(GalleryQuery(text="fox"))) == [five[4], five[2], five[0]]
    assert ids(local.search(GalleryQuery(text="FOX snow"))) == [five[0]]
    assert ids(local.search(GalleryQuery(text="oil sailor"))) == [five[1]]
    assert ids(local.search(GalleryQuery(text="dragon"))) == []
    assert local.count(GalleryQuery(text="fox")) == 3


def test_search_text_with_operators_and_quotes_is_taken_literally(local, five):
    assert ids(local.search(GalleryQuery(text='"neon", (rain*)'))) == [five[3]]
    assert ids(local.search(GalleryQuery(text='NEAR("fox" -'))) == []  # no syntax error
    assert ids(local.search(GalleryQuery(text="100%_"))) == []
    # No words at all: no text filter.
    assert len(local.search(GalleryQuery(text="  ,;  ")).items) == 5


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


def test_search_does_not_look_in_the_negative_prompt(local, make_generation):
    local.record_generation(make_generation(prompt="a castle", negative_prompt="fox"))
    assert local.search(GalleryQuery(text="fox")).items == ()


def test_search_sees_deletions(local, five):
    local.delete(five[0])
    assert ids(local.search(GalleryQuery(text="snow"))) == []


def test_filter_by_model(local, make_generation):
    a = local.record_generation(make_generation(model_id="model-a"))
    local.record_generation(make_generation(model_id="model-b"))
    c = local.record_generation(make_generation(model_id="model-a"))
    assert ids(local.search(GalleryQuery(model_id="model-a"))) == [c, a]
    assert local.models() == ["model-a", "model-b"]


def test_filter_by_date_range(store, local, make_generation):
    old, new = (local.record_generation(make_generation()) for _ in range(2))
    with store.engine.begin() as connection:
        connection.execute(
            update(Generation)
            .where(Generation.id == old)
            .values(created_at=datetime(2024, 1, 15, 12, tzinfo=UTC))
        )
    january = GalleryQuery(
        created_from=datetime(2024, 1, 1, tzinfo=UTC), created_to=datetime(2024, 2, 1, tzinfo=UTC)
    )
    assert ids(local.search(january)) == [old]
    assert ids(local.search(GalleryQuery(created_from=datetime(2025, 1, 1, tzinfo=UTC)))) == [new]
    # The end is exclusive.
    assert local.search(GalleryQuery(created_to=datetime(2024, 1, 15, 12, tzinfo=UTC))).items == ()
    assert local.get(old).created_at == datetime(2024, 1, 15, 12, tzinfo=UTC)


def test_date_range_pages_are_newest_first_by_time_with_keyset_paging(
    store, local, make_generation
):
    made = [local.record_generation(make_generation()) for _ in range(5)]
    # Recorded out of time order (a clock set back): the date-filtered order follows the time.
    times = [datetime(2024, 3, day, tzinfo=UTC) for day in (5, 1, 4, 2, 3)]
    with store.engine.begin() as connection:
        for generation_id, when in zip(made, times, strict=True):
            connection.execute(
                update(Generation).where(Generation.id == generation_id).values(created_at=when)
            )
    march = {"created_from": datetime(2024, 3, 1, tzinfo=UTC)}
    by_time = [made[0], made[2], made[4], made[3], made[1]]
    first = local.search(GalleryQuery(page_size=2, **march))
    assert ids(first) == by_time[:2]
    second = local.search(GalleryQuery(page_size=2, before_id=first.next_before_id, **march))
    assert ids(second) == by_time[2:4]
    assert ids(local.search(GalleryQuery(page=3, page_size=2, **march))) == by_time[4:]
    assert local.count(GalleryQuery(**march)) == 5


def test_filter_by_rating_excludes_unrated(local, five):
    local.set_rating(five[0], 5)
    local.set_rating(five[1], 3)
    local.set_rating(five[2], 0)
    assert ids(local.search(GalleryQuery(min_rating=3))) == [five[1], five[0]]
    assert ids(local.search(GalleryQuery(min_rating=0))) == [five[2], five[1], five[0]]
    local.set_rating(five[0], None)
    assert local.get(five[0]).rating is None


def test_ratings_outside_0_to_5_are_refused(local, five):
    for bad in (6, -1, 2.5, True):
        with pytest.raises(GalleryError, match="rating must be a whole number from 0 to 5"):
            local.set_rating(five[0], bad)
    with pytest.raises(GalleryError, match="from 0 to 5"):
        local.search(GalleryQuery(min_rating=9))


def test_filter_by_tag(local, five):
    local.add_tag(five[1], "Portrait")
    local.add_tag(five[3], "portrait")
    local.add_tag(five[3], "night")
    local.add_tag(five[3], "night")  # twice is harmless
    assert ids(local.search(GalleryQuery(tag="PORTRAIT"))) == [five[3], five[1]]
    local.remove_tag(five[3], "portrait")
    local.remove_tag(five[3], "never-added")
    assert ids(local.search(GalleryQuery(tag="portrait"))) == [five[1]]
    assert local.get(five[3]).tags == ("night",)
    assert local.search(GalleryQuery(tag="unknown")).items == ()


def test_filter_by_favourite(local, five):
    local.set_favourite(five[2])
    local.set_favourite(five[4], True)
    local.set_favourite(five[4], False)
    assert ids(local.search(GalleryQuery(favourite=True))) == [five[2]]
    assert len(local.search(GalleryQuery(favourite=False)).items) == 4


def test_filter_by_seed(local, five):
    assert ids(local.search(GalleryQuery(seed=102))) == [five[2]]


def test_filter_by_user(store, local, make_generation):
    mine = store.for_owner("ada").record_generation(make_generation(user_id="ada"))
    store.for_owner("grace").record_generation(make_generation(user_id="grace"))
    assert ids(store.for_owner(EVERY_OWNER).search(GalleryQuery(user_id="ada"))) == [mine]
    assert ids(store.for_owner("ada").search(GalleryQuery(user_id="grace"))) == [mine]
    assert ids(local.search()) == []  # the local user owns neither


def test_filter_by_experiment(local, five):
    experiment = local.create_experiment("steps", ["20 steps", "30 steps"])
    local.add_to_variant(experiment.variants[0].id, five[1])
    local.add_to_variant(experiment.variants[1].id, five[3])
    other = local.create_experiment("other", ["only"])
    local.add_to_variant(other.variants[0].id, five[0])
    assert ids(local.search(GalleryQuery(experiment_id=experiment.id))) == [five[3], five[1]]


def test_filters_combine_with_text(local, five):
    local.set_rating(five[0], 4)
    local.set_rating(five[2], 2)
    local.set_favourite(five[0])
    assert ids(local.search(GalleryQuery(text="fox", min_rating=1))) == [five[2], five[0]]
    assert ids(local.search(GalleryQuery(text="fox", favourite=True, min_rating=4))) == [five[0]]
    assert local.count(GalleryQuery(text="fox", min_rating=1)) == 2
    page = local.search(GalleryQuery(text="fox", page_size=1, page=2))
    assert ids(page) == [five[2]] and page.has_more


def test_get_returns_everything_and_unknown_ids_are_not_found(local, five):
    local.set_notes(five[0], "try with more steps")
    record = local.get(five[0])
    assert record.notes == "try with more steps"
    assert len(record.images) == 1
    with pytest.raises(NotFoundError, match="no generation 9999"):
        local.get(9999)
    for action in (
        lambda: local.set_rating(9999, 1),
        lambda: local.set_favourite(9999),
        lambda: local.set_notes(9999, ""),
        lambda: local.add_tag(9999, "x"),
        lambda: local.lineage(9999),
    ):
        with pytest.raises(NotFoundError):
            action()


def test_lineage_lists_ancestors_root_first_and_all_descendants(local, make_generation):
    root = local.record_generation(make_generation(prompt="fox"))
    child = local.record_generation(make_generation(prompt="red fox", parent_id=root))
    grandchild = local.record_generation(make_generation(prompt="red fox, snow", parent_id=child))
    sibling = local.record_generation(make_generation(prompt="fox at night", parent_id=root))
    local.record_generation(make_generation(prompt="unrelated"))

    middle = local.lineage(child)
    assert middle.generation.id == child
    assert [g.id for g in middle.ancestors] == [root]
    assert [g.id for g in middle.descendants] == [grandchild]

    top = local.lineage(root)
    assert top.ancestors == ()
    assert [g.id for g in top.descendants] == [child, sibling, grandchild]
    assert [g.parent_id for g in top.descendants] == [root, root, child]

    assert [g.id for g in local.lineage(grandchild).ancestors] == [root, child]


def test_deleting_a_parent_keeps_the_children(local, make_generation):
    root = local.record_generation(make_generation())
    child = local.record_generation(make_generation(parent_id=root))
    local.delete(root)
    assert local.get(child).parent_id is None
    assert local.lineage(child).ancestors == ()


def test_delete_removes_rows_files_and_tags(local, five):
    local.add_tag(five[0], "keep-me")
    record = local.get(five[0])
    assert local.delete([five[0], five[1]]) == 2
    assert not record.image.path.exists()
    assert not record.image.thumbnail_path.exists()
    assert local.count() == 3
    assert local.tags() == []
    with pytest.raises(NotFoundError):
        local.get(five[0])


def test_delete_with_an_unknown_id_deletes_nothing(local, five):
    with pytest.raises(NotFoundError, match="no generation 12345"):
        local.delete([five[0], 12345])
    assert local.count() == 5
    assert local.get(five[0]).image.path.exists()


def test_export_zip_has_images_csv_and_json(local, five, tmp_path):
    local.add_tag(five[2], "fox")
    local.set_rating(five[2], 4)
    out = local.export_zip([five[2], five[0]], tmp_path / "out" / "foxes.zip")
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
    assert png == local.get(five[2]).image.path.read_bytes()
    assert read_metadata(png).prompt == "a fox and a hare, watercolour"
    assert [row["id"] for row in rows] == [str(five[2]), str(five[0])]
    assert rows[0]["prompt"] == "a fox and a hare, watercolour"
    assert rows[0]["seed"] == "102" and rows[0]["rating"] == "4" and rows[0]["tags"] == "fox"
    assert rows[0]["scheduler"] == "DPM++ 2M Karras"
    assert documents[0]["id"] == five[2]
    assert documents[0]["recipe"]["free_text"] == "a fox and a hare, watercolour"
    assert documents[0]["images"][0]["file"] == f"images/{five[2]}-102.png"
    assert [p.name for p in out.parent.iterdir()] == ["foxes.zip"]  # no temp file left


def test_export_refuses_unknown_ids_and_bad_names(local, five, tmp_path):
    with pytest.raises(NotFoundError):
        local.export_zip([five[0], 777], tmp_path / "x.zip")
    with pytest.raises(GalleryError, match=r"end in \.zip"):
        local.export_zip([five[0]], tmp_path / "x.tar")
    with pytest.raises(GalleryError, match="at least one"):
        local.export_zip([], tmp_path / "x.zip")
    assert list(tmp_path.glob("*.zip")) == []


def test_page_and_page_size_are_checked(local):
    with pytest.raises(GalleryError, match="page number"):
        local.search(GalleryQuery(page=0))
    with pytest.raises(GalleryError, match="page size"):
        local.search(GalleryQuery(page_size=5000))


def test_a_second_store_on_the_same_gallery_sees_the_same_rows(
    local, five, gallery_dir, database_url
):
    with GalleryStore.open(gallery_dir, database_url) as other:
        assert ids(other.for_owner(LOCAL_OWNER).search(GalleryQuery(text="fox"))) == [
            five[4],
            five[2],
            five[0],
        ]
        other.for_owner(LOCAL_OWNER).set_rating(five[1], 2)
    assert local.get(five[1]).rating == 2
    assert local.count() == 5


def test_created_at_is_recent_and_utc(local, five):
    created = local.get(five[0]).created_at
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)
