"""Where `HostedEngine` runs its pipeline calls: in this process, or on Ray Serve replicas.

A runner takes a batch of `PipelineCall`s and yields `GpuEvent`s (progress with previews, then
each call's result); closing the generator early is Stop. Two runners:

- `InProcessRunner` (the default): `ui.hosting.zerogpu.run_on_gpu` on this process's engine,
  once per batch (`@spaces.GPU` on a ZeroGPU Space, a plain call anywhere else).
- `RayRunner` (`serve --engine ray`, `ATELIER_ENGINE=ray`; the cluster at `RAY_ADDRESS`): each
  call goes to the `engine.ray_replica` deployment, routed to a replica that has its model.
  Wildcards are resolved here first (the replica gets final rows, so a front end's wildcard
  files decide, as in-process). A single image asked for without progress (the API, the CLI)
  goes to `generate_one`, which Ray batches with other users' requests of the same settings;
  everything else streams its progress. Stop cancels the remote request, which stops the
  pipeline at its next step. A single image whose replica dies under it is asked again once
  (Serve routes it to a live replica; it is recorded only when it comes back, so once);
  a streamed call whose replica dies, and any other replica failure, ends in one sentence.

The page, the API, the CLI, Compare, ablation and reproduce all reach a runner through
`HostedEngine`, so none of them knows where the pipeline runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from engine.errors import EngineError, GenerationFailedError
from ui.hosting import zerogpu
from ui.hosting.engine_loading import EngineLoading
from ui.hosting.zerogpu import GpuEvent, PipelineCall

if TYPE_CHECKING:  # torch loads with the engine, not with the page
    from engine.generate import Engine

ENGINE_ENV = "ATELIER_ENGINE"
ENGINES = ("local", "ray")
# A single image whose replica died is asked again (same seed, nothing recorded yet).
REPLICA_LOST_RETRIES = 1
# How long a front end waits for an engine application that Serve is still deploying.
DEPLOYING_WAIT_S = 300.0


class PipelineRunner(Protocol):
    """Runs a batch of pipeline calls, yielding their progress and results in order."""

    def run(
        self, calls: Sequence[PipelineCall], *, progress: bool = True
    ) -> Generator[GpuEvent, None, None]: ...


class InProcessRunner:
    """This process's engine, through the GPU boundary once per batch."""

    def __init__(self, engine: Engine | EngineLoading) -> None:
        self._key = zerogpu.register_engine(engine)

    def run(
        self, calls: Sequence[PipelineCall], *, progress: bool = True
    ) -> Generator[GpuEvent, None, None]:
        return zerogpu.run_on_gpu(self._key, calls)


class RayRunner:
    """Engine replicas on Ray Serve (see the module docstring)."""

    def __init__(self, engine: Engine | EngineLoading, handle: Any) -> None:
        """`engine` resolves wildcards (it loads no model here); `handle` is the deployment's."""
        self._source = engine
        self._handle = handle

    @property
    def _engine(self) -> Engine:
        source = self._source
        return source.wait() if isinstance(source, EngineLoading) else source

    def run(
        self, calls: Sequence[PipelineCall], *, progress: bool = True
    ) -> Generator[GpuEvent, None, None]:
        for index, call in enumerate(calls):
            if call.rows is None:
                settings, rows = self._engine.rows_of(call.request)
            else:
                settings, rows = call.request, list(call.rows)
            handle = self._handle.options(multiplexed_model_id=call.model)
            if not progress and len(rows) == 1 and call.single_file_config is None:
                result = _remote(
                    lambda h=handle, s=settings, r=rows, c=call: h.generate_one.remote(
                        r[0], s, c.model
                    ).result(),
                    retries=REPLICA_LOST_RETRIES,
                )
                yield GpuEvent(index, result=replace(result, request=settings))
                continue
            stream = handle.options(stream=True).stream.remote(
                rows, settings, call.model, call.single_file_config
            )
            try:
                for item in _remote_iter(stream):
                    if hasattr(item, "result"):
                        yield GpuEvent(index, result=item.result)
                    else:
                        yield GpuEvent(index, progress=item)
            finally:
                stream.cancel()  # Stop, or done: a finished request ignores it


def _remote(call: Any, retries: int = 0) -> Any:
    """`call()`, run again up to `retries` times when its replica died under it."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            if attempt < retries and _replica_lost(exc):
                attempt += 1  # Serve routes the next try to a live replica
                continue
            raise _one_sentence(exc) from None


def _replica_lost(exc: BaseException) -> bool:
    """Whether `exc` says the replica itself went away (killed, crashed, its node lost)."""
    from ray.exceptions import RayActorError

    return isinstance(exc, RayActorError)


def _remote_iter(stream: Any) -> Generator[Any, None, None]:
    iterator = iter(stream)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            raise _one_sentence(exc) from None
        yield item


def _one_sentence(exc: BaseException) -> BaseException:
    """The engine's own error as raised on the replica, else one sentence."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, EngineError):
        return cause
    if isinstance(exc, EngineError) and cause is None:
        return exc
    return GenerationFailedError(
        f"The engine cluster could not finish this generation ({type(exc).__name__}); try again."
    )


def connect_ray(
    engine: Engine | EngineLoading, deploying_wait_s: float = DEPLOYING_WAIT_S
) -> RayRunner:
    """A `RayRunner` on the cluster at `RAY_ADDRESS` (else the local one `ray start` made),
    whose `engine.ray_replica` application must be deployed (`serve deploy deploy/...`). An
    application still being deployed (`serve deploy` returns before it exists) is waited
    for, up to `deploying_wait_s`."""
    try:
        import ray
        from ray import serve
    except ImportError:
        raise EngineError(
            "The Ray engine needs the cluster extra: pip install 'prompt-atelier[cluster]'."
        ) from None
    from engine.ray_replica import APP_NAME

    address = os.environ.get("RAY_ADDRESS") or "auto"
    try:
        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False, logging_level="warning")
        handle = _app_handle(serve, APP_NAME, deploying_wait_s)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(
            f"No engine replicas at Ray address {address!r} ({reason}); start them with "
            "`serve deploy deploy/serve_local.yaml` (README 'Scaling out')."
        ) from None
    return RayRunner(engine, handle)


def _app_handle(serve: Any, name: str, deploying_wait_s: float) -> Any:
    """The application's handle; while Serve still deploys it, asked again once a second."""
    deadline = time.monotonic() + deploying_wait_s
    said = False
    while True:
        try:
            return serve.get_app_handle(name)
        except Exception:
            if time.monotonic() > deadline or not _deploying(serve, name):
                raise
        if not said:
            print(f"Waiting for Ray Serve to deploy {name!r}…", flush=True)
            said = True
        time.sleep(1)


def _deploying(serve: Any, name: str) -> bool:
    """Whether Serve has application `name` in hand but not yet made (deploying)."""
    try:
        app = serve.status().applications.get(name)
    except Exception:
        return False
    return app is not None and app.status in ("NOT_STARTED", "DEPLOYING")  # a str enum


def engine_choice(choice: str | None = None) -> str:
    """'local' or 'ray': `choice`, else `ATELIER_ENGINE`, else 'local'."""
    choice = (choice or os.environ.get(ENGINE_ENV) or "local").strip().lower()
    if choice not in ENGINES:
        raise EngineError(f"The engine is 'local' or 'ray', not {choice!r}.")
    return choice


def runner_for(engine: Engine | EngineLoading, choice: str | None = None) -> PipelineRunner:
    """The runner `choice` names (default: `ATELIER_ENGINE`, else in-process)."""
    if engine_choice(choice) == "ray":
        return connect_ray(engine)
    return InProcessRunner(engine)
