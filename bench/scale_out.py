"""Engine replicas on Ray Serve: one replica vs two, and `@serve.batch` vs one call per image.

16 single-image requests sent at once through the front end's path (`HostedEngine` with a
`RayRunner`) to a local Ray cluster running the demo model, each replica with one torch thread:

- one replica vs two replicas, each request its own pipeline call (streamed, no batching);
- two replicas, one call per image vs `@serve.batch` (requests of the same settings share a
  pipeline call).

The three set-ups are deployed side by side and measured in interleaved rounds, so all see the
same load; medians are printed, and the ratios, and how many requests each replica served over
all rounds (from each result's `served` provenance; counts, so they hold under any load: 16/0
for two replicas is a routing fault, not a speed one). On a shared machine (other work on the
same cores) the replica ratio is noisy and lower than on an idle one: say so with the figures.
Last line `ratio: X` = one replica's time / two replicas' time.

    .venv/bin/python bench/scale_out.py [--smoke] [--rounds 3] [--size 128] [--steps 8]
        [--requests 16] [--address auto]  # an existing cluster (RAY_ADDRESS), e.g. on a GPU
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ray
from ray import serve

from engine.demo_model import ensure_demo_model
from engine.generate import Engine
from engine.loading import ModelManager
from engine.ray_replica import EngineReplica, replica_options
from engine.request import GenerationRequest
from ui.hosting.engine_runners import RayRunner
from ui.hosting.hosted_engine import HostedEngine


def short_temp_dir() -> str:
    """A fresh folder for Ray's session files with a short path: Ray's Unix sockets live there,
    and a socket path may not exceed 107 bytes (TMPDIR can be deep, as under pytest)."""
    base = tempfile.gettempdir()
    if len(base) > 40 and os.path.isdir("/tmp"):
        base = "/tmp"
    return tempfile.mkdtemp(prefix="atelier-ray-", dir=base)


def deploy(apps: dict[str, int], models_dir: Path, cpus: float) -> list[object]:
    """Deploy an application of `replicas` engine replicas for each `name: replicas`, all at
    once (their replicas start side by side); their handles, in order."""
    targets = []
    for name, replicas in apps.items():
        options = replica_options(replicas)
        options["ray_actor_options"]["num_cpus"] = cpus
        app = EngineReplica.options(**options).bind(str(models_dir), 1, preload=["demo"])
        targets.append(serve.RunTarget(app, name=name, route_prefix=None))
    return serve.run_many(targets)


def run_all(
    hosted: HostedEngine, requests: list[GenerationRequest], stream: bool
) -> tuple[float, Counter[str]]:
    """Send every request at once (a thread each); return the wall time until all are done
    and how many requests each replica served."""
    results: list[object] = [None] * len(requests)

    def one(index: int) -> None:
        progress = (lambda _update: None) if stream else None  # progress: no batching
        results[index] = hosted.generate(requests[index], "demo", on_progress=progress)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if any(r is None for r in results):
        raise SystemExit("some requests failed; see the log above")
    return elapsed, Counter(r.provenance["served"]["replica"] for r in results)  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny and quick: checks it runs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--address", default=None, help="an existing Ray cluster")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.requests, args.size, args.steps = 1, 4, 64, 2

    models_dir = Path(tempfile.mkdtemp(prefix="atelier-bench-"))
    ensure_demo_model(models_dir)
    ray_dir = None
    if args.address:
        ray.init(address=args.address, log_to_driver=False)
    else:
        ray_dir = short_temp_dir()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=ray_dir)
    cpus = float(ray.cluster_resources().get("CPU", 2)) / 3  # all three fit side by side
    try:
        one, two = deploy({"bench-one": 1, "bench-two": 2}, models_dir, cpus)
        local = Engine(ModelManager(models_dir))  # resolves wildcards only; loads nothing
        setups = {
            "one replica": (HostedEngine(local, runner=RayRunner(local, one)), True),
            "two replicas": (HostedEngine(local, runner=RayRunner(local, two)), True),
            "two replicas, batched": (HostedEngine(local, runner=RayRunner(local, two)), False),
        }
        requests = [
            GenerationRequest(
                f"a lighthouse, study {k}", seed=1000 + k, steps=args.steps,
                width=args.size, height=args.size,
            )
            for k in range(args.requests)
        ]  # fmt: skip
        for hosted, stream in setups.values():  # warm up (each replica loaded the model at start)
            run_all(hosted, requests[:4], stream)
        times: dict[str, list[float]] = {name: [] for name in setups}
        used: dict[str, Counter[str]] = {name: Counter() for name in setups}
        for round_index in range(args.rounds):
            names = list(setups) if round_index % 2 == 0 else list(reversed(setups))
            for name in names:
                hosted, stream = setups[name]
                elapsed, replicas = run_all(hosted, requests, stream)
                times[name].append(elapsed)
                used[name] += replicas
            print(", ".join(f"{n} {times[n][-1]:.2f}s" for n in setups), flush=True)
    finally:
        serve.shutdown()
        ray.shutdown()
        if ray_dir is not None:
            shutil.rmtree(ray_dir, ignore_errors=True)
        shutil.rmtree(models_dir, ignore_errors=True)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"{args.requests} single-image requests, demo model {args.size}x{args.size}, "
        f"{args.steps} steps, one torch thread per replica, {args.rounds} rounds; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine: noisy)"
    )
    for name, value in median.items():
        print(
            f"{name}: {value:.2f}s ({args.requests / value:.2f} images/s, "
            f"requests per replica {'/'.join(str(n) for n in sorted(used[name].values()))})"
        )
    print(f"batch ratio: {median['two replicas'] / median['two replicas, batched']:.2f}")
    print(f"ratio: {median['one replica'] / median['two replicas']:.2f}")


if __name__ == "__main__":
    main()
