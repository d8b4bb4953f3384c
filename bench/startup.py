"""Page first: how long `python app.py serve` takes to answer its page, against a bare
`import gradio` (the least any Gradio app pays before it can answer) measured in the same run.

Each repetition starts, in turn, a fresh `python -c "import gradio"` and a fresh
`python app.py --data-dir TMP serve --port P` (offline: the hub is not asked), and times the
second until `GET /` on its port answers 200, then (shown, not part of the ratio) until the
server says the engine behind the page is ready (torch, diffusers, the first model); the server
is then stopped. Prints the medians and, last, `ratio: X` = time to the page / time of a bare
`import gradio`.

    .venv/bin/python bench/startup.py [--reps 3]
    .venv/bin/python bench/startup.py --smoke     # one repetition, no warm-up start
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ui.hosting.engine_loading import READY_LINE  # noqa: E402

PAGE_TIMEOUT_S = 300.0


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("DATABASE_URL", None)
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bare_gradio() -> float:
    """Seconds for a fresh interpreter to `import gradio` and exit."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import gradio"], env=_environment(), check=True, timeout=300
    )
    return time.perf_counter() - start


class Start(NamedTuple):
    """Seconds from starting `serve` until its page answers, and until its engine is ready."""

    page: float
    engine: float


def first_page(data_dir: Path) -> Start:
    """Start `serve`; time its page's first 200 and the engine's ready line after it."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = data_dir / "serve.log"
    start = time.perf_counter()
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                *(sys.executable, str(ROOT / "app.py"), "--data-dir", str(data_dir), "serve"),
                *("--host", "127.0.0.1", "--port", str(port)),
            ],
            env=_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        page = _wait(server, log, lambda: _answers(url), start)
        engine = _wait(server, log, lambda: READY_LINE in log.read_text(), start)
        return Start(page, engine)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait(server: subprocess.Popen, log: Path, done: Callable[[], bool], start: float) -> float:
    """Seconds since `start` when `done()` first holds; RuntimeError if the server exits."""
    while time.perf_counter() - start < PAGE_TIMEOUT_S:
        if server.poll() is not None:
            raise RuntimeError(f"serve exited: {log.read_text()[-2000:]}")
        if done():
            return time.perf_counter() - start
        time.sleep(0.05)
    raise RuntimeError(f"serve was not ready within {PAGE_TIMEOUT_S:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one repetition, no warm-up start")
    args = parser.parse_args()
    reps = 1 if args.smoke else args.reps
    data_dir = Path(tempfile.mkdtemp(prefix="atelier-startup-"))
    bare: list[float] = []
    starts: list[Start] = []
    try:
        if not args.smoke:  # the smoke checks that it runs: its one start may build them
            first_page(data_dir)  # builds what a first start builds once (database, demo model)
        for rep in range(reps):
            bare.append(bare_gradio())
            starts.append(first_page(data_dir))
            print(
                f"  {rep + 1}/{reps}: import gradio {bare[-1]:.2f} s, "
                f"page {starts[-1].page:.2f} s, engine ready {starts[-1].engine:.2f} s"
            )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    load = os.getloadavg()[0]
    bare_s = statistics.median(bare)
    page_s = statistics.median(start.page for start in starts)
    engine_s = statistics.median(start.engine for start in starts)
    print(f"load average {load:.1f} on {os.cpu_count()} cores")
    print(f"bare `import gradio`          {bare_s:6.2f} s (median of {reps})")
    print(f"serve answers its page        {page_s:6.2f} s (median of {reps})")
    print(f"engine ready behind the page  {engine_s:6.2f} s (median of {reps})")
    print(f"ratio: {page_s / bare_s:.2f}")


if __name__ == "__main__":
    main()
