"""`python app.py serve` (also the default): start the web app."""

from __future__ import annotations

import argparse
import os

from ui.settings import resolve_data_dir


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `serve` sub-command."""
    parser = sub.add_parser("serve", help="start the web app (the default without a sub-command)")
    add_serve_flags(parser)
    parser.set_defaults(handler=run)


def add_serve_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the web app."""
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    )
    parser.add_argument(
        "--model", help="model to start with (default: sd-turbo when reachable, else the demo)"
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


def run(args: argparse.Namespace) -> int:
    """Build the engine, the gallery and the page, then serve until interrupted."""
    from engine.default_model import DefaultModelChoice, choose_default_model
    from gallery.errors import GalleryError
    from gallery.store import GalleryStore
    from ui.cli import CommandError
    from ui.hosting import HostingError, hosting_from, launch_options
    from ui.page_assets import launch_assets
    from ui.recording import record_result
    from ui.runtime import build_engine
    from ui.settings import gallery_dir
    from ui.web import build_app

    data_dir = resolve_data_dir(args.data_dir)
    engine = build_engine(data_dir, getattr(args, "device", None), getattr(args, "dtype", None))
    chosen = getattr(args, "model", None)
    default = DefaultModelChoice(chosen, f"Using {chosen}.") if chosen else choose_default_model()
    print(default.reason, flush=True)
    try:
        hosting = hosting_from(
            public_flag=getattr(args, "public", False),
            auth=getattr(args, "auth", None),
            auth_file=getattr(args, "auth_file", None),
            default_model=default.model,
        )
        store = GalleryStore.open(gallery_dir(data_dir))
    except (HostingError, GalleryError) as exc:
        raise CommandError(str(exc)) from None
    app = build_app(
        engine,
        default,
        on_result=lambda result, recipe=None: record_result(store, result, recipe),
        data_dir=data_dir,
        style_store=store,  # user styles live in the gallery database
        gallery=store,
    )
    app.launch(
        **launch_assets(),
        server_name=getattr(args, "host", "127.0.0.1"),
        server_port=getattr(args, "port", 7860),
        **launch_options(store, hosting),
    )
    return 0
