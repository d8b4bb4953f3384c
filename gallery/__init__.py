"""Persistence: generations, image files, tags, ratings, experiments and user styles.

The UI and CLI talk to one object, `GalleryStore`; every owned item has an owner, passed
explicitly as `owner=` or bound once with `store.for_owner(owner)` (see `gallery.owners`).
This package imports neither torch, gradio, diffusers, the engine nor the UI.
"""

from gallery.errors import GalleryError, MetadataError, NotFoundError
from gallery.metadata import ImageMetadata, embed_metadata, read_metadata
from gallery.owners import EVERY_OWNER, LOCAL_OWNER, Owner
from gallery.records import (
    ExperimentRecord,
    GalleryQuery,
    GenerationRecord,
    GenerationSummary,
    ImageRecord,
    ImportReport,
    Lineage,
    NewGeneration,
    Page,
    SweepReport,
    UserStyle,
    VariantRecord,
    VariantSpec,
)
from gallery.store import GalleryStore, OwnerGallery

__all__ = [
    "EVERY_OWNER",
    "LOCAL_OWNER",
    "ExperimentRecord",
    "GalleryError",
    "GalleryQuery",
    "GalleryStore",
    "GenerationRecord",
    "GenerationSummary",
    "ImageMetadata",
    "ImageRecord",
    "ImportReport",
    "Lineage",
    "MetadataError",
    "NewGeneration",
    "NotFoundError",
    "Owner",
    "OwnerGallery",
    "Page",
    "SweepReport",
    "UserStyle",
    "VariantRecord",
    "VariantSpec",
    "embed_metadata",
    "read_metadata",
]
