"""Initial schema: generations, images, tags, experiments and user styles.

Revision ID: 0001
Revises:
Create Date: 2025-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types: a migration never imports the current models.
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column(
            "parent_id",
            sa.Integer(),
            sa.ForeignKey("generations.id", ondelete="SET NULL", name="fk_generations_parent_id"),
            nullable=True,
        ),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("recipe", sa.JSON(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("negative_prompt", sa.Text(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("steps", sa.Integer(), nullable=True),
        sa.Column("guidance_scale", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("scheduler", sa.String(64), nullable=True),
        sa.Column("model_id", sa.String(512), nullable=True),
        sa.Column("model_revision", sa.String(128), nullable=True),
        sa.Column("model_hash", sa.String(128), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("favourite", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.CheckConstraint("rating IS NULL OR (rating >= 0 AND rating <= 5)", name="rating_range"),
    )
    op.create_index("ix_generations_batch_id", "generations", ["batch_id"])
    op.create_index("ix_generations_created_at_id", "generations", ["created_at", "id"])
    op.create_index("ix_generations_parent_id", "generations", ["parent_id"])
    op.create_index("ix_generations_seed", "generations", ["seed"])
    op.create_index("ix_generations_model_id_id", "generations", ["model_id", "id"])
    op.create_index("ix_generations_rating_id", "generations", ["rating", "id"])
    op.create_index("ix_generations_favourite_id", "generations", ["favourite", "id"])
    op.create_index("ix_generations_user_id_id", "generations", ["user_id", "id"])

    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "generation_id",
            sa.Integer(),
            sa.ForeignKey("generations.id", ondelete="CASCADE", name="fk_images_generation_id"),
            nullable=False,
        ),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("thumbnail_path", sa.String(512), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("missing", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
    )
    op.create_index("ix_images_generation_id", "images", ["generation_id"])
    op.create_index("ix_images_content_hash", "images", ["content_hash"])

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.UniqueConstraint("name", name="uq_tags_name"),
    )
    op.create_table(
        "generation_tags",
        sa.Column(
            "generation_id",
            sa.Integer(),
            sa.ForeignKey(
                "generations.id", ondelete="CASCADE", name="fk_generation_tags_generation_id"
            ),
            primary_key=True,
        ),
        sa.Column(
            "tag_id",
            sa.Integer(),
            sa.ForeignKey("tags.id", ondelete="CASCADE", name="fk_generation_tags_tag_id"),
            primary_key=True,
        ),
    )
    op.create_index(
        "ix_generation_tags_tag_id_generation_id", "generation_tags", ["tag_id", "generation_id"]
    )

    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("user_id", sa.String(128), nullable=True),
    )
    op.create_table(
        "experiment_variants",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "experiment_id",
            sa.Integer(),
            sa.ForeignKey(
                "experiments.id", ondelete="CASCADE", name="fk_experiment_variants_experiment_id"
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("recipe", sa.JSON(), nullable=False),
        sa.Column("is_winner", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("experiment_id", "name", name="uq_variant_name"),
    )
    op.create_index(
        "ix_experiment_variants_experiment_id", "experiment_variants", ["experiment_id"]
    )
    op.create_table(
        "variant_generations",
        sa.Column(
            "variant_id",
            sa.Integer(),
            sa.ForeignKey(
                "experiment_variants.id",
                ondelete="CASCADE",
                name="fk_variant_generations_variant_id",
            ),
            primary_key=True,
        ),
        sa.Column(
            "generation_id",
            sa.Integer(),
            sa.ForeignKey(
                "generations.id", ondelete="CASCADE", name="fk_variant_generations_generation_id"
            ),
            primary_key=True,
        ),
    )
    op.create_index(
        "ix_variant_generations_generation_id", "variant_generations", ["generation_id"]
    )

    op.create_table(
        "user_styles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("negative_prompt", sa.Text(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.UniqueConstraint("name_key", name="uq_user_styles_name_key"),
    )


def downgrade() -> None:
    for table in (
        "user_styles",
        "variant_generations",
        "experiment_variants",
        "experiments",
        "generation_tags",
        "tags",
        "images",
        "generations",
    ):
        op.drop_table(table)
