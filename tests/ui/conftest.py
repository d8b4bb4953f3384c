"""A real Gradio server on a free local port, serving the app on the demo model."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gallery_store(tmp_path_factory):
    """A real gallery in a temporary folder, shared by a test module and its `server`."""
    from gallery.store import GalleryStore

    store = GalleryStore.open(tmp_path_factory.mktemp("gallery"))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="module")
def hosting(request):
    """How `server` hosts the app: None (the default) is the plain local app; a `Hosting`
    (local with `--auth`, or public) serves it as `serve` does, one gallery per visitor. A test
    module overrides this fixture, or a test parametrizes it (`indirect=True`)."""
    return getattr(request, "param", None)


@pytest.fixture(scope="module")
def local_gallery(gallery_store):
    """The local user's view of `gallery_store` (what the app without logins acts as)."""
    from gallery.owners import LOCAL_OWNER

    return gallery_store.for_owner(LOCAL_OWNER)


@pytest.fixture(scope="module")
def server(engine, gallery_store, local_gallery, hosting):
    """Launch the app in this process (non-blocking) on a free port; yield its URL and the
    results recorded through it. The one fixture every test that launches the app uses.

    With `hosting` None the page records every finished generation into `gallery_store` (which
    its Gallery tab shows) and appends it to the list. With a `Hosting`, the app is built as
    `serve` builds it (`build_served_app`, demo model): per-visitor galleries over
    `gallery_store`, and in public mode the limits (the list stays empty).
    """
    from engine.default_model import DefaultModelChoice, choose_default_model
    from ui.cli.serve import build_served_app
    from ui.hosting.mode import Hosting
    from ui.hosting.served import launch_options
    from ui.page_assets import launch_assets
    from ui.recording import record_result
    from ui.web import build_app

    recorded = []

    def on_result(result, recipe=None):
        recorded.append(result)
        return record_result(local_gallery, result, recipe)

    if hosting is None:
        app = build_app(engine, choose_default_model(), on_result=on_result, gallery=local_gallery)
    else:
        demo = DefaultModelChoice("demo", "Using demo.")
        app = build_served_app(engine, demo, gallery_store, hosting)
    port = free_port()
    app.launch(
        **launch_assets(),
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **launch_options(gallery_store, hosting or Hosting()),
    )
    try:
        yield f"http://127.0.0.1:{port}/", recorded
    finally:
        app.close()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser); skips without it."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def hosted(engine):
    """The session's engine as the app runs it locally: through the GPU boundary, no limits."""
    from ui.hosting.hosted_engine import HostedEngine

    return HostedEngine(engine)
