"""`python app.py serve` (also the default): start the web app.

Page first: the page answers as soon as Gradio is up; torch, diffusers and the first model load
behind it in one thread (`ui.hosting.engine_loading`), the page says so, and a Generate waits
for them. On ZeroGPU the engine and the model load before the page (the weights must be on
CUDA when the Space starts).
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from ui.cli.errors import CommandError
from ui.hosting.mode import Hosting
from ui.settings import resolve_data_dir

if TYPE_CHECKING:  # the page's libraries load only when `serve` runs
    import gradio as gr

    from engine.default_model import DefaultModelChoice
    from engine.generate import Engine
    from gallery.store import GalleryStore
    from ui.hosting.engine_loading import EngineLoading
    from ui.hosting.engine_runners import PipelineRunner


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `serve` sub-command."""
    parser = sub.add_parser("serve", help="start the web app (the default without a sub-command)")
    add_serve_flags(parser)
    parser.set_defaults(handler=run)


def add_serve_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the web app."""
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument(
        "--port",
        type=port_number,
        default=os.environ.get("GRADIO_SERVER_PORT", "7860"),
        help="port to listen on, 1-65535 (default: GRADIO_SERVER_PORT, else 7860)",
    )
    parser.add_argument(
        "--model",
        help="model to start with (default: sd-turbo when reachable, else the sketch model)",
    )
    parser.add_argument("--device", help="cuda, mps or cpu")
    parser.add_argument("--dtype", choices=["fp32", "fp16", "bf16"])
    parser.add_argument(
        "--public",
        action="store_true",
        help="host for strangers (as on a Space): model allow-list, limits, per-visitor galleries",
    )
    parser.add_argument(
        "--auth",
        action="append",
        metavar="USER:PASS",
        help="require a login; repeat for more users (each gets their own gallery)",
    )
    parser.add_argument("--auth-file", metavar="FILE", help="logins, one user:pass a line")
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        help="where the pipeline runs: this process (local), or engine replicas on the Ray "
        "cluster at RAY_ADDRESS (ray; see README 'Scaling out'; default: ATELIER_ENGINE, "
        "else local)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="the gallery database, e.g. postgresql+psycopg://user@host/db, shared by every "
        "front end (default: DATABASE_URL, else a SQLite file in the data folder)",
    )
    parser.add_argument(
        "--images",
        metavar="s3://BUCKET/PREFIX",
        help="keep images in an S3-compatible store (endpoint and keys from the AWS_* "
        "variables; default: ATELIER_IMAGES, else the gallery folder)",
    )


def port_number(text: str) -> int:
    """A TCP port as typed: a whole number from 1 to 65535 (argparse's `type`)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"the port must be a whole number from 1 to 65535, not {text!r}"
        )
    return port


def launch_failure(exc: OSError, host: str, port: int) -> str:
    """One sentence for a page that could not start listening (Gradio's says `launch()`)."""
    if "empty port" in str(exc):
        return f"Port {port} is in use on {host}; choose another with --port."
    return f"Cannot listen on {host}:{port} ({exc.strerror or type(exc).__name__})."


def run(args: argparse.Namespace) -> int:
    """Build the gallery and the page, serve it, load the engine behind it; serve until
    interrupted."""
    from engine.errors import EngineError
    from gallery.errors import GalleryError
    from gallery.store import GalleryStore
    from ui.clip_tokenizer import clip_tokenizer
    from ui.hosting.auth import HostingError
    from ui.hosting.engine_loading import EngineLoading
    from ui.hosting.engine_runners import engine_choice, runner_for
    from ui.hosting.mode import hosting_from, with_browser_secret
    from ui.hosting.served import launch_options
    from ui.page_assets import launch_assets
    from ui.runtime import build_engine
    from ui.settings import gallery_dir, models_dir

    data_dir = resolve_data_dir(args.data_dir)
    zero_gpu = os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")
    # ZeroGPU wants the weights moved to CUDA at start; the GPU attaches per generation.
    device = "cuda" if zero_gpu else getattr(args, "device", None)
    dtype = getattr(args, "dtype", None)
    choosing = default_model_in_background(getattr(args, "model", None))
    from ui import web  # noqa: F401 (gradio's import, seconds, overlaps the hub's answer)

    default = choosing.result()
    print(default.reason, flush=True)

    def build() -> Engine:
        clip_tokenizer().load()  # the page's token counts first: transformers, not torch
        return build_engine(data_dir, device, dtype)

    try:
        # On Ray the replicas hold the models; this front end loads none (it resolves
        # wildcards and checks requests only).
        on_ray = engine_choice(getattr(args, "engine", None)) == "ray"
    except EngineError as exc:
        raise CommandError(str(exc)) from None
    engine: Engine | EngineLoading
    if zero_gpu:
        engine = build_engine(data_dir, device, dtype)
    else:
        engine = EngineLoading(
            build,
            models_dir(data_dir),
            data_dir / "loras",
            warm_model=None if on_ray else default.model,
        )
    try:
        hosting = hosting_from(
            public_flag=getattr(args, "public", False),
            auth=getattr(args, "auth", None),
            auth_file=getattr(args, "auth_file", None),
            default_model=default.model,
        )
        if hosting.public:
            hosting = with_browser_secret(hosting, data_dir)
        store = GalleryStore.open(
            gallery_dir(data_dir),
            getattr(args, "database_url", None),
            images=getattr(args, "images", None),
        )
        runner = runner_for(engine, getattr(args, "engine", None))
    except (HostingError, GalleryError, EngineError) as exc:
        raise CommandError(str(exc)) from None
    app = build_served_app(engine, default, store, hosting, data_dir, runner)
    host, port = getattr(args, "host", "127.0.0.1"), getattr(args, "port", 7860)
    try:
        app.launch(
            **launch_assets(),
            server_name=host,
            server_port=port,
            **launch_options(store, hosting),
            prevent_thread_lock=True,
            quiet=True,  # Gradio's lines tell the user to pass share=True to launch()
        )
    except OSError as exc:
        raise CommandError(launch_failure(exc, host, port)) from None
    print(f"Running on {app.local_url}", flush=True)
    if isinstance(engine, EngineLoading):
        loading = (
            "Loading torch and diffusers behind the page (the models load on the Ray replicas)…"
            if on_ray
            else "Loading torch, diffusers and the model behind the page…"
        )
        print(loading, flush=True)
        engine.start()
    app.block_thread()
    return 0


def default_model_in_background(chosen: str | None) -> Future[DefaultModelChoice]:
    """The model to start with: `chosen`, else `choose_default_model()` (which may wait up to
    a few seconds for the hub) in a thread while the page's libraries import."""
    from engine.default_model import DefaultModelChoice, choose_default_model

    if chosen:
        done: Future[DefaultModelChoice] = Future()
        done.set_result(DefaultModelChoice(chosen, f"Using {chosen}."))
        return done
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="default-model")
    try:
        return pool.submit(choose_default_model)
    finally:
        pool.shutdown(wait=False)


def build_served_app(
    engine: Engine | EngineLoading,
    default: DefaultModelChoice,
    store: GalleryStore,
    hosting: Hosting,
    data_dir: Path | None = None,
    runner: PipelineRunner | None = None,
) -> gr.Blocks:
    """The page as `serve` runs it: each visitor's own gallery (`ui.hosting.visitors`), every
    run through the GPU boundary, and in public mode behind the allow-list, the limits and
    per-visitor bounds (`ui.hosting.hosted_engine`). While it runs, the rows of images made
    during a database outage are recorded when the database answers again."""
    from ui.hosting.engine_loading import EngineLoading
    from ui.hosting.hosted_engine import HostedEngine
    from ui.hosting.visitors import VisitorGallery, Visitors
    from ui.recording import record_result
    from ui.web import build_app

    visitors = Visitors(hosting)
    # Images made while the database was away get their rows as soon as it answers again.
    store.record_deferred_in_background()
    gallery = VisitorGallery(store, visitors)  # each visitor sees their own
    if hosting.zero_gpu:  # loaded onto CUDA now, as ZeroGPU expects
        loaded = engine.wait() if isinstance(engine, EngineLoading) else engine
        loaded.models.get(default.model)
    return build_app(
        HostedEngine(engine, hosting, lambda: gallery.current().rate_key, runner),
        default,
        on_result=lambda result, recipe=None: record_result(gallery, result, recipe),
        data_dir=data_dir,
        style_store=gallery,  # user styles live in the gallery database
        gallery=gallery,
        hosting=hosting,
        visitors=visitors,
    )
