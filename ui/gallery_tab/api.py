"""The Gallery's named endpoints for `gradio_client`: `search_gallery`, `get_generation` and
`import_image` (which moves a file, so it runs on a hidden upload component). Each acts for the
caller's own gallery (`store` is the visitor's view)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from gallery.errors import GalleryError
from gallery.records import GalleryQuery, GenerationRecord
from gallery.views import OwnerGallery
from ui.endpoints import Param, keyword_endpoint
from ui.forms import FormError
from ui.forms import whole_number as read_whole_number
from ui.messages import shown

MAX_PAGE_SIZE = 200


def whole_number(value: Any, name: str) -> int:
    """`value` as an int; `gr.Error` naming the setting when it is not a whole number."""
    try:
        return read_whole_number(value, name)
    except FormError as exc:
        raise gr.Error(shown(exc)) from None


SEARCH_PARAMS = (
    Param("query", str, ""),
    Param("model", str, ""),
    Param("tag", str, ""),
    Param("min_rating", int, 0),
    Param("favourites_only", bool, False),
    Param("page", int, 1),
    Param("page_size", int, 24),
)


def search(store: OwnerGallery, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Generations matching the full-text query and filters (`SEARCH_PARAMS` by name),
    newest first."""
    size = whole_number(values.get("page_size", 24), "Page size")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise gr.Error(f"Page size must be from 1 to {MAX_PAGE_SIZE}.")
    rating = whole_number(values.get("min_rating") or 0, "Minimum rating")
    if not 0 <= rating <= 5:
        raise gr.Error("The minimum rating must be from 0 to 5.")
    gallery_query = GalleryQuery(
        text=(values.get("query") or "").strip(),
        model_id=(values.get("model") or "").strip() or None,
        tag=(values.get("tag") or "").strip() or None,
        min_rating=rating or None,
        favourite=True if values.get("favourites_only") else None,
        page=max(1, whole_number(values.get("page", 1), "Page")),
        page_size=size,
    )
    try:
        found = store.search(gallery_query)
    except GalleryError as exc:
        raise gr.Error(shown(exc)) from None
    return [
        {
            "id": item.id,
            "prompt": item.prompt,
            "negative_prompt": item.negative_prompt,
            "seed": item.seed,
            "model": item.model_id,
            "width": item.width,
            "height": item.height,
            "rating": item.rating,
            "favourite": item.favourite,
            "created_at": item.created_at.isoformat(),
        }
        for item in found.items
    ]


def get_generation(store: OwnerGallery, id: int) -> dict[str, Any]:
    """Everything the gallery keeps about one generation (not the image itself)."""
    try:
        record = store.get(whole_number(id, "The id"))
    except GalleryError as exc:
        raise gr.Error(shown(exc)) from None
    return generation_dict(record)


def generation_dict(record: GenerationRecord) -> dict[str, Any]:
    """A record as JSON: prompts, settings, recipe, curation, no file paths."""
    return {
        "id": record.id,
        "created_at": record.created_at.isoformat(),
        "source": record.source,
        "prompt": record.prompt,
        "negative_prompt": record.negative_prompt,
        "seed": record.seed,
        "steps": record.steps,
        "guidance_scale": record.guidance_scale,
        "width": record.width,
        "height": record.height,
        "scheduler": record.scheduler,
        "model": record.model_id,
        "kind": (record.provenance or {}).get("pipeline_kind"),
        "model_hash": record.model_hash,
        "recipe": record.recipe or None,
        "settings": record.settings,
        "rating": record.rating,
        "favourite": record.favourite,
        "tags": list(record.tags),
        "notes": record.notes,
        "parent_id": record.parent_id,
    }


def import_image(store: OwnerGallery, image: str | None) -> dict[str, Any]:
    """Import one PNG, JPEG or WebP with its embedded settings; the new generation ids (empty
    if a duplicate)."""
    if not image:
        raise gr.Error("Send a PNG, JPEG or WebP file to import.")
    path = Path(image)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise gr.Error("Only PNG, JPEG and WebP files can be imported.")
    with tempfile.TemporaryDirectory(prefix="atelier-import-") as folder:
        shutil.copyfile(path, Path(folder) / f"upload{path.suffix.lower()}")
        try:
            report = store.import_folder(folder, recursive=False)
        except GalleryError as exc:
            raise gr.Error(shown(exc)) from None
    if report.failed:
        raise gr.Error(shown(f"That image could not be imported: {report.failed[0][1]}."))
    return {
        "ids": list(report.imported),
        "duplicate": bool(report.duplicates),
        "had_settings": not report.without_metadata,
    }


def register_gallery_api(store: OwnerGallery) -> None:
    """Add the gallery endpoints to the current Blocks (the upload on a hidden component)."""
    with gr.Column(visible=False, elem_id="api-only-gallery"):
        upload = gr.File(
            label="image", type="filepath", file_types=[".png", ".jpg", ".jpeg", ".webp"]
        )
        imported = gr.JSON(label="imported")
        import_trigger = gr.Button("import_image")

    search_gallery = keyword_endpoint(
        "search_gallery",
        SEARCH_PARAMS,
        partial(search, store),
        returns=list[dict[str, Any]],
        doc="Generations matching the text and filters, newest first: id, prompt, seed, ...",
    )

    def get_generation_api(id: int) -> dict[str, Any]:
        """One generation's prompts, settings, recipe, rating, favourite, tags and notes."""
        return get_generation(store, id)

    gr.api(search_gallery, api_name="search_gallery", concurrency_limit=None)
    gr.api(get_generation_api, api_name="get_generation", concurrency_limit=None)
    import_trigger.click(
        fn=partial(import_image, store),
        inputs=upload,
        outputs=imported,
        api_name="import_image",
        api_description="Import a PNG with its embedded settings; returns the new ids.",
        show_progress="hidden",
    )
