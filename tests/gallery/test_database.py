"""Choosing the database, and the one-way dependency rule of the gallery package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from gallery import LOCAL_OWNER, GalleryError, GalleryStore
from gallery.database import create_gallery_engine, normalize_url, resolve_database_url

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_default_url_is_a_sqlite_file_in_its_own_folder_of_the_gallery(tmp_path):
    assert resolve_database_url(tmp_path) == f"sqlite:///{tmp_path.resolve()}/database/atelier.db"


def test_database_url_from_the_environment_wins_over_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://atelier@db.example/gallery")
    assert resolve_database_url(tmp_path) == "postgresql+psycopg://atelier@db.example/gallery"
    assert resolve_database_url(tmp_path, "sqlite:////x/y.db") == "sqlite:////x/y.db"


def test_bare_postgres_urls_get_the_psycopg_driver():
    assert normalize_url("postgres://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert normalize_url("postgresql+psycopg://h/d") == "postgresql+psycopg://h/d"
    assert normalize_url("sqlite:///a.db") == "sqlite:///a.db"


def test_open_uses_database_url_from_the_environment(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere" / "shared.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{elsewhere}")
    with GalleryStore.open(tmp_path / "gallery") as store:
        assert store.engine.url.database == str(elsewhere)
    assert elsewhere.is_file()
    assert not (tmp_path / "gallery" / "atelier.db").exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "not a url"])
def test_in_memory_and_malformed_urls_are_refused(url):
    with pytest.raises(GalleryError):
        create_gallery_engine(url)


def test_the_gallery_imports_neither_torch_gradio_diffusers_engine_nor_ui():
    code = (
        "import sys, gallery, gallery.store, gallery.importers, gallery.export, gallery.sweep\n"
        "bad = [m for m in ('torch', 'gradio', 'diffusers', 'transformers', 'engine', 'ui')\n"
        "       if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == ""


ODD_FOLDER_NAMES = ["a?b", "a#b", "a%41b", "a b", "a?x=1&y=2", "a@b:c", "ä€ b"]


@pytest.mark.parametrize("name", ODD_FOLDER_NAMES)
def test_odd_characters_in_the_gallery_folder_stay_part_of_the_database_path(tmp_path, name):
    gallery_dir = tmp_path / name / "gallery"
    url = resolve_database_url(gallery_dir)
    assert make_url(url).database == str(gallery_dir.resolve() / "database" / "atelier.db")
    with GalleryStore.open(gallery_dir) as store:
        assert store.engine.url.database == str(gallery_dir.resolve() / "database" / "atelier.db")
    assert (gallery_dir / "database" / "atelier.db").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no `a` beside the folder


def test_two_folders_that_share_a_prefix_before_a_question_mark_keep_two_databases(
    tmp_path, make_generation
):
    first, second = tmp_path / "a?b", tmp_path / "a?c"
    with GalleryStore.open(first) as store:
        store.for_owner(LOCAL_OWNER).record_generation(make_generation())
    with GalleryStore.open(second) as store:
        assert store.for_owner(LOCAL_OWNER).count() == 0
    with GalleryStore.open(first) as store:
        assert store.for_owner(LOCAL_OWNER).count() == 1
