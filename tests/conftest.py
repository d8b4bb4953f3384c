"""Shared fixtures. The Hugging Face hub cannot be reached from here or CI, so every test runs
with HF_HUB_OFFLINE=1; the demo model is built once per session into a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding the built demo model, shared by the whole session."""
    from engine.demo_model import ensure_demo_model

    folder = tmp_path_factory.mktemp("models")
    ensure_demo_model(folder)
    return folder


@pytest.fixture(scope="session")
def engine(models_dir: Path):
    """One engine on the demo model, shared by the session (loading takes about a second)."""
    from engine.generate import Engine
    from engine.loading import ModelManager

    return Engine(ModelManager(models_dir))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """A real S3 server (moto's server mode in a subprocess), shared by the session; each test
    makes its own bucket. See `tests/object_store.py`."""
    from tests.object_store import MotoServer

    server = MotoServer(tmp_path_factory.mktemp("s3")).start()
    try:
        yield server
    finally:
        server.stop()
