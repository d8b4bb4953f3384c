"""A style file import is bounded: at most `MAX_STYLES_PER_FILE` styles, planned reading the
user's styles once (not once per style), and saved in one transaction."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gallery.errors import GalleryError
from gallery.owners import LOCAL_OWNER
from gallery.store import GalleryStore
from prompts.style_import import (
    MAX_STYLES_PER_FILE,
    apply_style_import,
    plan_style_import,
    read_style_file,
)
from prompts.styles import Style, StyleFileError, StyleLibrary


def styles_csv(path, count: int):
    rows = ["name,prompt,negative_prompt"]
    rows += [f"style {i},a {{prompt}} {i},bad {i}" for i in range(count)]
    path.write_text("\n".join(rows), encoding="utf-8")
    return path


def test_a_file_with_too_many_styles_is_refused_in_one_sentence(tmp_path):
    path = styles_csv(tmp_path / "styles.csv", 200_000)
    with pytest.raises(StyleFileError, match=r"holds 200,000 styles; import at most 2,000"):
        read_style_file(path)


class CountingStore:
    """A user style store that counts how often it is read."""

    def __init__(self) -> None:
        self.saved: list[Style] = []
        self.reads = 0

    def list_user_styles(self) -> list[Style]:
        self.reads += 1
        return list(self.saved)

    def save_user_style(self, style: Style) -> None:
        self.saved.append(style)

    def delete_user_style(self, name: str) -> None:
        raise NotImplementedError


def test_planning_reads_the_users_styles_once(tmp_path):
    store = CountingStore()
    library = StyleLibrary(user=store)
    source = read_style_file(styles_csv(tmp_path / "styles.csv", MAX_STYLES_PER_FILE))
    plan = plan_style_import(library, source)
    assert len(plan.added) == MAX_STYLES_PER_FILE
    assert store.reads <= 2


def test_an_import_into_the_gallery_is_one_transaction(tmp_path):
    with GalleryStore.open(tmp_path / "gallery") as opened:
        owner = opened.for_owner(LOCAL_OWNER)
        library = StyleLibrary(user=owner)
        source = read_style_file(styles_csv(tmp_path / "styles.csv", 300))
        assert apply_style_import(library, plan_style_import(library, source)) == 300
        assert len(owner.list_user_styles()) == 300
        bad = SimpleNamespace(name="broken", category="Mine", prompt=None, negative_prompt="")
        with pytest.raises(GalleryError, match="prompt must be text"):
            owner.save_user_styles([Style("fresh", "Mine", "a {prompt}"), bad])
        assert "fresh" not in {style.name for style in owner.list_user_styles()}
