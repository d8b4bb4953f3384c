"""Page first: how long `python app.py serve` takes to answer its page, against a bare
`import gradio` (the least any Gradio app pays before it can answer) measured in the same run.

Each repetition starts, in turn, a fresh `python -c "import gradio"` and a fresh
`python app.py --data-dir TMP serve --port P` (offline: the hub is not asked), and times the
second until `GET /` on its port answers 200; the server is then stopped. Prints the medians
and, last, `ratio: X` = time to the page / time of a bare `import gradio`.

    .venv/bin/python bench/startup.py [--reps 3]
    .venv/bin/python bench/startup.py --smoke     # one repetition
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def first_page(data_dir: Path) -> float:
    """Seconds from starting `serve` until its page answers 200."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    start = time.perf_counter()
    server = subprocess.Popen(
        [
            *(sys.executable, str(ROOT / "app.py"), "--data-dir", str(data_dir), "serve"),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        while time.perf_counter() - start < PAGE_TIMEOUT_S:
            if server.poll() is not None:
                raise RuntimeError(f"serve exited: {server.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - start
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        raise RuntimeError(f"serve did not answer within {PAGE_TIMEOUT_S:.0f} s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one repetition")
    args = parser.parse_args()
    reps = 1 if args.smoke else args.reps
    data_dir = Path(tempfile.mkdtemp(prefix="atelier-startup-"))
    bare, page = [], []
    try:
        first_page(data_dir)  # builds what a first start builds once (the gallery's database)
        for rep in range(reps):
            bare.append(bare_gradio())
            page.append(first_page(data_dir))
            print(f"  {rep + 1}/{reps}: import gradio {bare[-1]:.2f} s, page {page[-1]:.2f} s")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    load = os.getloadavg()[0]
    bare_s, page_s = statistics.median(bare), statistics.median(page)
    print(f"load average {load:.1f} on {os.cpu_count()} cores")
    print(f"bare `import gradio`      {bare_s:6.2f} s (median of {reps})")
    print(f"serve answers its page    {page_s:6.2f} s (median of {reps})")
    print(f"ratio: {page_s / bare_s:.2f}")


if __name__ == "__main__":
    main()
