"""The named API endpoints for `gradio_client`: generate, compose_prompt, search_gallery,
get_generation, import_image.

Each takes typed parameters with defaults, so a caller names only what it changes:

    client.predict(prompt="a fox", seed=5, steps=2, width=64, height=64, api_name="/generate")

The handlers are plain functions (tested directly); `register_api` wires them into the current
Blocks. `generate` and `import_image` move files, so they run on hidden components (the client
uploads and downloads the images); the others take and return JSON through `gr.api`.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from engine.errors import EngineError
from engine.generate import Engine
from engine.request import GenerationRequest, parse_seed
from engine.result import GenerationResult
from gallery.errors import GalleryError
from gallery.records import GalleryQuery, GenerationRecord
from gallery.views import OwnerGallery
from prompts.compose import compose_prompt as compose_recipe
from prompts.recipe import Recipe, RecipeError
from prompts.styles import StyleError, StyleLibrary
from prompts.token_budget import count_tokens
from prompts.weighting import PromptSyntaxError
from ui.generation_handler import describe_result, recording_warning
from ui.messages import shown

ResultCallback = Callable[..., Any]
"""Receives each finished result (and the recipe it came from); may return gallery ids."""
DEFAULT_SCHEDULER = "Euler a"
MAX_PAGE_SIZE = 200


def whole_number(value: Any, name: str) -> int:
    """`value` as an int; `gr.Error` naming the setting when it is not a whole number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(shown(f"{name} must be a whole number, not {value!r}.")) from None
    if not number.is_integer():
        raise gr.Error(shown(f"{name} must be a whole number, not {value!r}."))
    return int(number)


def build_request(
    prompt: str,
    negative_prompt: str = "",
    seed: Any = -1,
    steps: Any = 20,
    guidance_scale: Any = 7.0,
    width: Any = 512,
    height: Any = 512,
    num_images: Any = 1,
    scheduler: str = DEFAULT_SCHEDULER,
    clip_skip: Any = 1,
) -> GenerationRequest:
    """A request from loosely typed values (the page's and the API's); `gr.Error` on bad ones.

    A seed below 0 (or none) means random. Clip skip is passed on when the engine knows it.
    """
    try:
        seed_value = parse_seed(-1 if seed is None else seed)  # exact, up to 2**64-1
    except EngineError as exc:
        raise gr.Error(str(exc)) from None
    settings: dict[str, Any] = {
        "prompt": prompt or "",
        "negative_prompt": negative_prompt or "",
        "seed": seed_value,
        "steps": whole_number(steps, "Steps"),
        "guidance_scale": float(guidance_scale),
        "width": whole_number(width, "Width"),
        "height": whole_number(height, "Height"),
        "num_images": whole_number(num_images, "Number of images"),
        "scheduler": scheduler or DEFAULT_SCHEDULER,
    }
    skip = whole_number(1 if clip_skip in (None, "") else clip_skip, "Clip skip")
    if "clip_skip" in {item.name for item in dataclasses.fields(GenerationRequest)}:
        settings["clip_skip"] = skip
    elif skip != 1:
        raise gr.Error("Clip skip is not available in this version; leave it at 1.")
    return GenerationRequest(**settings)


def generate(
    engine: Engine,
    default_model: str,
    on_result: ResultCallback | None,
    prompt: str,
    negative_prompt: str = "",
    seed: str | int = -1,
    steps: float = 20,
    guidance_scale: float = 7.0,
    width: float = 512,
    height: float = 512,
    num_images: float = 1,
    scheduler: str = DEFAULT_SCHEDULER,
    model: str = "",
    clip_skip: float = 1,
) -> tuple[list[Any], dict[str, Any]]:
    """Generate and record; return the images and {seeds, ids, prompts, info}."""
    request = build_request(
        prompt,
        negative_prompt,
        seed,
        steps,
        guidance_scale,
        width,
        height,
        num_images,
        scheduler,
        clip_skip,
    )
    try:
        result = engine.generate(request, model=(model or "").strip() or default_model)
    except EngineError as exc:
        raise gr.Error(shown(exc)) from None
    ids = _record(on_result, result)
    summary = {
        "seeds": list(result.seeds),
        "ids": ids,
        "prompts": list(result.prompts),
        "model": result.provenance.get("model_id"),
        "info": describe_result(result),
    }
    return [(image, f"seed {s}") for image, s in zip(result.images, result.seeds, strict=True)], (
        summary
    )


def _record(on_result: ResultCallback | None, result: GenerationResult) -> list[int]:
    if on_result is None:
        return []
    try:
        ids = on_result(result, None)
    except Exception as exc:  # the images are returned all the same
        gr.Warning(shown(recording_warning(exc)))
        return []
    return [int(i) for i in ids] if isinstance(ids, (list, tuple)) else []


def compose(
    library: StyleLibrary,
    tokenizer: Callable[[], Any],
    subject: str = "",
    styles: list[str] | None = None,
    medium: list[str] | None = None,
    lighting: list[str] | None = None,
    camera: list[str] | None = None,
    composition: list[str] | None = None,
    mood: list[str] | None = None,
    colour: list[str] | None = None,
    details: list[str] | None = None,
    quality: list[str] | None = None,
    negative: list[str] | None = None,
    free_text: str = "",
) -> dict[str, Any]:
    """Compose a recipe into prompts with their CLIP token counts."""
    try:
        recipe = Recipe(
            subject=subject or "",
            styles=_terms(styles),
            medium=_terms(medium),
            lighting=_terms(lighting),
            camera=_terms(camera),
            composition=_terms(composition),
            mood=_terms(mood),
            colour=_terms(colour),
            details=_terms(details),
            quality=_terms(quality),
            negative=_terms(negative),
            free_text=free_text or "",
        )
        composed = compose_recipe(recipe, library)
        budget = count_tokens(composed.positive, tokenizer())
        negative_budget = count_tokens(composed.negative, tokenizer())
    except (RecipeError, StyleError, PromptSyntaxError) as exc:
        raise gr.Error(shown(exc)) from None
    return {
        "prompt": composed.positive,
        "negative_prompt": composed.negative,
        "styles": list(composed.styles),
        "removed_duplicates": list(composed.removed_duplicates),
        "tokens": budget.token_count,
        "chunks": len(budget.chunks),
        "negative_tokens": negative_budget.token_count,
        "recipe": recipe.to_dict(),
    }


def _terms(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(item) for item in value]


def search(
    store: OwnerGallery,
    query: str = "",
    model: str = "",
    tag: str = "",
    min_rating: int = 0,
    favourites_only: bool = False,
    page: int = 1,
    page_size: int = 24,
) -> list[dict[str, Any]]:
    """Generations matching the full-text query and filters, newest first."""
    size = whole_number(page_size, "Page size")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise gr.Error(f"Page size must be from 1 to {MAX_PAGE_SIZE}.")
    rating = whole_number(min_rating or 0, "Minimum rating")
    if not 0 <= rating <= 5:
        raise gr.Error("The minimum rating must be from 0 to 5.")
    gallery_query = GalleryQuery(
        text=(query or "").strip(),
        model_id=(model or "").strip() or None,
        tag=(tag or "").strip() or None,
        min_rating=rating or None,
        favourite=True if favourites_only else None,
        page=max(1, whole_number(page, "Page")),
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


def register_api(
    engine: Engine,
    default_model: str,
    on_result: ResultCallback | None,
    library: StyleLibrary,
    tokenizer: Callable[[], Any],
    store: OwnerGallery | None,
) -> None:
    """Add the named endpoints to the current Blocks (on hidden components where needed)."""
    with gr.Column(visible=False, elem_id="api-only"):
        inputs = [
            gr.Textbox(label="prompt"),
            gr.Textbox(label="negative_prompt", value=""),
            gr.Textbox(label="seed", value="-1"),  # text: a float cannot hold 64-bit seeds
            gr.Number(label="steps", value=20),
            gr.Number(label="guidance_scale", value=7.0),
            gr.Number(label="width", value=512),
            gr.Number(label="height", value=512),
            gr.Number(label="num_images", value=1),
            gr.Textbox(label="scheduler", value=DEFAULT_SCHEDULER),
            gr.Textbox(label="model", value=default_model),
            gr.Number(label="clip_skip", value=1),
        ]
        outputs = [gr.Gallery(label="images", format="png"), gr.JSON(label="summary")]
        upload = gr.File(
            label="image", type="filepath", file_types=[".png", ".jpg", ".jpeg", ".webp"]
        )
        imported = gr.JSON(label="imported")
        generate_trigger = gr.Button("generate")
        import_trigger = gr.Button("import_image")

    def run_generate(
        prompt: str,
        negative_prompt: str = "",
        seed: str = "-1",
        steps: float = 20,
        guidance_scale: float = 7.0,
        width: float = 512,
        height: float = 512,
        num_images: float = 1,
        scheduler: str = DEFAULT_SCHEDULER,
        model: str = default_model,
        clip_skip: float = 1,
    ) -> tuple[list[Any], dict[str, Any]]:
        return generate(
            engine,
            default_model,
            on_result,
            prompt,
            negative_prompt,
            seed,
            steps,
            guidance_scale,
            width,
            height,
            num_images,
            scheduler,
            model,
            clip_skip,
        )

    generate_trigger.click(
        fn=run_generate,
        inputs=inputs,
        outputs=outputs,
        api_name="generate",
        api_description="Generate images; returns them and {seeds, ids, prompts, model, info}.",
        concurrency_id="generate",
        concurrency_limit=1,
        show_progress="hidden",
    )

    def compose_prompt(
        subject: str = "",
        styles: list[str] | None = None,
        medium: list[str] | None = None,
        lighting: list[str] | None = None,
        camera: list[str] | None = None,
        composition: list[str] | None = None,
        mood: list[str] | None = None,
        colour: list[str] | None = None,
        details: list[str] | None = None,
        quality: list[str] | None = None,
        negative: list[str] | None = None,
        free_text: str = "",
    ) -> dict[str, Any]:
        """Compose a recipe into a prompt and negative prompt with their token counts."""
        return compose(
            library,
            tokenizer,
            subject,
            styles,
            medium,
            lighting,
            camera,
            composition,
            mood,
            colour,
            details,
            quality,
            negative,
            free_text,
        )

    gr.api(compose_prompt, api_name="compose_prompt", concurrency_limit=None)
    if store is None:
        return

    def search_gallery(
        query: str = "",
        model: str = "",
        tag: str = "",
        min_rating: int = 0,
        favourites_only: bool = False,
        page: int = 1,
        page_size: int = 24,
    ) -> list[dict[str, Any]]:
        """Generations matching the text and filters, newest first: id, prompt, seed, ..."""
        return search(store, query, model, tag, min_rating, favourites_only, page, page_size)

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
