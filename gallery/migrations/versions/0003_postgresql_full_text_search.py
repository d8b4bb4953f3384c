"""Full-text search over prompts on PostgreSQL: a stored `tsvector` of the prompt, GIN-indexed.

Uses the built-in `simple` configuration (no stemming, no stop words), so a search matches
word prefixes the same way as SQLite's FTS5 index. The vector is a generated column
(PostgreSQL 12+): kept in step by the server, and cheap to test row by row when the planner
walks the newest rows instead of the index. SQLite needs nothing here (see 0002).

Revision ID: 0003
Revises: 0002
Create Date: 2025-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE generations ADD COLUMN prompt_tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, prompt)) STORED"
    )
    op.execute("CREATE INDEX ix_generations_prompt_tsv ON generations USING gin (prompt_tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_generations_prompt_tsv")
    op.execute("ALTER TABLE generations DROP COLUMN IF EXISTS prompt_tsv")
