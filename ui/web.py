"""The web app: Gradio Blocks assembled from one module per tab."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from engine.default_model import DefaultModelChoice
from gallery.views import OwnerGallery
from prompts.styles import JsonUserStyleFile, StyleLibrary, UserStyleStore
from prompts.wildcards import user_wildcards_dir
from ui.builder.api import register_compose_api
from ui.builder.tab import build_builder_tab
from ui.clip_tokenizer import clip_tokenizer
from ui.compare.tab import build_compare_tab, connect_compare
from ui.gallery_tab.api import register_gallery_api
from ui.gallery_tab.reproduce import connect_regenerate
from ui.gallery_tab.tab import build_gallery_tab
from ui.generate.api import register_generate_api
from ui.generate.model_events import ModelFitInputs, connect_builder_budget
from ui.generate.tab import build_generate_tab
from ui.guarded import guard_handlers
from ui.hosting.hosted_engine import HostedEngine
from ui.hosting.join_gate import JoinGate
from ui.hosting.mode import PUBLIC_QUEUE_SIZE, Hosting, Limits, browser_storage_key
from ui.hosting.sessions import lean_sessions
from ui.hosting.visitors import Visitors, browser_owner, valid_token
from ui.messages import md_text
from ui.refine.api import register_refine_api
from ui.refine.runner import shared_interrogator
from ui.refine.tab import (
    build_builder_reader,
    build_image_reader,
    build_refine_panel,
    connect_compare_with,
)
from ui.round_trips import (
    connect_builder_to_generate,
    connect_compare_these,
    connect_generate_to_builder,
    connect_open_in_gallery,
    connect_recall,
)

if TYPE_CHECKING:  # torch loads with the engine, behind the page
    from engine.generate import Engine

TITLE = "Prompt Atelier"
BUILDER_TAB = "builder"
GENERATE_TAB = "generate"
GALLERY_TAB = "gallery"
COMPARE_TAB = "compare"


FIRST_RUN_HINT = (
    "**Three steps:** ① describe a picture in the **Builder** (or type a prompt on "
    "**Generate**) → ② press **Generate** (Ctrl+Enter) → ③ find, rate and compare everything in "
    "the **Gallery**."
)
QUIET: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
LOADING_POLL_SECONDS = 1.0


def banner(default_model: DefaultModelChoice) -> dict[str, Any]:
    """The Markdown arguments of the banner: a boxed warning on the demo model."""
    if default_model.is_demo:
        text = (
            "⚠️ **Demo model: the pictures are noise.** Every control, seed, scheduler and "
            f"gallery entry is real, but the weights are random. {default_model.reason}"
        )
        return {"value": text, "elem_id": "model-banner", "elem_classes": ["banner-demo"]}
    return {"value": default_model.reason, "elem_id": "model-banner"}


def build_app(
    engine: Engine | HostedEngine,
    default_model: DefaultModelChoice,
    on_result: Callable[..., Any] | None = None,
    *,
    data_dir: Path | None = None,
    style_store: UserStyleStore | None = None,
    gallery: OwnerGallery | None = None,
    hosting: Hosting | None = None,
    visitors: Visitors | None = None,
) -> gr.Blocks:
    """The whole app; `on_result(result, recipe)` receives every finished generation and the
    recipe dict it came from (or None); the gallery records it and returns the new ids.

    `data_dir` holds the user's wildcards and styles (default: the parent of the engine's
    models folder); `style_store` keeps the user's styles (default: a JSON file there).
    `gallery` adds the Gallery tab over that store (launch with its root in `allowed_paths`
    when it lies outside the working and temporary folders).

    `hosting` (default: local, one user) adds what a shared app shows: who the visitor is, a
    Hugging Face sign-in on a Space, the limits; with `visitors`, the visitor's browser token is
    kept in `gr.BrowserState` and a signed-out gallery is claimed at sign-in. Give `gallery`
    as a `ui.hosting.visitors.VisitorGallery` so each visitor sees their own.

    Every pipeline run goes through a `HostedEngine` (the GPU boundary, and in public mode
    the limits); a bare `Engine` is wrapped in a local one. A `HostedEngine` whose engine is
    still loading (`ui.hosting.engine_loading`) gives a page at once that says so until it is
    ready; a run waits for it.
    """
    hosting = hosting or Hosting()
    if not isinstance(engine, HostedEngine):
        engine = HostedEngine(engine, hosting)
    models_dir = Path(engine.models_dir)
    data_dir = Path(data_dir) if data_dir is not None else models_dir.parent
    store = style_store if style_store is not None else JsonUserStyleFile.in_data_dir(data_dir)
    library = StyleLibrary(user=store)
    reader = partial(shared_interrogator, data_dir)  # loads its CLIP when first asked
    # Gradio's copies of served files (export zips, results) are cleared after an hour.
    with gr.Blocks(title=TITLE, delete_cache=(600, 3600)) as app:
        hint, identified = _header(app, engine, default_model, hosting, visitors, gallery)
        with gr.Tabs(selected=BUILDER_TAB) as tabs:
            with gr.Tab("Builder", id=BUILDER_TAB, elem_id="tab-builder"):
                builder = build_builder_tab(library, models_dir, user_wildcards_dir(data_dir))
                build_builder_reader(builder, reader)
            with gr.Tab("Generate", id=GENERATE_TAB, elem_id="tab-generate"):
                generate = build_generate_tab(engine, default_model.model, on_result)
            if gallery is not None:
                with gr.Tab("Gallery", id=GALLERY_TAB, elem_id="tab-gallery") as gallery_tab:
                    kept = build_gallery_tab(gallery, gallery_tab, identified)
                    read_kept = build_image_reader(gallery, reader, kept.selected, builder, tabs,
                                                   BUILDER_TAB, "gallery")  # fmt: skip
                connect_recall(
                    kept.recall,
                    kept.recall_builder,
                    kept.selected,
                    gallery,
                    builder,
                    generate,
                    tabs,
                    (BUILDER_TAB, GENERATE_TAB),
                )
                connect_regenerate(
                    kept.regenerate, kept.selected, kept.regenerated, engine, gallery
                )
                with gr.Tab("Compare", id=COMPARE_TAB, elem_id="tab-compare") as compare_tab:
                    compare = build_compare_tab(
                        engine, gallery, default_model.model, library, compare_tab
                    )
                    read_cell = build_image_reader(gallery, reader, compare.last_cell, builder,
                                                   tabs, BUILDER_TAB, "compare")  # fmt: skip
                    connect_compare_with([read_kept, read_cell], compare.variants, tabs,
                                         COMPARE_TAB)  # fmt: skip
                    build_refine_panel(engine, gallery, reader, builder.positive)
                connect_compare(compare, builder.positive, kept.selected)
                connect_compare_these(
                    kept.chosen, kept.compare_these, gallery, compare, tabs, COMPARE_TAB
                )
                connect_open_in_gallery(
                    compare.open_in_gallery,
                    compare.last_cell,
                    kept.open_record,
                    kept.record_outputs,
                    tabs,
                    GALLERY_TAB,
                )
        connect_builder_budget(
            builder.positive,
            builder.encoders,
            generate.model,
            generate.t5_length,
            ModelFitInputs(models_dir, clip_tokenizer),
        )
        connect_builder_to_generate(builder, generate, tabs, GENERATE_TAB)
        connect_generate_to_builder(builder, generate, tabs, BUILDER_TAB)
        if gallery is not None:  # the hint shows until the gallery holds a first image
            counted = identified.then if identified is not None else app.load
            counted(lambda: gr.Markdown(visible=gallery.count() == 0), outputs=hint, **QUIET)
        register_generate_api(engine, default_model.model, on_result)
        register_compose_api(library, clip_tokenizer)
        if gallery is not None:
            register_gallery_api(gallery)
            register_refine_api(engine, gallery, reader)
    _queue(app, hosting, visitors)
    return app


def _header(
    app: gr.Blocks,
    engine: HostedEngine,
    default_model: DefaultModelChoice,
    hosting: Hosting,
    visitors: Visitors | None,
    gallery: OwnerGallery | None,
) -> tuple[gr.Markdown, Any]:
    """The title, the model banner, the loading line, the limits and who the visitor is; returns
    the first-run hint (hidden until the page knows the gallery is empty) and, with visitors,
    the page load's event that ties the page to its visitor (None without): what reads the
    visitor's gallery at load runs after it."""
    gr.Markdown(f"# {TITLE}\nCraft prompts, generate, compare, keep everything.")
    gr.Markdown(**banner(default_model))
    if not engine.ready:
        _loading_line(app, engine)
    hint = gr.Markdown(FIRST_RUN_HINT, visible=False, elem_id="first-run")
    if hosting.limits is not None:
        models = ", ".join(f"`{m}`" for m in hosting.allowed_models)
        gr.Markdown(
            f"{hosting.limits.describe()} Models: {models}. Your place in the queue "
            "shows on the result while you wait.",
            elem_id="hosting-limits",
        )
    identified = None
    if visitors is not None and hosting.per_user:
        token, who, identify = _visitor_row(hosting, visitors, gallery)
        identified = app.load(
            identify,
            inputs=token,
            outputs=[token, who],
            api_visibility="private",
            show_progress="hidden",
        )
    return hint, identified


def _queue(app: gr.Blocks, hosting: Hosting, visitors: Visitors | None) -> None:
    """A public app gets a longer queue: each visitor holds at most one run
    (`ui.hosting.hosted_engine`), and a refused request leaves the queue at once. In public
    mode every call goes through the queue (no sessionless REST calls), and a visitor's joins
    are counted at the door (`ui.hosting.join_gate`). No handler's unexpected error reaches a
    visitor as Python's text."""
    app.queue(
        default_concurrency_limit=1,
        max_size=PUBLIC_QUEUE_SIZE if hosting.public else 32,
        api_open=not hosting.public,
    )
    if hosting.public:
        JoinGate(app, visitors or Visitors(hosting), hosting.limits or Limits()).install()
        lean_sessions(app)  # a small page state per session hash
    guard_handlers(app)


def _loading_line(app: gr.Blocks, engine: HostedEngine) -> gr.Markdown:
    """A line that shows while the engine (torch, diffusers, the first model) loads behind the
    page, read at each page load and polled each second until it is ready; it stays to show a
    failure. Private: a callable value would be a public `/loading_status` endpoint."""
    line = gr.Markdown(engine.loading_status(), elem_id="model-loading")
    app.load(engine.loading_status, outputs=line, **QUIET)
    timer = gr.Timer(LOADING_POLL_SECONDS)

    def poll() -> tuple[Any, Any]:
        status = engine.loading_status()
        return gr.Markdown(status, visible=bool(status)), gr.Timer(active=not engine.ready)

    timer.tick(poll, outputs=[line, timer], concurrency_limit=None, **QUIET)
    return line


def _visitor_row(
    hosting: Hosting, visitors: Visitors, gallery: Any
) -> tuple[gr.BrowserState, gr.Markdown, Callable[..., tuple[Any, str]]]:
    """Who the visitor is (and a sign-in button on a Space); on load, tie the page to the
    browser's token and, once signed in, claim the gallery made signed out in this browser."""
    with gr.Row(equal_height=True):
        who = gr.Markdown(elem_id="visitor")
        if hosting.sign_in_with_hf:
            gr.LoginButton(scale=0, min_width=200)
    token = gr.BrowserState(
        None, storage_key="atelier_visitor", secret=browser_storage_key(hosting.browser_secret)
    )

    def identify(saved: Any, request: gr.Request) -> tuple[Any, str]:
        visitor = visitors.visitor(request)
        if not hosting.public:
            return saved, _greeting(visitor.name, visitor.admin, claimed=0)
        kept = visitors.remember_browser(request, saved)
        claimed = 0
        if visitor.signed_in and valid_token(saved) and gallery is not None:
            claimed = gallery.store.admin().transfer_owner(browser_owner(kept), visitor.owner)
        if not visitor.signed_in:
            return kept, (
                "Your gallery is kept for this browser only"
                + (" — sign in with Hugging Face to keep it." if hosting.sign_in_with_hf else ".")
            )
        return kept, _greeting(visitor.name, visitor.admin, claimed)

    return token, who, identify


def _greeting(name: str | None, admin: bool, claimed: int) -> str:
    if not name:
        return ""
    text = f"Signed in as **{md_text(name)}**: your gallery is yours alone."
    if admin:
        text += " As an admin you see every gallery."
    if claimed:
        text += f" The {claimed} image(s) you made signed out in this browser are now yours."
    return text
