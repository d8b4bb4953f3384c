"""Page first: the engine (torch, diffusers, the first model) loads behind a page that is
already served. The page says so, and every run waits for the engine: the Generate tab's batch,
the API through the real server, the GPU boundary. A failed load is one sentence, names no
server path and leaves the server up."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest
from gradio_client import Client
from PIL import Image

from engine.default_model import DefaultModelChoice
from engine.errors import EngineError, ModelLoadError
from engine.request import GenerationRequest
from gallery.owners import LOCAL_OWNER
from gallery.store import GalleryStore
from tests.ui.conftest import free_port
from ui.cli.serve import build_served_app
from ui.generate.handlers import MODEL_LOADING, generate_images, read_form
from ui.hosting.engine_loading import EngineLoading
from ui.hosting.hosted_engine import HostedEngine
from ui.hosting.mode import Hosting
from ui.hosting.served import launch_options

# "The running app has nine named endpoints" (README, API).
README_ENDPOINTS = sorted(
    [
        "/generate",
        "/search_gallery",
        "/get_generation",
        "/compose_prompt",
        "/import_image",
        "/compare",
        "/ablate",
        "/interrogate_image",
        "/refine",
    ]
)
SMALL = {"model": "demo", "steps": 2, "width": 64, "height": 64}


def held_loading(engine, models_dir, tmp_path) -> tuple[EngineLoading, threading.Event]:
    """A loading that hands over the session's real engine once `release` is set."""
    release = threading.Event()

    def build():
        assert release.wait(120), "the test never released the engine"
        return engine

    loading = EngineLoading(build, models_dir, tmp_path / "loras", warm_model="demo")
    return loading.start(), release


def test_a_generate_batch_says_it_waits_then_runs_once_the_engine_is_there(
    engine, models_dir, tmp_path
):
    loading, release = held_loading(engine, models_dir, tmp_path)
    hosted = HostedEngine(loading)
    assert not hosted.ready
    assert "Loading torch and diffusers" in hosted.loading_status()
    assert hosted.models_dir == models_dir  # known before the engine exists
    form = read_form({"prompt": "a red circle", "seed": "7", **SMALL})
    steps = generate_images(hosted, form)
    first = next(steps)
    assert first.info == MODEL_LOADING
    threading.Timer(0.5, release.set).start()
    *_, last = steps  # waits for the engine, then runs the batch
    assert hosted.ready and hosted.loading_status() == ""
    assert last.used == "7"
    bare = engine.generate(GenerationRequest("a red circle", seed=7, **_settings()), "demo")
    with Image.open(last.results.value[0]["image"]["path"]) as shown:
        assert list(shown.convert("RGB").getdata()) == list(bare.images[0].getdata())


def _settings() -> dict:
    return {key: value for key, value in SMALL.items() if key != "model"}


def test_a_failed_load_is_one_sentence_without_the_server_path(models_dir, tmp_path):
    secret = tmp_path / "secret-folder" / "model.bin"

    def build():
        raise OSError(f"cannot read {secret}")

    loading = EngineLoading(build, models_dir, tmp_path / "loras").start()
    with pytest.raises(ModelLoadError) as caught:
        loading.wait(60)
    message = str(caught.value)
    assert "could not be loaded" in message and "OSError" in message
    assert str(tmp_path) not in message and "\n" not in message
    assert str(tmp_path) not in loading.status()
    hosted = HostedEngine(loading)
    with pytest.raises(EngineError, match="could not be loaded"):
        hosted.generate(GenerationRequest("a fox", seed=1, **_settings()), "demo")


def test_the_served_page_answers_before_the_engine_and_the_api_waits_for_it(
    engine, models_dir, tmp_path
):
    loading, release = held_loading(engine, models_dir, tmp_path)
    store = GalleryStore.open(tmp_path / "gallery")
    hosting = Hosting()
    app = build_served_app(loading, DefaultModelChoice("demo", "Using demo."), store, hosting)
    port = free_port()
    app.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **launch_options(store, hosting),
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        with urllib.request.urlopen(url + "config", timeout=60) as answer:
            config = json.load(answer)
        shown = [
            c["props"].get("value")
            for c in config["components"]
            if c.get("props", {}).get("elem_id") == "model-loading"
        ]
        assert shown and "Loading torch and diffusers" in shown[0]
        client = Client(url, verbose=False)
        named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert sorted(named) == README_ENDPOINTS  # the page's own events stay private
        job = client.submit(
            prompt="a fox", seed=3, steps=2, width=64, height=64, api_name="/generate"
        )
        time.sleep(2.0)
        assert not job.done()  # held while the engine loads
        release.set()
        images, details = job.result(timeout=300)
        assert details["seeds"] == [3] and len(images) == 1
        assert store.for_owner(LOCAL_OWNER).count() == 1  # recorded like any run
    finally:
        release.set()
        app.close()
        store.close()
