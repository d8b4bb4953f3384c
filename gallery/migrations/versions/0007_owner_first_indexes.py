"""Indexes for a million generations per owner, and the words of SQLite's full-text index.

Every gallery page keeps to one owner, so its indexes start with the owner: the newest page
walks `(user_id, id)` (0001), a model filter `(user_id, model_id, id)`, model and rating
`(user_id, model_id, rating, id)`, a rating `(user_id, rating, id)`, favourites
`(user_id, favourite, id)` and a date range `(user_id, created_at, id)`; each gives the page's
rows newest first, so a page stops after its 50 rows. The indexes on model, rating and
favourite alone go: no owner-scoped query can use them well. `(created_at, id)` stays for an
admin's date filter across owners.

SQLite only: `generations_fts_terms` lists the words the FTS5 index holds, so that a search for
a word's start expands into those words (FTS5 would otherwise merge every matching word's
whole row list first: 30 ms for a common word at a million rows, 0.1 ms expanded). FTS5's
own vocabulary table cannot give the words cheaply (it counts each word's rows), so new
prompts go, by trigger, into a small contentless FTS5 table `generations_fts_pending` whose
vocabulary is read together with the terms, and `gallery.fts_terms.flush` moves its words into
the terms table (the app does so every few hundred recordings).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OWNER_FIRST = (
    ("ix_generations_user_id_created_at_id", ["user_id", "created_at", "id"]),
    ("ix_generations_user_id_model_id_id", ["user_id", "model_id", "id"]),
    ("ix_generations_user_id_model_id_rating_id", ["user_id", "model_id", "rating", "id"]),
    ("ix_generations_user_id_rating_id", ["user_id", "rating", "id"]),
    ("ix_generations_user_id_favourite_id", ["user_id", "favourite", "id"]),
)
REPLACED = (
    ("ix_generations_model_id_id", ["model_id", "id"]),
    ("ix_generations_rating_id", ["rating", "id"]),
    ("ix_generations_favourite_id", ["favourite", "id"]),
)
# The tokenizer of `generations_fts` (0002): the pending table must cut words the same way.
_SQLITE_TERMS = (
    "CREATE TABLE generations_fts_terms (term TEXT PRIMARY KEY) WITHOUT ROWID",
    """CREATE VIRTUAL TABLE generations_fts_pending USING fts5(
        prompt, content='', tokenize='unicode61 remove_diacritics 2'
    )""",
    "CREATE VIRTUAL TABLE generations_fts_pending_vocab "
    "USING fts5vocab(generations_fts_pending, row)",
    """CREATE TRIGGER generations_fts_pending_insert AFTER INSERT ON generations BEGIN
        INSERT INTO generations_fts_pending(prompt) VALUES (new.prompt);
    END""",
    """CREATE TRIGGER generations_fts_pending_update AFTER UPDATE OF prompt ON generations BEGIN
        INSERT INTO generations_fts_pending(prompt) VALUES (new.prompt);
    END""",
    """CREATE VIRTUAL TABLE temp.generations_fts_all_words
        USING fts5vocab(main, generations_fts, row)""",
    "INSERT INTO generations_fts_terms (term) SELECT term FROM temp.generations_fts_all_words",
    "DROP TABLE temp.generations_fts_all_words",
)
_SQLITE_TERMS_DOWN = (
    "DROP TRIGGER IF EXISTS generations_fts_pending_update",
    "DROP TRIGGER IF EXISTS generations_fts_pending_insert",
    "DROP TABLE IF EXISTS generations_fts_pending_vocab",
    "DROP TABLE IF EXISTS generations_fts_pending",
    "DROP TABLE IF EXISTS generations_fts_terms",
)


def _has_fts5_index() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    found = bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'generations_fts'"
    ).scalar()
    return found is not None


def upgrade() -> None:
    for name, columns in OWNER_FIRST:
        op.create_index(name, "generations", columns)
    for name, _columns in REPLACED:
        op.drop_index(name, table_name="generations")
    if _has_fts5_index():
        for statement in _SQLITE_TERMS:
            op.execute(statement)


def downgrade() -> None:
    if _has_fts5_index():
        for statement in _SQLITE_TERMS_DOWN:
            op.execute(statement)
    for name, columns in REPLACED:
        op.create_index(name, "generations", columns)
    for name, _columns in OWNER_FIRST:
        op.drop_index(name, table_name="generations")
