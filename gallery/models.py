"""The gallery schema as SQLAlchemy 2.0 typed ORM classes.

The tables are created by the Alembic migrations in `gallery/migrations`, never by
`create_all`; a change here needs a new migration (`tests/gallery/test_migrations.py` checks
that the two agree).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

UTC = timezone.utc


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class SeedInteger(TypeDecorator[int]):
    """A seed from 0 to 2**64-1 in a signed 64-bit column (SQLite INTEGER, PostgreSQL BIGINT).

    Seeds of 2**63 and above (ComfyUI and Fooocus write them) are stored as their two's
    complement, `seed - 2**64`, a negative number no real seed has, and read back unchanged;
    comparisons in queries go through the same mapping, so `seed == x` finds them.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return value - 2**64 if value >= 2**63 else value

    def process_result_value(self, value: int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return value + 2**64 if value < 0 else value


class Base(DeclarativeBase):
    """Declarative base with JSON for dict-typed columns."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UTCDateTime}


class Generation(Base):
    """One generated (or imported) image's recipe, prompts, settings and provenance."""

    __tablename__ = "generations"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating >= 0 AND rating <= 5)", name="rating_range"),
        Index("ix_generations_created_at_id", "created_at", "id"),
        Index("ix_generations_model_id_id", "model_id", "id"),
        Index("ix_generations_rating_id", "rating", "id"),
        Index("ix_generations_favourite_id", "favourite", "id"),
        Index("ix_generations_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime]
    # The owner (`gallery.owners`); the store always writes one, old rows got "local".
    user_id: Mapped[str | None] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("generations.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(String(32))
    recipe: Mapped[dict[str, Any]]
    prompt: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(SeedInteger, index=True)
    steps: Mapped[int | None] = mapped_column(Integer)
    guidance_scale: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    scheduler: Mapped[str | None] = mapped_column(String(64))
    model_id: Mapped[str | None] = mapped_column(String(512))
    model_revision: Mapped[str | None] = mapped_column(String(128))
    model_hash: Mapped[str | None] = mapped_column(String(128))
    settings: Mapped[dict[str, Any]]
    provenance: Mapped[dict[str, Any]]
    versions: Mapped[dict[str, Any]]
    timings: Mapped[dict[str, Any]]
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    favourite: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")

    images: Mapped[list[ImageFile]] = relationship(
        back_populates="generation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ImageFile.id",
    )
    tags: Mapped[list[Tag]] = relationship(
        secondary="generation_tags", order_by="Tag.name", viewonly=True
    )


class ImageFile(Base):
    """An image file of a generation; paths are relative to the gallery folder."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(512))
    thumbnail_path: Mapped[str | None] = mapped_column(String(512))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    missing: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    generation: Mapped[Generation] = relationship(back_populates="images")


class Tag(Base):
    """A tag name (trimmed, lower case)."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class GenerationTag(Base):
    """Which generation carries which tag."""

    __tablename__ = "generation_tags"
    __table_args__ = (Index("ix_generation_tags_tag_id_generation_id", "tag_id", "generation_id"),)

    generation_id: Mapped[int] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)


class Experiment(Base):
    """A set of variants compared side by side."""

    __tablename__ = "experiments"
    __table_args__ = (Index("ix_experiments_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    # The owner (`gallery.owners`); the store always writes one, old rows got "local".
    user_id: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32), default="compare")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seeds: Mapped[list[int]] = mapped_column(JSON, default=list)
    axis: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # While its cells are being made: the process making them (`<host>-<pid>`) and when it
    # last finished a batch; both None otherwise (see `gallery.experiment_state`).
    runner: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None]

    variants: Mapped[list[ExperimentVariant]] = relationship(
        back_populates="experiment",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ExperimentVariant.position",
    )


class ExperimentVariant(Base):
    """One arm of an experiment: a label and the recipe or settings it tries."""

    __tablename__ = "experiment_variants"
    __table_args__ = (UniqueConstraint("experiment_id", "name", name="uq_variant_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    recipe: Mapped[dict[str, Any]]
    is_winner: Mapped[bool] = mapped_column(Boolean, default=False)

    experiment: Mapped[Experiment] = relationship(back_populates="variants")


class VariantGeneration(Base):
    """A generation made for a variant; a grid cell when its seed row and axis column are set."""

    __tablename__ = "variant_generations"

    variant_id: Mapped[int] = mapped_column(
        ForeignKey("experiment_variants.id", ondelete="CASCADE"), primary_key=True
    )
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    seed_index: Mapped[int | None] = mapped_column(Integer)
    axis_index: Mapped[int | None] = mapped_column(Integer)


class ExperimentVote(Base):
    """One judgement: `winner` beat `loser` on a seed row (a blind pair), or `winner` was picked
    as best of its row (`loser` None) or of the whole experiment (`seed_index` None too)."""

    __tablename__ = "experiment_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    winner_variant_id: Mapped[int] = mapped_column(
        ForeignKey("experiment_variants.id", ondelete="CASCADE"), index=True
    )
    loser_variant_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiment_variants.id", ondelete="CASCADE"), index=True
    )
    seed_index: Mapped[int | None] = mapped_column(Integer)
    axis_index: Mapped[int | None] = mapped_column(Integer)
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    user_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]


class GenerationScore(Base):
    """A measured score of a generation's image (e.g. CLIP text-image similarity)."""

    __tablename__ = "generation_scores"
    __table_args__ = (Index("ix_generation_scores_metric_value", "metric", "value"),)

    generation_id: Mapped[int] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    scorer: Mapped[str] = mapped_column(String(200))
    meaningful: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class UserStyleRow(Base):
    """A style an owner saved; an owner's names are unique ignoring case (`name_key`)."""

    __tablename__ = "user_styles"
    __table_args__ = (UniqueConstraint("user_id", "name_key", name="uq_user_styles_owner_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), server_default="local")
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
