"""Persistence: generations, image files, tags, ratings, experiments and user styles.

The UI and CLI talk to one object, `GalleryStore`. This package imports neither torch,
gradio, diffusers, the engine nor the UI.
"""

from gallery.errors import GalleryError, MetadataError, NotFoundError
from gallery.metadata import ImageMetadata, embed_metadata, read_metadata
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
from gallery.store import GalleryStore

__all__ = [
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
    "Page",
    "SweepReport",
    "UserStyle",
    "VariantRecord",
    "VariantSpec",
    "embed_metadata",
    "read_metadata",
]
