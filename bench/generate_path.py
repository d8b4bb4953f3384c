"""The Generate tab's whole path vs the engine calls it makes: same model, batch and seeds.

The page path is `ui.generate.handlers.generate_images` on a local `HostedEngine`: the form, the
GPU boundary (`run_on_gpu`, a plain function off Spaces) with its worker thread and queue, the
per-step events, the strip and the merged result. The bare side makes the same engine calls
directly (in one worker thread): one `Engine.generate` per image with seed + k, as the page
makes them. Both run interleaved on the demo model (CPU); the last line is `ratio: X` =
page / bare.

    .venv/bin/python bench/generate_path.py [--reps 9] [--size 128] [--steps 4] [--batch 3]
    .venv/bin/python bench/generate_path.py --smoke    # seconds: tiny sizes, two reps
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.generate import Engine
from engine.loading import ModelManager
from ui.generate.handlers import generate_images, read_form
from ui.hosting.hosted_engine import HostedEngine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--models-dir", default=None, help="reuse a built demo model folder")
    parser.add_argument("--smoke", action="store_true", help="seconds: 64 px, 1 step, 2 reps")
    args = parser.parse_args()
    if args.smoke:
        args.reps, args.size, args.steps, args.batch = 2, 64, 1, 2

    models_dir = Path(args.models_dir or tempfile.mkdtemp(prefix="atelier-bench-"))
    engine = Engine(ModelManager(models_dir))
    hosted = HostedEngine(engine)
    values = {
        "prompt": "a lighthouse on a cliff at dusk, oil painting",
        "negative_prompt": "blurry, lowres",
        "seed": 1234,
        "steps": args.steps,
        "width": args.size,
        "height": args.size,
        "num_images": args.batch,
        "model": "demo",
    }
    form = read_form(values)
    request = form.request

    def run_page() -> float:
        started = time.perf_counter()
        outputs = list(generate_images(hosted, form))
        assert len(outputs[-1].seeds) == args.batch
        return time.perf_counter() - started

    def engine_calls() -> None:
        for seed in request.with_seed().image_seeds():
            single = replace(request, seed=seed, num_images=1)
            engine.generate(single, model="demo", on_progress=lambda update: None)

    def run_bare() -> float:
        # In one worker thread, as the page runs them: on a busy CPU, torch's OpenMP work can
        # be many times slower on the main thread, which would flatter the page.
        started = time.perf_counter()
        worker = threading.Thread(target=engine_calls)
        worker.start()
        worker.join()
        return time.perf_counter() - started

    run_page(), run_bare()  # warm-up: loading, first allocations
    page_times, bare_times = [], []
    for rep in range(args.reps):
        order = (run_page, run_bare) if rep % 2 == 0 else (run_bare, run_page)
        for run in order:
            (page_times if run is run_page else bare_times).append(run())
    page_med, bare_med = statistics.median(page_times), statistics.median(bare_times)
    print(
        f"demo model, CPU, batch of {args.batch} at {args.size}x{args.size}, {args.steps} steps, "
        f"{args.reps} reps each, interleaved"
    )
    print(f"page path   : median {page_med * 1000:8.1f} ms  (min {min(page_times) * 1000:.1f})")
    print(f"engine calls: median {bare_med * 1000:8.1f} ms  (min {min(bare_times) * 1000:.1f})")
    print(f"ratio: {page_med / bare_med:.3f}")


if __name__ == "__main__":
    main()
