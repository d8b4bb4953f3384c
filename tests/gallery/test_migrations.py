"""Migrations: from an empty database to head, models in step with them, downgrade and
upgrade, upgrading a database with rows (with a backup), and the SQLite connection settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from gallery import GalleryQuery, GalleryStore, UserStyle
from gallery.database import (
    alembic_config,
    create_gallery_engine,
    current_revision,
    head_revision,
    include_object,
    upgrade_schema,
    writer,
)
from gallery.models import Base
from gallery.owners import LOCAL_OWNER

TABLES = {
    "generations",
    "images",
    "tags",
    "generation_tags",
    "experiments",
    "experiment_variants",
    "variant_generations",
    "user_styles",
    "experiment_votes",
    "generation_scores",
    "alembic_version",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables at all."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("postgres_server").create_database("empty")


def test_opening_an_empty_database_migrates_it_to_head(empty_database_url, tmp_path):
    engine = create_gallery_engine(empty_database_url)
    assert current_revision(engine) is None
    with GalleryStore.open(tmp_path / "gallery", empty_database_url):
        pass
    assert current_revision(engine) == head_revision() == "0006"
    names = set(inspect(engine).get_table_names())
    assert names >= TABLES
    assert ("generations_fts" in names) == (engine.dialect.name == "sqlite")
    engine.dispose()


def test_models_match_the_migrations(empty_database_url):
    engine = create_gallery_engine(empty_database_url)
    upgrade_schema(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_downgrade_to_empty_and_upgrade_again(empty_database_url):
    engine = create_gallery_engine(empty_database_url)
    upgrade_schema(engine)
    with writer(engine).begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert current_revision(engine) is None
    upgrade_schema(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_opening_twice_does_not_migrate_again(empty_database_url, tmp_path):
    with GalleryStore.open(tmp_path / "g", empty_database_url):
        pass
    with GalleryStore.open(tmp_path / "g", empty_database_url) as store:
        assert store.for_owner(LOCAL_OWNER).count() == 0
    assert not (tmp_path / "g" / "backups").exists()


def test_upgrading_a_sqlite_gallery_with_rows_backs_it_up_and_indexes_old_prompts(
    tmp_path, make_generation
):
    gallery_dir = tmp_path / "gallery"
    with GalleryStore.open(gallery_dir) as store:
        fox = store.for_owner(LOCAL_OWNER).record_generation(
            make_generation(prompt="an arctic fox")
        )
    # Go back to the first revision (no full-text index), as an older release left it.
    engine = create_gallery_engine(f"sqlite:///{gallery_dir / 'database' / 'atelier.db'}")
    with writer(engine).begin() as connection:
        command.downgrade(alembic_config(connection), "0001")
    assert "generations_fts" not in inspect(engine).get_table_names()
    engine.dispose()

    with GalleryStore.open(gallery_dir) as store:
        assert store.uses_full_text_index
        assert [
            i.id for i in store.for_owner(LOCAL_OWNER).search(GalleryQuery(text="arctic")).items
        ] == [fox]
    backup = gallery_dir / "backups" / f"atelier.db.before-{head_revision()}"
    with sqlite3.connect(backup) as old:
        assert old.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
        assert old.execute("SELECT prompt FROM generations").fetchall() == [("an arctic fox",)]


def test_rows_from_before_owners_become_the_local_users(tmp_path, make_generation):
    gallery_dir = tmp_path / "gallery"
    with GalleryStore.open(gallery_dir) as store:
        fox = store.for_owner(LOCAL_OWNER).record_generation(
            make_generation(prompt="an arctic fox")
        )
        store.for_owner(LOCAL_OWNER).save_user_style(UserStyle("Ink", "Mine", "{prompt}, ink", ""))
    engine = create_gallery_engine(f"sqlite:///{gallery_dir / 'database' / 'atelier.db'}")
    with writer(engine).begin() as connection:
        command.downgrade(alembic_config(connection), "0003")
        connection.execute(text("UPDATE generations SET user_id = NULL"))
        connection.execute(
            text(
                "INSERT INTO experiments (name, description, created_at) "
                "VALUES ('old', '', '2025-01-01 00:00:00')"
            )
        )
    engine.dispose()

    with GalleryStore.open(gallery_dir) as store:
        assert store.for_owner(LOCAL_OWNER).get(fox).user_id == "local"
        assert [e.name for e in store.for_owner(LOCAL_OWNER).list_experiments()] == ["old"]
        assert [s.name for s in store.for_owner(LOCAL_OWNER).list_user_styles()] == ["Ink"]
        assert store.for_owner("someone else").search().items == ()
        assert store.for_owner("someone else").list_user_styles() == []
        # Style names are now unique per owner: another owner may use the same name.
        store.for_owner("ada").save_user_style(UserStyle("ink", "Theirs", "{prompt}, ink", ""))
        assert [s.category for s in store.for_owner(LOCAL_OWNER).list_user_styles()] == ["Mine"]


def test_sqlite_connections_have_foreign_keys_wal_and_a_busy_timeout(sqlite_store):
    with sqlite_store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    assert Path(sqlite_store.root / "database" / "atelier.db").is_file()


def test_foreign_keys_are_enforced(store):
    with pytest.raises(Exception, match=r"(?i)foreign key"), store.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO generation_tags (generation_id, tag_id) VALUES (12345, 67890)")
        )


def test_each_database_gets_its_own_prompt_search_index(store):
    assert store.uses_full_text_index
    inspector = inspect(store.engine)
    if store.engine.dialect.name == "sqlite":
        assert "generations_fts" in inspector.get_table_names()
    else:
        names = {index["name"] for index in inspector.get_indexes("generations")}
        assert "ix_generations_prompt_tsv" in names
        assert "generations_fts" not in inspector.get_table_names()
