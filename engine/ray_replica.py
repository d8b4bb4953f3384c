"""The engine as a Ray Serve deployment: `EngineReplica`, and `build_app` for `serve run`.

Each replica holds a few loaded pipelines (`@serve.multiplexed` by model id, so a request for
a model goes to a replica that has it) and runs one pipeline call per request:

- `stream(rows, settings)`: one `Engine.generate_rows` call, yielding `ProgressUpdate`s (with
  previews) and then the `GenerationResult`. Cancelling the request (the front end's Stop, or
  its caller going away) sets the engine's cancel flag: the pipeline stops at its next step.
- `generate_one(spec, settings)`: a single image without progress. `@serve.batch` gathers such
  requests arriving together; those that share model, size, steps, scheduler, CFG and clip
  skip run as ONE `generate_rows` call, and each gets its own image back (equal to its single
  generation within one level, the rule Compare keeps).

Every result's provenance says which replica made it and in which batch (`served`).

Each replica loads the models named in `preload` before it takes requests. Serve routes a model's
requests only to replicas that have it loaded, for as long as one of them has a free slot (up
to `max_ongoing_requests`): a model that only the first replica to be asked had loaded would
keep every request on that one replica, the others idle. Preloaded everywhere, the model's
requests spread over all replicas (each to the one with the shorter queue).

`build_app({"models_dir": ..., "torch_threads": 1, "preload": ["demo"]})` is the application
builder that `serve run` / `serve deploy` name in `deploy/serve_config.yaml` (GPUs) and
`deploy/serve_local.yaml` (the README's local cluster). This module needs Ray
(`pip install 'prompt-atelier[cluster]'`); nothing else in `engine/` imports it.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ray import serve

from engine.generate import Engine
from engine.loading import ModelManager
from engine.request import GenerationRequest, ImageSpec
from engine.result import GenerationResult, ProgressUpdate

APP_NAME = "atelier-engine"
DEPLOYMENT_NAME = "EngineReplica"
MODELS_PER_REPLICA = 2
MAX_BATCH = 8
BATCH_WAIT_S = 0.05


@dataclass(frozen=True)
class Finished:
    """The last item of a stream: the call's result."""

    result: GenerationResult


def batch_key(model: str, settings: GenerationRequest) -> tuple[Any, ...]:
    """What single-image requests must share to run as one pipeline call."""
    return (
        model,
        settings.width,
        settings.height,
        settings.steps,
        settings.scheduler,
        settings.guidance_scale,
        settings.clip_skip,
    )


def split_result(result: GenerationResult, index: int) -> GenerationResult:
    """Image `index` of a batched result as its own single-image result."""
    return GenerationResult(
        images=[result.images[index]],
        seeds=[result.seeds[index]],
        prompts=[result.prompts[index]],
        negative_prompts=[result.negative_prompts[index]],
        request=replace(
            result.request,
            prompt=result.prompts[index],
            negative_prompt=result.negative_prompts[index],
            seed=result.seeds[index],
            num_images=1,
        ),
        provenance=dict(result.provenance),
    )


@serve.deployment(name=DEPLOYMENT_NAME, max_ongoing_requests=16)
class EngineReplica:
    """One engine replica (see the module docstring)."""

    async def __init__(  # type: ignore[misc]  # Serve awaits an async constructor
        self,
        models_dir: str,
        torch_threads: int | None = None,
        device: str | None = None,
        dtype: str | None = None,
        preload: Sequence[str] = (),
    ) -> None:
        """`preload`: models loaded before the replica takes requests (see the module
        docstring); at most the replica's few, the last ones kept."""
        if torch_threads:
            import torch

            torch.set_num_threads(int(torch_threads))
        self._models_dir = Path(models_dir)
        self._device = device
        self._dtype = dtype
        self.replica_id = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        for model_id in preload:
            await self.engine_for(model_id)

    @serve.multiplexed(max_num_models_per_replica=MODELS_PER_REPLICA)
    async def engine_for(self, model_id: str) -> Engine:
        """An engine with `model_id` loaded (kept while it is among the replica's last few)."""
        engine = Engine(ModelManager(self._models_dir, device=self._device, dtype=self._dtype))
        await asyncio.to_thread(engine.models.get, model_id)
        return engine

    async def stream(
        self,
        rows: Sequence[ImageSpec],
        settings: GenerationRequest,
        model: str,
        single_file_config: str | None = None,
    ) -> AsyncGenerator[ProgressUpdate | Finished, None]:
        """One pipeline call: progress updates, then `Finished(result)`."""
        engine = await self.engine_for(model)
        loop = asyncio.get_running_loop()
        updates: asyncio.Queue[ProgressUpdate] = asyncio.Queue()
        cancel = threading.Event()

        def report(update: ProgressUpdate) -> None:
            loop.call_soon_threadsafe(updates.put_nowait, update)

        work = asyncio.ensure_future(
            asyncio.to_thread(
                engine.generate_rows, rows, settings, model, report, cancel, single_file_config
            )
        )
        try:
            while not work.done():
                waiter = asyncio.ensure_future(updates.get())
                await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if waiter.done():
                    yield waiter.result()
                else:
                    waiter.cancel()
            while not updates.empty():
                yield updates.get_nowait()
            result = work.result()
        except BaseException:
            cancel.set()  # a cancelled request (Stop) or a failure: stop at the next step
            raise
        yield Finished(self._served(result, batch=uuid.uuid4().hex, size=len(rows)))

    async def generate_one(
        self, spec: ImageSpec, settings: GenerationRequest, model: str
    ) -> GenerationResult:
        """One image; requests arriving together share a pipeline call (see `_run_batch`)."""
        result = await self._run_batch((spec, settings, model))
        if isinstance(result, BaseException):
            raise result
        return result

    @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=BATCH_WAIT_S)
    async def _run_batch(
        self, items: list[tuple[ImageSpec, GenerationRequest, str]]
    ) -> list[GenerationResult | BaseException]:
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index, (_spec, settings, model) in enumerate(items):
            groups.setdefault(batch_key(model, settings), []).append(index)
        results: list[GenerationResult | BaseException] = [RuntimeError("not run") for _ in items]
        for indexes in groups.values():
            _spec, settings, model = items[indexes[0]]
            specs = [items[i][0] for i in indexes]
            try:
                engine = await self.engine_for(model)
                batched = await asyncio.to_thread(engine.generate_rows, specs, settings, model)
            except Exception as exc:  # each request of the group gets the one sentence
                for i in indexes:
                    results[i] = exc
                continue
            served = self._served(batched, batch=uuid.uuid4().hex, size=len(specs))
            for position, i in enumerate(indexes):
                results[i] = split_result(served, position)
        return results

    def _served(self, result: GenerationResult, *, batch: str, size: int) -> GenerationResult:
        provenance = dict(result.provenance)
        provenance["served"] = {"replica": self.replica_id, "batch": batch, "batch_size": size}
        result.provenance = provenance
        return result


def replica_options(num_replicas: int | None = None) -> dict[str, Any]:
    """Deployment options: one GPU per replica where CUDA is, else CPU only."""
    try:
        import torch

        gpus = 1 if torch.cuda.is_available() else 0
    except ImportError:
        gpus = 0
    options: dict[str, Any] = {"ray_actor_options": {"num_gpus": gpus, "num_cpus": 1}}
    if num_replicas is not None:
        options["num_replicas"] = num_replicas
    return options


def build_app(args: dict[str, Any]) -> Any:
    """The application `serve run engine.ray_replica:build_app models_dir=...` deploys."""
    models_dir = args.get("models_dir") or os.environ.get("ATELIER_MODELS_DIR")
    if not models_dir:
        raise ValueError("Set models_dir (or ATELIER_MODELS_DIR): the folder of the models.")
    threads = args.get("torch_threads")
    return EngineReplica.options(**replica_options()).bind(
        str(Path(str(models_dir)).expanduser()),
        int(threads) if threads else None,
        args.get("device"),
        args.get("dtype"),
        preload_list(args.get("preload")),
    )


def preload_list(value: Any) -> list[str]:
    """`preload` as the config gives it: a list, or one comma-separated string (`serve run
    ... preload=demo,sketch`); none when empty."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]
