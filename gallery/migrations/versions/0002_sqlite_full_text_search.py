"""Full-text search over prompts: an FTS5 index kept in sync by triggers (SQLite only).

Other databases search with a portable case-insensitive LIKE and need no schema here.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_UPGRADE = (
    # External content: the index stores only tokens; the text lives in `generations`.
    """CREATE VIRTUAL TABLE generations_fts USING fts5(
        prompt, content='generations', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER generations_fts_insert AFTER INSERT ON generations BEGIN
        INSERT INTO generations_fts(rowid, prompt) VALUES (new.id, new.prompt);
    END""",
    """CREATE TRIGGER generations_fts_delete AFTER DELETE ON generations BEGIN
        INSERT INTO generations_fts(generations_fts, rowid, prompt)
        VALUES ('delete', old.id, old.prompt);
    END""",
    """CREATE TRIGGER generations_fts_update AFTER UPDATE OF prompt ON generations BEGIN
        INSERT INTO generations_fts(generations_fts, rowid, prompt)
        VALUES ('delete', old.id, old.prompt);
        INSERT INTO generations_fts(rowid, prompt) VALUES (new.id, new.prompt);
    END""",
    "INSERT INTO generations_fts(generations_fts) VALUES ('rebuild')",
)
_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS generations_fts_update",
    "DROP TRIGGER IF EXISTS generations_fts_delete",
    "DROP TRIGGER IF EXISTS generations_fts_insert",
    "DROP TABLE IF EXISTS generations_fts",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in _UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in _DOWNGRADE:
        op.execute(statement)
