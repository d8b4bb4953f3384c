"""The web app: Gradio Blocks assembled from one module per tab."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from engine.default_model import DefaultModelChoice
from engine.generate import Engine
from engine.result import GenerationResult
from ui.generate_tab import build_generate_tab

TITLE = "Prompt Atelier"


def build_app(
    engine: Engine,
    default_model: DefaultModelChoice,
    on_result: Callable[[GenerationResult], Any] | None = None,
) -> gr.Blocks:
    """The whole app; `on_result` receives every finished generation (the gallery records it)."""
    with gr.Blocks(title=TITLE) as app:
        gr.Markdown(f"# {TITLE}\nCraft prompts, generate, compare, keep everything.")
        banner = ("⚠️ " if default_model.is_demo else "") + default_model.reason
        gr.Markdown(banner, elem_id="model-banner")
        with gr.Tab("Generate"):
            build_generate_tab(engine, default_model.model, on_result)
    app.queue(default_concurrency_limit=1, max_size=32)
    return app
