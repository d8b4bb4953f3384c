"""The page's interrogation, and the refinement's form, as plain functions (tested directly;
`ui.refine.tab` wires them; a run's rounds on the page are `ui.refine.page_rounds`). Bad input
raises `gr.Error` with one sentence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gradio as gr
from PIL import Image

from engine.interrogate import Interrogation, Interrogator
from gallery.errors import GalleryError
from gallery.views import OwnerGallery
from prompts.recipe import Recipe, RecipeError
from ui.builder.handlers import recipe_values
from ui.forms import FormError
from ui.messages import shown
from ui.refine.form import RefineForm
from ui.refine.images import ImageInputError, open_picture
from ui.refine.readout import summary_markdown
from ui.refine.runner import interrogate


def picture(path: Any) -> Image.Image:
    """An uploaded picture; `gr.Error` when it is none or not an image."""
    try:
        return open_picture(path)
    except ImageInputError as exc:
        raise gr.Error(str(exc)) from None


def read_upload(interrogator: Interrogator, path: Any) -> list[Any]:
    """The Builder's upload: the recipe in the Builder's fields, then how sure per part."""
    interrogation = interrogate(interrogator, picture(path))
    return [*recipe_values(interrogation.recipe), summary_markdown(interrogation)]


def read_generation(
    store: OwnerGallery, interrogator: Interrogator, generation_id: Any
) -> tuple[str, dict[str, Any], list[list[str]]]:
    """A gallery image (the Gallery's detail, a Compare cell) read into a recipe: the
    summary, the recipe (for "Send to Builder") and Compare rows (its own prompt, then the
    read one, for "Compare with…")."""
    if generation_id in (None, ""):
        raise gr.Error("Choose an image first.")
    try:
        record = store.get(int(generation_id))
    except GalleryError as exc:
        raise gr.Error(shown(exc)) from None
    except (TypeError, ValueError):
        raise gr.Error("Choose an image first.") from None
    if record.image is None or record.image.missing:
        raise gr.Error("That image's file is missing.")
    interrogation = interrogate(interrogator, picture(record.image.path))
    rows = [[f"#{record.id}", record.prompt], ["read back", interrogation.prompt]]
    return summary_markdown(interrogation), interrogation.recipe.to_dict(), rows


def recipe_to_builder(recipe: Any) -> list[Any]:
    """A read recipe as the Builder's widget values; `gr.Error` before one was read."""
    if not isinstance(recipe, Mapping) or not recipe:
        raise gr.Error("Read a picture first.")
    try:
        return recipe_values(Recipe.from_dict(dict(recipe)))
    except RecipeError as exc:
        raise gr.Error(shown(exc)) from None


def rows_to_compare(rows: Any) -> list[list[str]]:
    """The Compare rows of the last reading; `gr.Error` before one was made."""
    if not rows:
        raise gr.Error("Read a picture first.")
    return [list(row) for row in rows]


def interrogation_dict(interrogation: Interrogation) -> dict[str, Any]:
    """What the API returns: the recipe as Builder fields with each term's score."""
    return interrogation.to_dict()


# --- refinement ----------------------------------------------------------------------------


def read_form(values: Mapping[str, Any], target: Any) -> RefineForm:
    """The page's or the API's values as a form (`target`: an uploaded picture or None)."""
    image = picture(target) if target else None
    try:
        return RefineForm.read(values, image)
    except FormError as exc:
        raise gr.Error(shown(exc)) from None
