"""Experiments as saved grids: their kind, shared settings, seeds and second axis; each cell's
seed row and axis column; pairwise and best-of votes; per-image scores.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("kind", sa.String(32), nullable=False, server_default="compare"))
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("seeds", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("axis", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("variant_generations") as batch:
        batch.add_column(sa.Column("seed_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("axis_index", sa.Integer(), nullable=True))

    op.create_table(
        "experiment_votes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "experiment_id",
            sa.Integer(),
            sa.ForeignKey(
                "experiments.id", ondelete="CASCADE", name="fk_experiment_votes_experiment_id"
            ),
            nullable=False,
        ),
        sa.Column(
            "winner_variant_id",
            sa.Integer(),
            sa.ForeignKey(
                "experiment_variants.id",
                ondelete="CASCADE",
                name="fk_experiment_votes_winner_variant_id",
            ),
            nullable=False,
        ),
        sa.Column(
            "loser_variant_id",
            sa.Integer(),
            sa.ForeignKey(
                "experiment_variants.id",
                ondelete="CASCADE",
                name="fk_experiment_votes_loser_variant_id",
            ),
            nullable=True,
        ),
        sa.Column("seed_index", sa.Integer(), nullable=True),
        sa.Column("axis_index", sa.Integer(), nullable=True),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
    )
    for column in ("experiment_id", "winner_variant_id", "loser_variant_id"):
        op.create_index(f"ix_experiment_votes_{column}", "experiment_votes", [column])

    op.create_table(
        "generation_scores",
        sa.Column(
            "generation_id",
            sa.Integer(),
            sa.ForeignKey(
                "generations.id", ondelete="CASCADE", name="fk_generation_scores_generation_id"
            ),
            primary_key=True,
        ),
        sa.Column("metric", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("scorer", sa.String(200), nullable=False),
        sa.Column("meaningful", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
    )
    op.create_index("ix_generation_scores_metric_value", "generation_scores", ["metric", "value"])


def downgrade() -> None:
    op.drop_table("generation_scores")
    op.drop_table("experiment_votes")
    with op.batch_alter_table("variant_generations") as batch:
        batch.drop_column("axis_index")
        batch.drop_column("seed_index")
    with op.batch_alter_table("experiments") as batch:
        for column in ("axis", "seeds", "settings", "kind"):
            batch.drop_column(column)
