"""The web app: Gradio Blocks assembled from one module per tab."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from engine.default_model import DefaultModelChoice
from engine.generate import Engine
from engine.tokenizer import load_clip_tokenizer
from gallery.store import GalleryStore
from prompts.styles import JsonUserStyleFile, StyleLibrary, UserStyleStore
from prompts.wildcards import user_wildcards_dir
from ui.api import register_api
from ui.builder_tab import build_builder_tab, connect_send_to_generate
from ui.compare_tab import build_compare_tab, connect_compare
from ui.gallery_tab import build_gallery_tab, connect_recall_to_generate
from ui.generate_tab import build_generate_tab

TITLE = "Prompt Atelier"
BUILDER_TAB = "builder"
GENERATE_TAB = "generate"
GALLERY_TAB = "gallery"
COMPARE_TAB = "compare"


def build_app(
    engine: Engine,
    default_model: DefaultModelChoice,
    on_result: Callable[..., Any] | None = None,
    *,
    data_dir: Path | None = None,
    style_store: UserStyleStore | None = None,
    gallery: GalleryStore | None = None,
) -> gr.Blocks:
    """The whole app; `on_result(result, recipe)` receives every finished generation and the
    recipe dict it came from (or None); the gallery records it and returns the new ids.

    `data_dir` holds the user's wildcards and styles (default: the parent of the engine's
    models folder); `style_store` keeps the user's styles (default: a JSON file there).
    `gallery` adds the Gallery tab over that store (launch with its root in `allowed_paths`
    when it lies outside the working and temporary folders).
    """
    models_dir = Path(engine.models.models_dir)
    data_dir = Path(data_dir) if data_dir is not None else models_dir.parent
    store = style_store if style_store is not None else JsonUserStyleFile.in_data_dir(data_dir)
    library = StyleLibrary(user=store)
    with gr.Blocks(title=TITLE) as app:
        gr.Markdown(f"# {TITLE}\nCraft prompts, generate, compare, keep everything.")
        banner = ("⚠️ " if default_model.is_demo else "") + default_model.reason
        gr.Markdown(banner, elem_id="model-banner")
        with gr.Tabs(selected=BUILDER_TAB) as tabs:
            with gr.Tab("Builder", id=BUILDER_TAB, elem_id="tab-builder"):
                builder = build_builder_tab(library, models_dir, user_wildcards_dir(data_dir))
            with gr.Tab("Generate", id=GENERATE_TAB, elem_id="tab-generate"):
                generate = build_generate_tab(engine, default_model.model, on_result)
            if gallery is not None:
                with gr.Tab("Gallery", id=GALLERY_TAB, elem_id="tab-gallery") as gallery_tab:
                    kept = build_gallery_tab(gallery, gallery_tab)
                connect_recall_to_generate(kept, gallery, generate, tabs, GENERATE_TAB)
                with gr.Tab("Compare", id=COMPARE_TAB, elem_id="tab-compare") as compare_tab:
                    compare = build_compare_tab(
                        engine, gallery, default_model.model, library, compare_tab
                    )
                connect_compare(compare, builder.positive, kept.selected)
        connect_send_to_generate(builder, generate.prompt, generate.negative, tabs, GENERATE_TAB)
        register_api(engine, default_model.model, on_result, library, load_clip_tokenizer, gallery)
    app.queue(default_concurrency_limit=1, max_size=32)
    return app
