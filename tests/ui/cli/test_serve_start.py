"""`serve`'s start: the model to start with is chosen while the page's libraries import."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

import engine.default_model as default_model
from ui.cli.serve import default_model_in_background

ROOT = Path(__file__).resolve().parents[3]


def test_a_chosen_model_is_used_as_given():
    choice = default_model_in_background("demo").result(timeout=5)
    assert choice.model == "demo" and choice.reason == "Using demo."


def test_the_hub_is_asked_in_another_thread_and_its_answer_kept(monkeypatch):
    """The hub is mocked (it cannot be reached here): it answers once the test lets it."""
    answer = threading.Event()
    asked_from: list[str] = []

    def hub_answers(repo_id: str, timeout: float) -> bool:
        asked_from.append(threading.current_thread().name)
        return answer.wait(30)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(default_model, "_in_local_cache", lambda repo_id: False)
    monkeypatch.setattr(default_model, "_hub_answers", hub_answers)
    choosing = default_model_in_background(None)
    assert not choosing.done()  # the caller goes on (importing gradio) meanwhile
    answer.set()
    choice = choosing.result(timeout=30)
    assert choice.model == default_model.DEFAULT_HUB_MODEL
    assert asked_from and asked_from[0] != threading.current_thread().name


def serve(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    """`python app.py serve ...` in a fresh interpreter, offline, as a user types it."""
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--data-dir", str(data_dir), "serve", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


@pytest.mark.parametrize("port", ["99999", "0", "http"])
def test_a_port_out_of_range_is_one_line_before_anything_starts(tmp_path, port):
    done = serve("--port", port, data_dir=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        "python app.py serve: error: argument --port: "
        f"the port must be a whole number from 1 to 65535, not {port!r}"
    )


@pytest.mark.slow
def test_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    """The whole page is built, then Gradio cannot listen: one sentence, no traceback and no
    third-party warning with a path of the server's."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve("--port", str(port), "--model", "demo", data_dir=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: Port {port} is in use on 127.0.0.1; choose another with --port."
    ]


@pytest.mark.slow
def test_serve_on_a_port_says_where_and_answers_there(tmp_path):
    """`app.py serve --port N` as the README has it: one line with the address (none of
    Gradio's advice to edit launch()), and the page answers there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, str(ROOT / "app.py"), "--data-dir", str(tmp_path), "serve"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--model", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        said = [server.stdout.readline().rstrip("\n") for _ in range(2)]
        assert said == ["Using demo.", f"Running on http://127.0.0.1:{port}/"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as page:
            assert page.status == 200 and b"Prompt Atelier" in page.read()
    finally:
        server.terminate()
        rest, _ = server.communicate(timeout=60)
    assert "launch()" not in rest and "Traceback" not in rest
