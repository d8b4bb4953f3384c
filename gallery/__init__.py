"""Persistence: generations, image files, tags, ratings, experiments and user styles.

The app opens one `GalleryStore` (`gallery.store`), which composes the services of
`gallery.services`; handlers hold a view of it, `store.for_owner(owner)` or `store.admin()`
(`gallery.views`). Every owned item has an owner, always passed explicitly (see
`gallery.owners`). No module of this package imports the package itself (`from gallery
import ...`), so these re-exports never run in a circle. This package imports neither
torch, gradio, diffusers, the engine nor the UI.
"""

from gallery.errors import GalleryError, MetadataError, NotFoundError
from gallery.image_reader import read_metadata
from gallery.metadata import ImageMetadata, embed_metadata
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
from gallery.store import GalleryStore
from gallery.views import AdminGallery, OwnerGallery

__all__ = [
    "EVERY_OWNER",
    "LOCAL_OWNER",
    "AdminGallery",
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
