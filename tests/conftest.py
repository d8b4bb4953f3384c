"""Shared fixtures. The Hugging Face hub cannot be reached from here or CI, so every test runs
with HF_HUB_OFFLINE=1; the demo model is built once per session into a temporary folder.

Torch runs on one thread (OMP_NUM_THREADS=1, unless set), in this process and the ones it
starts (the CLI, the benches, the front ends): the demo model's tiny tensors gain nothing from
a second thread, and on a 2-core machine that also runs a server, Chromium or other work,
torch's OpenMP threads wait on each other for a core. On a loaded 2-core machine
tests/engine/test_generate.py and test_compare_run.py took 170 s with two threads, 5.6 s
with one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")  # read when torch is first imported: after this
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


class TinyDisk:
    """A real, small filesystem (tmpfs) mounted at `path`; `fill()` takes its last byte."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        """Write zeros until the disk says ENOSPC (errno 28)."""
        import errno

        with open(self.filler, "ab", buffering=0) as handle:
            for size in (1 << 20, 1 << 12, 1):
                try:
                    while True:
                        handle.write(b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 16 MB tmpfs of the test's own (needs root, as in CI's container; else a skip)."""
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a small filesystem can only be mounted as root, with `mount`")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a small filesystem cannot be mounted here: {mounted.stderr.strip()[:200]}")
    try:
        yield TinyDisk(mount_point)
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


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
