"""Engine generate path vs a bare diffusers pipeline call: same model, inputs and seed.

Runs both interleaved on a built-in model (CPU; `demo`, or `demo-sd3` / `demo-flux` for the
SD3 and FLUX paths: CLIP chunks, T5 and the empty prompt's states), several repetitions, and
prints the medians and, last, `ratio: X` = engine / bare. The engine runs with its progress
hook and live previews on and its text-embedding cache cleared before each run, so the ratio is
its whole overhead.

    .venv/bin/python bench/engine_overhead.py [--model demo-flux] [--reps 7] [--size 256]
        [--steps 20]
    .venv/bin/python bench/engine_overhead.py --smoke     # one tiny run of each, to check it works
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

import torch

from engine.generate import Engine
from engine.loading import ModelManager
from engine.request import GenerationRequest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--models-dir", default=None, help="reuse a built demo model folder")
    parser.add_argument("--model", default="demo", choices=("demo", "demo-sd3", "demo-flux"))
    parser.add_argument("--smoke", action="store_true", help="1 rep, 64 px, 2 steps")
    args = parser.parse_args()
    if args.smoke:
        args.reps, args.size, args.steps = 1, 64, 2

    models_dir = Path(args.models_dir or tempfile.mkdtemp(prefix="atelier-bench-"))
    engine = Engine(ModelManager(models_dir))
    loaded = engine.models.get(args.model)
    pipe = loaded.pipeline
    prompt, negative = "a lighthouse on a cliff at dusk, oil painting", "blurry, lowres"
    flux = loaded.kind == "flux"  # distilled guidance: no negative prompt
    scheduler = "Euler" if loaded.kind in ("sd3", "flux") else "Euler a"
    guidance = 3.5 if flux else 7.0
    request = GenerationRequest(
        prompt,
        "" if flux else negative,
        seed=1234,
        steps=args.steps,
        guidance_scale=guidance,
        width=args.size,
        height=args.size,
        scheduler=scheduler,
    )

    def run_engine() -> float:
        engine.encoder.clear()
        started = time.perf_counter()
        engine.generate(request, model=args.model, on_progress=lambda update: None)
        return time.perf_counter() - started

    def run_bare() -> float:
        started = time.perf_counter()
        pipe(
            prompt=prompt,
            **({} if flux else {"negative_prompt": negative}),
            num_inference_steps=args.steps,
            guidance_scale=guidance,
            width=args.size,
            height=args.size,
            generator=[torch.Generator("cpu").manual_seed(1234)],
        )
        return time.perf_counter() - started

    run_engine(), run_bare()  # warm-up: first calls pay for allocation and kernel choice
    engine_times, bare_times = [], []
    for rep in range(args.reps):
        order = (run_engine, run_bare) if rep % 2 == 0 else (run_bare, run_engine)
        for run in order:
            (engine_times if run is run_engine else bare_times).append(run())
    engine_med, bare_med = statistics.median(engine_times), statistics.median(bare_times)
    print(
        f"{args.model} model, CPU, {args.size}x{args.size}, {args.steps} steps, {scheduler}, "
        f"{args.reps} reps each, interleaved"
    )
    print(
        f"engine generate : median {engine_med * 1000:8.1f} ms  "
        f"(min {min(engine_times) * 1000:.1f})"
    )
    print(f"bare diffusers  : median {bare_med * 1000:8.1f} ms  (min {min(bare_times) * 1000:.1f})")
    print(f"ratio: {engine_med / bare_med:.3f}")


if __name__ == "__main__":
    main()
