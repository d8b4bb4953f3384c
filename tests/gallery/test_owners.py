"""Owners: each owner sees, changes, exports and deletes only their own items, in the store.

Another owner's item is reported exactly as a missing one, so ids reveal nothing.
"""

from __future__ import annotations

import zipfile

import pytest

from gallery import GalleryError, GalleryQuery, NotFoundError, UserStyle
from gallery.owners import EVERY_OWNER


@pytest.fixture
def two(store, make_generation):
    """(ada's generation id, grace's generation id)."""
    ada = store.for_owner("ada").record_generation(
        make_generation(prompt="ada's fox", tags=("fox",))
    )
    grace = store.for_owner("grace").record_generation(
        make_generation(prompt="grace's owl", tags=("owl",), model_id="grace/model")
    )
    return ada, grace


def test_each_owner_reads_only_their_own(store, local, two):
    ada, grace = two
    ada_view = store.for_owner("ada")
    assert [i.id for i in ada_view.search().items] == [ada]
    assert [i.id for i in ada_view.search(GalleryQuery(text="owl")).items] == []
    assert [i.id for i in ada_view.search(GalleryQuery(user_id="grace")).items] == [ada]
    assert ada_view.count() == 1
    assert ada_view.get(ada).prompt == "ada's fox"
    assert ada_view.tags() == [("fox", 1)]
    assert "grace/model" not in ada_view.models()
    with pytest.raises(NotFoundError, match=f"There is no generation {grace}."):
        ada_view.get(grace)
    with pytest.raises(NotFoundError):
        ada_view.lineage(grace)
    assert local.search().items == ()  # the local user owns neither
    assert {i.id for i in store.for_owner(EVERY_OWNER).search().items} == {ada, grace}


def test_no_owner_changes_or_deletes_anothers(store, two, tmp_path):
    ada, grace = two
    ada_view = store.for_owner("ada")
    for change in (
        lambda: ada_view.set_rating(grace, 5),
        lambda: ada_view.set_favourite(grace, True),
        lambda: ada_view.set_notes(grace, "mine now"),
        lambda: ada_view.add_tag(grace, "stolen"),
        lambda: ada_view.remove_tag(grace, "owl"),
        lambda: ada_view.delete([ada, grace]),
        lambda: ada_view.export_zip([grace], tmp_path / "out.zip"),
    ):
        with pytest.raises(NotFoundError, match=f"There is no generation {grace}."):
            change()
    assert not (tmp_path / "out.zip").exists()
    kept = store.for_owner("grace").get(grace)
    assert (kept.rating, kept.favourite, kept.notes, kept.tags) == (None, False, "", ("owl",))
    assert kept.image.path.is_file()
    assert store.for_owner("ada").get(ada)  # the refused delete took nothing of ada's either

    ada_view.export_zip([ada], tmp_path / "mine.zip")
    with zipfile.ZipFile(tmp_path / "mine.zip") as archive:
        assert "grace" not in archive.read("settings.json").decode()
    assert ada_view.delete(ada) == 1
    assert store.for_owner(EVERY_OWNER).count() == 1


def test_a_generation_cannot_be_recorded_under_anothers_parent(store, two, make_generation):
    _ada, grace = two
    with pytest.raises(NotFoundError, match=f"no parent generation {grace}"):
        store.for_owner("ada").record_generation(make_generation(parent_id=grace))
    with pytest.raises(GalleryError, match="another owner"):
        store.for_owner("ada").record_generation(make_generation(user_id="grace"))
    with pytest.raises(GalleryError, match="one owner"):
        store.for_owner(EVERY_OWNER).record_generation(make_generation())


def test_same_image_is_each_owners_own(store, make_generation):
    """A file shared by content stays while any owner still has a row for it."""
    first = store.for_owner("ada").record_generation(make_generation(seed=5))
    assert not store.for_owner("grace").has_content(
        store.for_owner("ada").get(first).image.content_hash
    )
    second = store.for_owner("grace").record_generation(make_generation(seed=5))
    path = store.for_owner("grace").get(second).image.path
    store.for_owner("ada").delete(first)
    assert path.is_file() and store.for_owner("grace").get(second).image.path == path


def test_experiments_are_scoped(store, two):
    ada, grace = two
    mine = store.for_owner("ada").create_experiment("ada's", ["a", "b"])
    theirs = store.for_owner("grace").create_experiment("grace's", ["c"])
    assert [e.name for e in store.for_owner("ada").list_experiments()] == ["ada's"]
    for action in (
        lambda: store.for_owner("ada").get_experiment(theirs.id),
        lambda: store.for_owner("ada").set_winner(theirs.id, None),
        lambda: store.for_owner("ada").delete_experiment(theirs.id),
        lambda: store.for_owner("ada").add_to_variant(theirs.variants[0].id, ada),
        lambda: store.for_owner("ada").add_to_variant(mine.variants[0].id, grace),
    ):
        with pytest.raises(NotFoundError):
            action()
    store.for_owner("ada").add_to_variant(mine.variants[0].id, ada)
    assert store.for_owner("ada").get_experiment(mine.id).variants[0].generation_ids == (ada,)
    assert store.for_owner("grace").get_experiment(theirs.id).name == "grace's"


def test_user_styles_are_scoped(store, local):
    store.for_owner("ada").save_user_style(UserStyle("Ink", "Mine", "{prompt}, ink", ""))
    store.for_owner("grace").save_user_style(UserStyle("ink", "Theirs", "{prompt}, ink wash", ""))
    assert [s.category for s in store.for_owner("ada").list_user_styles()] == ["Mine"]
    with pytest.raises(NotFoundError):
        local.delete_user_style("Ink")  # the local user has none
    store.for_owner("grace").delete_user_style("INK")
    assert store.for_owner("grace").list_user_styles() == []
    assert [s.name for s in store.for_owner("ada").list_user_styles()] == ["Ink"]


def test_a_view_cannot_be_turned_into_another_owners(store, two):
    _ada, grace = two
    view = store.for_owner("ada")
    with pytest.raises(TypeError, match="owner"):
        view.get(grace, owner="grace")
    with pytest.raises(TypeError, match="owner"):
        view.search(owner=EVERY_OWNER)
    with pytest.raises(AttributeError):
        view.for_owner("grace")
    with pytest.raises(GalleryError):
        store.for_owner(None)  # the local user is named, never implied
    with pytest.raises(GalleryError):
        store.for_owner("  ")


@pytest.mark.parametrize("bad", [2**63, -1, 0, 10**30])
def test_ids_out_of_range_are_one_sentence(local, bad):
    with pytest.raises(NotFoundError, match="There is no"):
        local.get(bad)
    with pytest.raises(NotFoundError, match="There is no"):
        local.delete([bad])
    with pytest.raises(NotFoundError, match="There is no"):
        local.set_rating(bad, 3)


def test_ids_that_are_not_whole_numbers_are_refused(local):
    with pytest.raises(GalleryError, match="whole number"):
        local.get("1")  # type: ignore[arg-type]
    with pytest.raises(GalleryError, match="whole number"):
        local.get(1.5)  # type: ignore[arg-type]


def test_a_signed_out_gallery_is_claimed_at_sign_in(store, make_generation):
    kept = store.for_owner("browser:x").record_generation(make_generation(prompt="made signed out"))
    store.for_owner("browser:x").create_experiment("signed out", ["a"])
    store.for_owner("browser:x").save_user_style(UserStyle("Ink", "Old", "{prompt}, ink", ""))
    store.for_owner("hf:ada").save_user_style(UserStyle("Ink", "Kept", "{prompt}, ink", ""))
    store.for_owner("browser:x").save_user_style(UserStyle("Wash", "New", "{prompt}, wash", ""))
    assert store.admin().transfer_owner("browser:x", "hf:ada") == 1
    assert store.for_owner("hf:ada").get(kept).prompt == "made signed out"
    assert [e.name for e in store.for_owner("hf:ada").list_experiments()] == ["signed out"]
    styles = {s.name: s.category for s in store.for_owner("hf:ada").list_user_styles()}
    assert styles == {"Ink": "Kept", "Wash": "New"}
    assert store.for_owner("browser:x").search().items == ()


def test_rebuild_records_lost_rows_for_the_owner_given_and_leaves_others_images(
    store, make_generation
):
    """An image another owner's row still holds is no lost record: it is not copied."""
    from sqlalchemy import delete

    from gallery.models import Generation

    grace = store.for_owner("grace").record_generation(make_generation(seed=1))
    lost = store.for_owner("ada").record_generation(make_generation(seed=2, prompt="ada's"))
    with store.engine.begin() as connection:  # ada's row is lost; her file stays
        connection.execute(delete(Generation).where(Generation.id == lost))
    report = store.admin().rebuild(owner="ada")
    assert len(report.imported) == 1 and report.failed == ()
    assert [i.prompt for i in store.for_owner("ada").search().items] == ["ada's"]
    assert [i.id for i in store.for_owner("grace").search().items] == [grace]
    assert store.admin().rebuild(owner="ada").imported == ()
