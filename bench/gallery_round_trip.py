"""Gradio's round trip for `search_gallery`: the whole app (as `serve` builds it: per-visitor
galleries, every tab) against a bare Gradio app whose one `gr.api` endpoint calls the same
handler on the same gallery, and the handler called directly, in one run.

The gallery holds `--count` generations of the local owner (and a quarter as many of others),
written in bulk by `bench/gallery_fill.py`. Each app is called in turn, `--calls` times (a page
of 24, newest first, and a word search alternately), through `gradio_client` (one session) and
through Gradio's REST route with plain HTTP (a new session per call). Prints p50 and p95 per
side, the REST ratio, and last `ratio: X` = the whole app's p50 / the bare app's p50 through
`gradio_client` (what our app adds to Gradio's own round trip as a client sees it).

What was found (December 2026, shared 2-core machine at load 13-14, 2,000 rows): the handler
takes about 1 ms; through `gradio_client` both apps take about 77 ms (the client polls its
message queue every 50 ms), ratio 1.00. Through REST the bare app takes about 10 ms and the
whole app about 40 ms: each new session builds the config of every block of the page
(`gradio.state_holder.SessionState`, 389 blocks, 12 ms+ each), once per browser page or REST
call, which is the per-session page state (issue 24), not the search.

    .venv/bin/python bench/gallery_round_trip.py [--count 20000] [--calls 60]
    .venv/bin/python bench/gallery_round_trip.py --smoke
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import httpx  # noqa: E402
from gradio_client import Client  # noqa: E402
from PIL import Image  # noqa: E402

from bench.gallery_fill import fill_gallery, stored_image  # noqa: E402
from engine.default_model import DefaultModelChoice  # noqa: E402
from gallery.owners import LOCAL_OWNER  # noqa: E402
from gallery.records import NewGeneration  # noqa: E402
from gallery.store import GalleryStore  # noqa: E402
from ui.cli.serve import build_served_app  # noqa: E402
from ui.gallery_tab.api import search  # noqa: E402
from ui.hosting.engine_loading import EngineLoading  # noqa: E402
from ui.hosting.mode import Hosting  # noqa: E402
from ui.hosting.served import launch_options  # noqa: E402

QUERIES = ({"query": "", "page_size": 24}, {"query": "lighthouse", "page_size": 24})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def filled_store(folder: Path, count: int) -> GalleryStore:
    """A gallery of `count` generations of the local owner, one image file shared by all."""
    store = GalleryStore.open(folder)
    local = store.for_owner(LOCAL_OWNER)
    seed_id = local.record_generation(
        NewGeneration(prompt="seed image", seed=0, image=Image.new("RGB", (64, 64)))
    )
    fill_gallery(store.engine, count, stored_image(store, local.get(seed_id)))
    store.admin().optimize()
    return store


def bare_app(store: GalleryStore) -> gr.Blocks:
    """The least Gradio app with this endpoint: one `gr.api` over the same handler."""
    handler = partial(search, store.for_owner(LOCAL_OWNER))

    def search_gallery(query: str = "", page_size: int = 24) -> list[dict[str, Any]]:
        """Generations matching the text, newest first."""
        return handler({"query": query, "page_size": page_size})

    with gr.Blocks() as app:
        gr.api(search_gallery, api_name="search_gallery", concurrency_limit=None)
    return app


def whole_app(store: GalleryStore, models: Path) -> gr.Blocks:
    """The app as `serve` builds it; its engine is never loaded (search needs none)."""
    never = EngineLoading(lambda: None, models, models.parent / "loras")  # type: ignore[arg-type]
    demo = DefaultModelChoice("demo", "Using demo.")
    return build_served_app(never, demo, store, Hosting())


def launched(app: gr.Blocks, store: GalleryStore) -> str:
    """Launch `app` on a free port; its URL."""
    port = _free_port()
    app.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **launch_options(store, Hosting()),
    )
    return f"http://127.0.0.1:{port}/"


class PlainHttp:
    """`search_gallery` through Gradio's REST route (`POST /gradio_api/call/v2/<name>` with the
    values by name, then the result's event stream) on one kept-alive HTTP connection: the
    server's part of the trip without `gradio_client`'s; each call is a new session."""

    def __init__(self, url: str) -> None:
        self.base = f"{url}gradio_api/call/v2/search_gallery"
        self.http = httpx.Client(timeout=60)

    def __call__(self, values: dict[str, Any]) -> str:
        event = self.http.post(self.base, json=values)
        event_id = event.json()["event_id"]
        answer = self.http.get(f"{self.base}/{event_id}").text
        if "event: complete" not in answer:
            raise RuntimeError(answer[-500:])
        return answer


def timed(call: Callable[[dict[str, Any]], Any], calls: int, times: list[float]) -> None:
    for n in range(calls):
        values = QUERIES[n % len(QUERIES)]
        start = time.perf_counter()
        call(values)
        times.append((time.perf_counter() - start) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="generations in the gallery")
    parser.add_argument("--calls", type=int, default=60, help="calls per side")
    parser.add_argument("--smoke", action="store_true", help="2,000 rows, 10 calls per side")
    args = parser.parse_args()
    count, calls = (2_000, 10) if args.smoke else (args.count, args.calls)
    folder = Path(tempfile.mkdtemp(prefix="atelier-round-trip-"))
    apps: list[gr.Blocks] = []
    store = filled_store(folder / "gallery", count)
    try:
        direct = partial(search, store.for_owner(LOCAL_OWNER))
        sides: dict[str, Callable[[dict[str, Any]], Any]] = {"handler, called directly": direct}
        for name, app in (
            ("bare Gradio app", bare_app(store)),
            ("whole app", whole_app(store, folder / "models")),
        ):
            apps.append(app)
            url = launched(app, store)
            sides[name] = partial(_predict, Client(url, verbose=False))
            sides[f"{name}, plain HTTP"] = PlainHttp(url)
        for side in sides.values():  # warm: first connections, statement caches
            timed(side, 3, [])
        times: dict[str, list[float]] = {name: [] for name in sides}
        rounds = 5
        for _ in range(rounds):  # in turn, so each side sees the same load
            for name, side in sides.items():
                timed(side, max(1, calls // rounds), times[name])
        load = os.getloadavg()[0]
        print(f"{count:,} generations; load average {load:.1f} on {os.cpu_count()} cores")
        print(f"{'side':28} {'p50 ms':>8} {'p95 ms':>8}")
        for name, values in times.items():
            p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
            print(f"{name:28} {statistics.median(values):8.2f} {p95:8.2f}")

        def p50(name: str) -> float:
            return statistics.median(times[name])

        rest = p50("whole app, plain HTTP") / p50("bare Gradio app, plain HTTP")
        print(f"REST, a new session per call: whole app / bare app {rest:.2f}")
        print(f"ratio: {p50('whole app') / p50('bare Gradio app'):.2f}")
    finally:
        for app in apps:
            app.close(verbose=False)  # its "Closing server" line would follow the ratio
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


def _predict(client: Client, values: dict[str, Any]) -> Any:
    return client.predict(**values, api_name="/search_gallery")


if __name__ == "__main__":
    main()
