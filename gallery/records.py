"""Plain records that go into and come out of the gallery (no database objects leak out)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image

from gallery.errors import GalleryError
from gallery.experiment_state import ExperimentState, Position, grid_positions

MAX_SEED = 2**64 - 1  # what torch.Generator.manual_seed takes; see models.SeedInteger
MAX_TAG_LENGTH = 64
RECIPE_VERSION = 1
# Longest text each short column holds (the same on every database).
TEXT_LIMITS = {
    "scheduler": 64,
    "model_id": 512,
    "model_revision": 128,
    "model_hash": 128,
    "user_id": 128,
    "source": 32,
}


def minimal_recipe(prompt: str, negative_prompt: str = "") -> dict[str, Any]:
    """A builder recipe (`prompts.recipe.Recipe.to_dict` format) that reproduces a plain prompt.

    Used when an image comes without a builder recipe (an A1111 file, a headless run): the whole
    prompt goes into `free_text` and the negative prompt is the single negative term.
    """
    return {
        "version": RECIPE_VERSION,
        "free_text": prompt,
        "negative": [negative_prompt] if negative_prompt.strip() else [],
    }


def json_safe(value: Any, what: str) -> Any:
    """`value` as plain JSON types (tuples become lists); `GalleryError` if it cannot be."""
    try:
        return json.loads(json.dumps(value, allow_nan=False, default=_default))
    except (TypeError, ValueError) as exc:
        raise GalleryError(f"The {what} cannot be stored as JSON: {exc}.") from None


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def normalize_tag(tag: str) -> str:
    """A tag as stored: trimmed, inner spaces collapsed, lower case; `GalleryError` if empty."""
    if not isinstance(tag, str):
        raise GalleryError("A tag must be text.")
    name = " ".join(tag.split()).lower()
    if not name:
        raise GalleryError("A tag cannot be empty.")
    if len(name) > MAX_TAG_LENGTH:
        raise GalleryError(f"A tag can be at most {MAX_TAG_LENGTH} characters long.")
    return name


def check_rating(rating: int | None) -> int | None:
    """`rating` if it is None or a whole number from 0 to 5, else `GalleryError`."""
    if rating is None:
        return None
    if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 5:
        raise GalleryError(f"A rating must be a whole number from 0 to 5, not {rating!r}.")
    return rating


def _check_optional_int(value: Any, name: str, minimum: int, maximum: int = MAX_SEED) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise GalleryError(f"{name} must be a whole number from {minimum} to {maximum}.")


@dataclass
class NewGeneration:
    """One image to record, with everything needed to make it again.

    Give either `image` (the store encodes a PNG with A1111 `parameters` and our JSON chunk) or
    `png_bytes` (stored as they are, e.g. an imported file). `width`/`height` default to the
    image's size. `provenance` is the engine's provenance dict; its `versions` and `timings`
    are kept in their own columns.
    """

    prompt: str
    negative_prompt: str = ""
    seed: int | None = None
    steps: int | None = None
    guidance_scale: float | None = None
    width: int | None = None
    height: int | None = None
    scheduler: str | None = None
    model_id: str | None = None
    model_revision: str | None = None
    model_hash: str | None = None
    recipe: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    source: str = "generated"
    user_id: str | None = None
    parent_id: int | None = None
    batch_id: str | None = None
    tags: tuple[str, ...] = ()
    image: Image.Image | None = None
    png_bytes: bytes | None = None

    def validate(self) -> None:
        """Raise `GalleryError` with one sentence if anything cannot be stored."""
        if not isinstance(self.prompt, str) or not isinstance(self.negative_prompt, str):
            raise GalleryError("The prompt and negative prompt must be text.")
        if (self.image is None) == (self.png_bytes is None):
            raise GalleryError("A generation needs exactly one of an image or PNG bytes.")
        if self.image is not None and not isinstance(self.image, Image.Image):
            raise GalleryError("The image must be a PIL image.")
        if self.png_bytes is not None and not self.png_bytes.startswith(b"\x89PNG\r\n\x1a\n"):
            raise GalleryError("The image bytes are not a PNG file.")
        _check_optional_int(self.seed, "The seed", 0)
        _check_optional_int(self.steps, "Steps", 1, 10_000)
        _check_optional_int(self.width, "The width", 1, 65_535)
        _check_optional_int(self.height, "The height", 1, 65_535)
        _check_optional_int(self.parent_id, "The parent id", 1, 2**63 - 1)
        if self.guidance_scale is not None and (
            isinstance(self.guidance_scale, bool)
            or not isinstance(self.guidance_scale, (int, float))
            or not math.isfinite(self.guidance_scale)
        ):
            raise GalleryError("The guidance scale must be a finite number.")
        for name, limit in TEXT_LIMITS.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise GalleryError(f"The {name.replace('_', ' ')} must be text.")
            if value is not None and len(value) > limit:
                raise GalleryError(
                    f"The {name.replace('_', ' ')} can be at most {limit} characters long."
                )
        for name in ("recipe", "settings", "provenance"):
            value = getattr(self, name)
            if value is None and name == "recipe":
                continue
            if not isinstance(value, dict):
                raise GalleryError(f"The {name} must be a JSON object (a dict).")
            json_safe(value, name)
        for tag in self.tags:
            normalize_tag(tag)

    def effective_recipe(self) -> dict[str, Any]:
        """The recipe to store: the one given, else a minimal one built from the prompts."""
        if self.recipe is not None:
            return self.recipe
        return minimal_recipe(self.prompt, self.negative_prompt)


@dataclass(frozen=True)
class ImageRecord:
    """One stored image file (paths are absolute)."""

    id: int
    generation_id: int
    path: Path
    thumbnail_path: Path | None
    content_hash: str
    width: int
    height: int
    size_bytes: int
    missing: bool = False


class GenerationSummary(NamedTuple):
    """What a gallery grid shows for one generation (a named tuple: pages are made fast).

    `image_path` and `thumbnail_path` are absolute paths as text (cheap to make for a page of
    results, and what a Gradio gallery takes).
    """

    id: int
    created_at: datetime
    prompt: str
    negative_prompt: str
    seed: int | None
    model_id: str | None
    width: int | None
    height: int | None
    rating: int | None
    favourite: bool
    parent_id: int | None
    batch_id: str
    image_path: str | None
    thumbnail_path: str | None


@dataclass(frozen=True)
class GenerationRecord:
    """Everything stored about one generation."""

    id: int
    batch_id: str
    created_at: datetime
    user_id: str | None
    parent_id: int | None
    source: str
    recipe: dict[str, Any]
    prompt: str
    negative_prompt: str
    seed: int | None
    steps: int | None
    guidance_scale: float | None
    width: int | None
    height: int | None
    scheduler: str | None
    model_id: str | None
    model_revision: str | None
    model_hash: str | None
    settings: dict[str, Any]
    provenance: dict[str, Any]
    versions: dict[str, Any]
    timings: dict[str, Any]
    rating: int | None
    favourite: bool
    notes: str
    tags: tuple[str, ...]
    images: tuple[ImageRecord, ...]

    @property
    def image(self) -> ImageRecord | None:
        """The first (usually the only) image."""
        return self.images[0] if self.images else None


@dataclass(frozen=True)
class GalleryQuery:
    """Filters and a page for `SearchService.search`. Results are newest first.

    `text` matches all its words in the positive prompt (SQLite: FTS5 word-prefix match; other
    databases: case-insensitive substring). `created_from` is inclusive, `created_to`
    exclusive. `min_rating` excludes unrated generations. `before_id` switches from page
    numbers to keyset paging: the page starts after that id (pass `Page.next_before_id`).
    """

    text: str = ""
    model_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    min_rating: int | None = None
    tag: str | None = None
    favourite: bool | None = None
    seed: int | None = None
    experiment_id: int | None = None
    user_id: str | None = None
    page: int = 1
    page_size: int = 50
    before_id: int | None = None

    def validate(self) -> None:
        """Raise `GalleryError` if a filter or the page is out of range."""
        if not isinstance(self.page, int) or self.page < 1:
            raise GalleryError("The page number must be 1 or more.")
        if not isinstance(self.page_size, int) or not 1 <= self.page_size <= 1000:
            raise GalleryError("The page size must be from 1 to 1000.")
        if self.min_rating is not None:
            check_rating(self.min_rating)
        _check_optional_int(self.seed, "The seed", 0)
        for value in (self.created_from, self.created_to):
            if value is not None and not isinstance(value, datetime):
                raise GalleryError("Date filters must be datetimes.")


@dataclass(frozen=True)
class Page:
    """One page of results; `next_before_id` continues with keyset paging."""

    items: tuple[GenerationSummary, ...]
    page: int
    page_size: int
    has_more: bool

    @property
    def next_before_id(self) -> int | None:
        """The `before_id` for the next page, or None on the last page."""
        return self.items[-1].id if self.has_more and self.items else None


@dataclass(frozen=True)
class Lineage:
    """A generation with its ancestors (root first) and all its descendants (by depth)."""

    generation: GenerationSummary
    ancestors: tuple[GenerationSummary, ...]
    descendants: tuple[GenerationSummary, ...]


@dataclass(frozen=True)
class UserStyle:
    """A style the user saved: a `{prompt}` template with a negative prompt."""

    name: str
    category: str = "User"
    prompt: str = "{prompt}"
    negative_prompt: str = ""


@dataclass(frozen=True)
class VariantSpec:
    """A variant to create in an experiment: a label and the recipe/settings it tries."""

    name: str
    recipe: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VariantRecord:
    """A variant of an experiment with the generations recorded for it."""

    id: int
    experiment_id: int
    name: str
    position: int
    recipe: dict[str, Any]
    is_winner: bool
    generation_ids: tuple[int, ...]


@dataclass(frozen=True)
class CellRecord:
    """One image of an experiment's grid: row `seed_index`, its variant, axis column."""

    variant_id: int
    generation_id: int
    seed_index: int | None
    axis_index: int | None


@dataclass(frozen=True)
class VoteRecord:
    """A judgement: `winner` beat `loser` (a pair), or was picked best (`loser` None) of a seed
    row, or of the whole experiment (`seed_index` None too)."""

    id: int
    experiment_id: int
    winner_variant_id: int
    loser_variant_id: int | None
    seed_index: int | None
    axis_index: int | None
    blind: bool
    user_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class ScoreRecord:
    """A score of one generation's image; `meaningful` is False for an untrained scorer."""

    generation_id: int
    metric: str
    value: float
    scorer: str
    meaningful: bool


@dataclass(frozen=True)
class ExperimentRecord:
    """An experiment (for the compare view): its variants in order, the shared settings, the
    seeds (grid rows), the optional second axis (`{"name": ..., "values": [...]}`) and cells."""

    id: int
    name: str
    description: str
    created_at: datetime
    user_id: str | None
    variants: tuple[VariantRecord, ...]
    kind: str = "compare"
    settings: dict[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = ()
    axis: dict[str, Any] = field(default_factory=dict)
    cells: tuple[CellRecord, ...] = ()
    state: ExperimentState = field(default_factory=ExperimentState)
    """Running, finished, or interrupted with N of M cells (`gallery.experiment_state`)."""

    @property
    def winner(self) -> VariantRecord | None:
        """The variant marked as winner, if any."""
        return next((v for v in self.variants if v.is_winner), None)

    @property
    def axis_values(self) -> tuple[Any, ...]:
        """The second axis's values, or one empty column when there is no axis."""
        return tuple(self.axis.get("values") or (None,))

    def variant(self, variant_id: int) -> VariantRecord:
        """The variant with this id (KeyError if it is not one of this experiment's)."""
        for variant in self.variants:
            if variant.id == variant_id:
                return variant
        raise KeyError(variant_id)

    def grid(self) -> list[Position]:
        """Every cell the grid should have (none for an experiment saved without seeds)."""
        axis_values = len(self.axis.get("values") or ())
        return grid_positions(len(self.seeds), len(self.variants), axis_values)

    def made_positions(self) -> set[Position]:
        """The grid positions that have an image."""
        position = {variant.id: variant.position for variant in self.variants}
        return {
            (c.seed_index, position[c.variant_id], c.axis_index or 0)
            for c in self.cells
            if c.seed_index is not None and c.variant_id in position
        }

    def missing_positions(self) -> list[Position]:
        """The grid positions without an image, in the order a run makes them."""
        made = self.made_positions()
        return [p for p in self.grid() if p not in made]

    def cell(self, seed_index: int, variant_id: int, axis_index: int | None = None) -> int | None:
        """The generation id at a grid position, or None when that cell was not made."""
        for cell in self.cells:
            if (cell.seed_index, cell.variant_id) == (seed_index, variant_id) and (
                cell.axis_index or 0
            ) == (axis_index or 0):
                return cell.generation_id
        return None


@dataclass(frozen=True)
class ImportReport:
    """What `import_folder` did with each image it found.

    `found` has one line per imported file (the tool and format read, or "no settings
    found"); `formats` counts imported files by format (PNG, JPEG, WEBP); `notes` holds
    what was cut or skipped inside files that were still imported.
    """

    imported: tuple[int, ...] = ()
    duplicates: tuple[Path, ...] = ()
    without_metadata: tuple[Path, ...] = ()
    failed: tuple[tuple[Path, str], ...] = ()
    found: tuple[tuple[Path, str], ...] = ()
    formats: dict[str, int] = field(default_factory=dict)
    notes: tuple[tuple[Path, str], ...] = ()


@dataclass(frozen=True)
class SweepReport:
    """What a sweep repaired: orphan files removed, rows flagged whose file is missing, and
    unrecorded images kept because their metadata says we made them."""

    kept_unrecorded: tuple[str, ...] = ()
    removed_files: tuple[str, ...] = ()
    removed_temp_files: tuple[str, ...] = ()
    finished_intents: int = 0
    kept_intents: int = 0
    missing_images: tuple[int, ...] = ()
    recorded_deferred: int = 0
    """Generations recorded from rows that waited for the database (`gallery.deferred`)."""
