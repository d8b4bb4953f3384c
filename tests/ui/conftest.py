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
def local_gallery(gallery_store):
    """The local user's view of `gallery_store` (what the app without logins acts as)."""
    from gallery.owners import LOCAL_OWNER

    return gallery_store.for_owner(LOCAL_OWNER)


@pytest.fixture(scope="module")
def server(engine, gallery_store, local_gallery):
    """Launch the app in this process (non-blocking); yield its URL and the recorded results.

    Every finished generation is appended to the list and recorded into `gallery_store`,
    which the page's Gallery tab shows.
    """
    from engine.default_model import choose_default_model
    from ui.hosting import Hosting, launch_options
    from ui.page_assets import launch_assets
    from ui.recording import record_result
    from ui.web import build_app

    recorded = []

    def on_result(result, recipe=None):
        recorded.append(result)
        return record_result(local_gallery, result, recipe)

    app = build_app(engine, choose_default_model(), on_result=on_result, gallery=local_gallery)
    port = free_port()
    app.launch(
        **launch_assets(),
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **launch_options(gallery_store, Hosting()),
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
