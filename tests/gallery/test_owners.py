"""Owners: each owner sees, changes, exports and deletes only their own items, in the store.

Another owner's item is reported exactly as a missing one, so ids reveal nothing.
"""

from __future__ import annotations

import zipfile

import pytest

from gallery import GalleryError, GalleryQuery, NotFoundError, UserStyle
from gallery.owners import EVERY_OWNER, LOCAL_OWNER


@pytest.fixture
def two(store, make_generation):
    """(ada's generation id, grace's generation id)."""
    ada = store.record_generation(make_generation(prompt="ada's fox", tags=("fox",)), owner="ada")
    grace = store.record_generation(
        make_generation(prompt="grace's owl", tags=("owl",), model_id="grace/model"),
        owner="grace",
    )
    return ada, grace


def test_each_owner_reads_only_their_own(store, two):
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
    assert store.search().items == ()  # the local user owns neither
    assert {i.id for i in store.search(owner=EVERY_OWNER).items} == {ada, grace}


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
    kept = store.get(grace, owner="grace")
    assert (kept.rating, kept.favourite, kept.notes, kept.tags) == (None, False, "", ("owl",))
    assert kept.image.path.is_file()
    assert store.get(ada, owner="ada")  # the refused delete took nothing of ada's either

    ada_view.export_zip([ada], tmp_path / "mine.zip")
    with zipfile.ZipFile(tmp_path / "mine.zip") as archive:
        assert "grace" not in archive.read("settings.json").decode()
    assert ada_view.delete(ada) == 1
    assert store.count(owner=EVERY_OWNER) == 1


def test_a_generation_cannot_be_recorded_under_anothers_parent(store, two, make_generation):
    _ada, grace = two
    with pytest.raises(NotFoundError, match=f"no parent generation {grace}"):
        store.record_generation(make_generation(parent_id=grace), owner="ada")
    with pytest.raises(GalleryError, match="another owner"):
        store.record_generation(make_generation(user_id="grace"), owner="ada")
    with pytest.raises(GalleryError, match="one owner"):
        store.record_generation(make_generation(), owner=EVERY_OWNER)


def test_same_image_is_each_owners_own(store, make_generation):
    """A file shared by content stays while any owner still has a row for it."""
    first = store.record_generation(make_generation(seed=5), owner="ada")
    assert not store.has_content(store.get(first, owner="ada").image.content_hash, owner="grace")
    second = store.record_generation(make_generation(seed=5), owner="grace")
    path = store.get(second, owner="grace").image.path
    store.delete(first, owner="ada")
    assert path.is_file() and store.get(second, owner="grace").image.path == path


def test_experiments_are_scoped(store, two):
    ada, grace = two
    mine = store.create_experiment("ada's", ["a", "b"], owner="ada")
    theirs = store.create_experiment("grace's", ["c"], owner="grace")
    assert [e.name for e in store.list_experiments(owner="ada")] == ["ada's"]
    for action in (
        lambda: store.get_experiment(theirs.id, owner="ada"),
        lambda: store.set_winner(theirs.id, None, owner="ada"),
        lambda: store.delete_experiment(theirs.id, owner="ada"),
        lambda: store.add_to_variant(theirs.variants[0].id, ada, owner="ada"),
        lambda: store.add_to_variant(mine.variants[0].id, grace, owner="ada"),
    ):
        with pytest.raises(NotFoundError):
            action()
    store.add_to_variant(mine.variants[0].id, ada, owner="ada")
    assert store.get_experiment(mine.id, owner="ada").variants[0].generation_ids == (ada,)
    assert store.get_experiment(theirs.id, owner="grace").name == "grace's"


def test_user_styles_are_scoped(store):
    store.save_user_style(UserStyle("Ink", "Mine", "{prompt}, ink", ""), owner="ada")
    store.save_user_style(UserStyle("ink", "Theirs", "{prompt}, ink wash", ""), owner="grace")
    assert [s.category for s in store.for_owner("ada").list_user_styles()] == ["Mine"]
    with pytest.raises(NotFoundError):
        store.delete_user_style("Ink")  # the local user has none
    store.for_owner("grace").delete_user_style("INK")
    assert store.list_user_styles(owner="grace") == []
    assert [s.name for s in store.list_user_styles(owner="ada")] == ["Ink"]


def test_a_view_cannot_be_turned_into_another_owners(store, two):
    _ada, grace = two
    view = store.for_owner("ada")
    with pytest.raises(GalleryError, match="one owner"):
        view.get(grace, owner="grace")
    with pytest.raises(GalleryError, match="one owner"):
        view.search(owner=EVERY_OWNER)
    with pytest.raises(AttributeError):
        view.for_owner("grace")
    assert store.for_owner(None).owner == LOCAL_OWNER
    with pytest.raises(GalleryError):
        store.for_owner("  ")


@pytest.mark.parametrize("bad", [2**63, -1, 0, 10**30])
def test_ids_out_of_range_are_one_sentence(store, bad):
    with pytest.raises(NotFoundError, match="There is no"):
        store.get(bad)
    with pytest.raises(NotFoundError, match="There is no"):
        store.delete([bad])
    with pytest.raises(NotFoundError, match="There is no"):
        store.set_rating(bad, 3)


def test_ids_that_are_not_whole_numbers_are_refused(store):
    with pytest.raises(GalleryError, match="whole number"):
        store.get("1")  # type: ignore[arg-type]
    with pytest.raises(GalleryError, match="whole number"):
        store.get(1.5)  # type: ignore[arg-type]


def test_a_signed_out_gallery_is_claimed_at_sign_in(store, make_generation):
    kept = store.record_generation(make_generation(prompt="made signed out"), owner="browser:x")
    store.create_experiment("signed out", ["a"], owner="browser:x")
    store.save_user_style(UserStyle("Ink", "Old", "{prompt}, ink", ""), owner="browser:x")
    store.save_user_style(UserStyle("Ink", "Kept", "{prompt}, ink", ""), owner="hf:ada")
    store.save_user_style(UserStyle("Wash", "New", "{prompt}, wash", ""), owner="browser:x")
    assert store.transfer_owner("browser:x", "hf:ada") == 1
    assert store.get(kept, owner="hf:ada").prompt == "made signed out"
    assert [e.name for e in store.list_experiments(owner="hf:ada")] == ["signed out"]
    styles = {s.name: s.category for s in store.list_user_styles(owner="hf:ada")}
    assert styles == {"Ink": "Kept", "Wash": "New"}
    assert store.search(owner="browser:x").items == ()
