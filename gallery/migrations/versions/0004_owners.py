"""Owners: every generation, experiment and user style belongs to one owner.

Rows made before owners existed become the local user's ("local"). User style names become
unique per owner instead of globally.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LOCAL_OWNER = "local"


def upgrade() -> None:
    for table in ("generations", "experiments"):
        op.execute(
            sa.text(f"UPDATE {table} SET user_id = :owner WHERE user_id IS NULL").bindparams(
                owner=LOCAL_OWNER
            )
        )
    op.create_index("ix_experiments_user_id_id", "experiments", ["user_id", "id"])
    with op.batch_alter_table("user_styles") as batch:
        batch.add_column(
            sa.Column("user_id", sa.String(128), nullable=False, server_default=sa.text("'local'"))
        )
        batch.drop_constraint("uq_user_styles_name_key", type_="unique")
        batch.create_unique_constraint("uq_user_styles_owner_name", ["user_id", "name_key"])


def downgrade() -> None:
    with op.batch_alter_table("user_styles") as batch:
        batch.drop_constraint("uq_user_styles_owner_name", type_="unique")
        batch.create_unique_constraint("uq_user_styles_name_key", ["name_key"])
        batch.drop_column("user_id")
    op.drop_index("ix_experiments_user_id_id", table_name="experiments")
