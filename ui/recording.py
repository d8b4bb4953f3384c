"""Glue between the engine and the gallery: a `GenerationResult` becomes recorded generations.

The result is read by its attributes (images, seeds, prompts, negative_prompts, request,
provenance), so this module imports neither torch nor the engine. The PNG written to an output
folder and the one stored in the gallery are the same bytes: both come from
`gallery.metadata.embed_metadata` on the same `NewGeneration`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from gallery.errors import GalleryError
from gallery.metadata import embed_metadata
from gallery.records import NewGeneration
from gallery.views import OwnerGallery


def _request_settings(request: Any) -> dict[str, Any]:
    if hasattr(request, "to_dict"):
        return dict(request.to_dict())
    if dataclasses.is_dataclass(request) and not isinstance(request, type):
        return dataclasses.asdict(request)
    return dict(vars(request))


def _recipe_dict(recipe: Any) -> dict[str, Any] | None:
    if recipe is None or isinstance(recipe, dict):
        return recipe
    if hasattr(recipe, "to_dict"):  # a prompts.recipe.Recipe
        return dict(recipe.to_dict())
    raise GalleryError(f"A recipe must be a dict or a Recipe, not {type(recipe).__name__}.")


def new_generation(
    result: Any,
    index: int,
    recipe: Any = None,
    *,
    parent_id: int | None = None,
    user_id: str | None = None,
    tags: Sequence[str] = (),
) -> NewGeneration:
    """The gallery record for image `index` of an engine result."""
    request = result.request
    provenance = dict(result.provenance or {})
    settings = _request_settings(request)
    settings["image_index"] = index
    image = result.images[index]
    return NewGeneration(
        prompt=result.prompts[index],
        negative_prompt=result.negative_prompts[index],
        seed=result.seeds[index],
        steps=request.steps,
        guidance_scale=float(request.guidance_scale),
        width=image.width,
        height=image.height,
        scheduler=provenance.get("scheduler") or request.scheduler,
        model_id=provenance.get("model_id"),
        model_revision=provenance.get("model_revision"),
        model_hash=provenance.get("model_hash"),
        recipe=_recipe_dict(recipe),
        settings=settings,
        provenance=provenance,
        user_id=user_id,
        parent_id=parent_id,
        tags=tuple(tags),
        image=image,
    )


def png_bytes_with_metadata(result: Any, index: int, recipe: Any = None) -> bytes:
    """Image `index` of a result as PNG bytes with A1111 parameters and our JSON embedded."""
    item = new_generation(result, index, recipe)
    assert item.image is not None
    return embed_metadata(item.image, item)


def record_result(
    store: OwnerGallery,
    result: Any,
    recipe: Any = None,
    parent_id: int | None = None,
    tags: Sequence[str] = (),
) -> list[int]:
    """Record every image of an engine result as one batch of the view's owner; return the
    generation ids."""
    items = [
        new_generation(result, index, recipe, parent_id=parent_id, tags=tags)
        for index in range(len(result.images))
    ]
    return store.record_generations(items)
