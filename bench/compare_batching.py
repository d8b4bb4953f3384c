"""A comparison's cells batched into one pipeline call vs one call per cell.

4 variants × 2 seeds on the demo model at 256 × 256 and 20 steps (by default): the same
`engine.compare_run.run_plan` with `max_batch=8` (one call of 8 images) and with `max_batch=1`
(8 calls), interleaved over several repetitions, checking that both give the same images.
Prints the medians and, last, `ratio: X` = sequential time / batched time.

    .venv/bin/python bench/compare_batching.py [--reps 3] [--size 256] [--steps 20]
        [--model demo] [--device cuda --dtype fp16]
    .venv/bin/python bench/compare_batching.py --smoke     # one tiny run of each, to check it works
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from engine.compare_plan import ComparePlan, CompareVariant
from engine.compare_run import run_plan
from engine.generate import Engine
from engine.loading import ModelManager
from engine.request import GenerationRequest

VARIANTS = (
    CompareVariant("A", "a lighthouse on a cliff at dusk", "blurry"),
    CompareVariant("B", "a lighthouse on a cliff at dusk, oil painting", "blurry"),
    CompareVariant("C", "a lighthouse on a cliff at night, (stars:1.2)", "blurry"),
    CompareVariant("D", "a red lighthouse on a cliff at dawn, watercolor", "blurry"),
)
SEEDS = (11, 12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--model", default="demo", help="demo, a hub id or a model folder")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--models-dir", default=None, help="reuse a built demo model folder")
    parser.add_argument("--smoke", action="store_true", help="1 rep, 64 px, 2 steps")
    args = parser.parse_args()
    if args.smoke:
        args.reps, args.size, args.steps = 1, 64, 2

    models_dir = Path(args.models_dir or tempfile.mkdtemp(prefix="atelier-bench-"))
    engine = Engine(ModelManager(models_dir, device=args.device, dtype=args.dtype))
    settings = GenerationRequest(
        "", steps=args.steps, width=args.size, height=args.size, scheduler="Euler a"
    )
    plan = ComparePlan(VARIANTS, SEEDS, settings, args.model)

    def timed(max_batch: int) -> tuple[float, list[np.ndarray]]:
        started = time.perf_counter()
        run = run_plan(engine, plan, max_batch=max_batch)
        elapsed = time.perf_counter() - started
        return elapsed, [np.asarray(cell.image, dtype=np.int16) for cell in run.cells]

    timed(8)  # warm up: load the model, fill the embedding cache
    batched, sequential = [], []
    for rep in range(args.reps):
        order = (8, 1) if rep % 2 == 0 else (1, 8)
        images = {}
        for max_batch in order:
            elapsed, images[max_batch] = timed(max_batch)
            (batched if max_batch == 8 else sequential).append(elapsed)
        worst = max(int(np.abs(a - b).max()) for a, b in zip(images[8], images[1], strict=True))
        print(
            f"rep {rep + 1}: batched {batched[-1]:.2f}s, one call per cell "
            f"{sequential[-1]:.2f}s, largest pixel difference {worst}"
        )
    batched_s, sequential_s = statistics.median(batched), statistics.median(sequential)
    loaded = engine.models.get(args.model)
    print(
        f"{len(VARIANTS)} variants x {len(SEEDS)} seeds, {args.model} on {loaded.device} "
        f"({loaded.dtype}), {args.size}x{args.size}, {args.steps} steps"
    )
    print(f"batched (1 call of 8): {batched_s:.2f}s  one call per cell: {sequential_s:.2f}s")
    print(f"ratio: {sequential_s / batched_s:.2f}")


if __name__ == "__main__":
    main()
