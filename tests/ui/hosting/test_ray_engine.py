"""The engine on a real local Ray cluster: two `engine.ray_replica` replicas on the demo model,
reached through `HostedEngine` with a `RayRunner`, as `serve --engine ray` does; and two
front-end processes (`python app.py serve --engine ray`) on those replicas sharing one
PostgreSQL gallery (the tests' own server) and one S3-compatible store (moto's server mode).

One cluster for the whole module (starting Ray takes a while on a small machine); select these
tests with `-m cluster`. The reference is the in-process engine: every image must equal its
in-process generation within one level (CPU kernels are not batch-invariant). The fault tests
come last: the front ends' PostgreSQL server (the module's own) is stopped and started again,
and replicas are killed mid-request with `ray.kill` (Serve replaces them).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import GenerationFailedError, InvalidRequestError
from engine.request import GenerationRequest, ImageSpec
from tests.gallery.conftest import PostgresCluster, start_cluster
from tests.object_store import MotoServer, free_port
from ui.hosting.batch import RunControl
from ui.hosting.engine_loading import READY_LINE
from ui.hosting.engine_runners import RayRunner
from ui.hosting.hosted_engine import HostedEngine

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SMALL = {"width": 64, "height": 64, "steps": 3}
REPO_ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 300
PREFIX = "shared"
OUTAGE_SENTENCE = "The gallery is unavailable; images are kept, not recorded until it is back."


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.fixture(scope="module")
def replicas(models_dir) -> Iterator[object]:
    """A local Ray cluster with two engine replicas (one CPU and one torch thread each), each
    with the demo model loaded at start."""
    ray = pytest.importorskip("ray")
    from ray import serve

    from engine.ray_replica import APP_NAME, EngineReplica

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        app = EngineReplica.options(num_replicas=2, ray_actor_options={"num_cpus": 1}).bind(
            str(models_dir), 1, preload=["demo"]
        )
        yield serve.run(app, name=APP_NAME, route_prefix=None)
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def gallery_server() -> Iterator[PostgresCluster]:
    """The front ends' PostgreSQL server, of this module's own: the outage test restarts it."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="module")
def remote(engine, replicas) -> HostedEngine:
    return HostedEngine(engine, runner=RayRunner(engine, replicas))


def start_front_end(data_dir: Path, env: dict[str, str], args: list[str]) -> tuple:
    port = free_port()
    log = open(data_dir.parent / f"{data_dir.name}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "app.py"), "--data-dir", str(data_dir), "serve",
         "--host", "127.0.0.1", "--port", str(port), "--model", "demo", *args],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return process, port, log


def wait_for(port: int, process: subprocess.Popen, log_path: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"front end exited: {log_path.read_text()[-800:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"front end did not start: {log_path.read_text()[-800:]}")


@pytest.fixture(scope="module")
def fronts_root(tmp_path_factory) -> Path:
    """The front ends' data folders and logs."""
    return tmp_path_factory.mktemp("fronts")


@pytest.fixture(scope="module")
def two_front_ends(
    fronts_root: Path,
    replicas,
    s3_server: MotoServer,
    gallery_server: PostgresCluster,
) -> Iterator[tuple[list[object], MotoServer, str, str]]:
    """Two `serve --engine ray` processes on the module's replicas, one database, one bucket."""
    import ray
    from gradio_client import Client

    root = fronts_root
    bucket = s3_server.new_bucket()
    database = gallery_server.server.create_database("fronts")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **s3_server.aws_environment(),
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "PYTHONPATH": str(REPO_ROOT),
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("DATABASE_URL", None)
    args = ["--engine", "ray", "--database-url", database, "--images", f"s3://{bucket}/{PREFIX}"]
    started = [start_front_end(root / name, env, args) for name in ("front-a", "front-b")]
    try:
        for (process, port, _log), name in zip(started, ("front-a", "front-b"), strict=True):
            wait_for(port, process, root / f"{name}.log")
        clients = [Client(f"http://127.0.0.1:{port}/", verbose=False) for _, port, _ in started]
        yield clients, s3_server, bucket, database
    finally:
        for process, _port, log in started:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
            log.close()


def test_concurrent_requests_for_one_model_are_served_by_both_replicas(remote):
    # Serve sends a model's requests only to replicas that have it loaded while one has a free
    # slot: had only the replica that served this first request loaded the model, it would get
    # all eight below. Each replica loads it at start, so they spread.
    first = remote.generate(GenerationRequest("a fox", seed=1, **SMALL), "demo")
    results: list = [None] * 8

    def ask(index: int) -> None:
        request = GenerationRequest(f"a fox {index}", seed=200 + index, **SMALL)
        results[index] = remote.generate(request, "demo", on_progress=lambda _update: None)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    served = Counter(result.provenance["served"]["replica"] for result in results)
    assert first.provenance["served"]["replica"] in served
    assert len(served) == 2, f"one replica served them all: {served}"


def test_a_batch_streams_progress_and_equals_the_in_process_engine(engine, remote):
    request = GenerationRequest("a red fox", seed=11, num_images=2, **SMALL)
    updates = []
    result = remote.generate(request, "demo", on_progress=updates.append)
    local = engine.generate(request, "demo")
    assert result.seeds == [11, 12] and result.request.seed == 11
    for ours, reference in zip(result.images, local.images, strict=True):
        assert np.abs(pixels(ours) - pixels(reference)).max() <= 1
    assert [u.step for u in updates] == [1, 2, 3]
    assert updates[-1].preview is not None  # previews come back from the replica
    assert result.provenance["served"]["batch_size"] == 2


def test_concurrent_single_images_share_pipeline_calls_and_equal_their_single_runs(engine, remote):
    prompts = [f"a {colour} fox" for colour in ("red", "blue", "green", "white") * 2]
    results: list = [None] * len(prompts)

    def ask(index: int) -> None:
        request = GenerationRequest(prompts[index], seed=100 + index, **SMALL)
        results[index] = remote.generate(request, "demo")  # no progress: batchable

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    batches = {r.provenance["served"]["batch"] for r in results}
    assert len(batches) < len(prompts)  # fewer pipeline calls than requests
    for index, result in enumerate(results):
        assert result.prompts == [prompts[index]] and result.seeds == [100 + index]
        single = engine.generate(GenerationRequest(prompts[index], seed=100 + index, **SMALL))
        assert np.abs(pixels(result.images[0]) - pixels(single.images[0])).max() <= 1


def test_compare_rows_run_remotely_as_one_call(engine, remote):
    settings = GenerationRequest("", **SMALL)
    rows = [ImageSpec("a red fox", "", 5), ImageSpec("a red fox, snow", "blurry", 5)]
    result = remote.generate_rows(rows, settings, "demo")
    local = engine.generate_rows(rows, settings, "demo")
    assert result.provenance["served"]["batch_size"] == 2
    for ours, reference in zip(result.images, local.images, strict=True):
        assert np.abs(pixels(ours) - pixels(reference)).max() <= 1


def test_stop_cancels_the_remote_request_and_keeps_finished_images(remote):
    control = RunControl()
    request = GenerationRequest("a red fox", seed=3, num_images=3, width=64, height=64, steps=6)
    events = []
    for event in remote.stream_batch(request, "demo", control):
        events.append(event)
        if event.index == 1 and event.progress is not None:
            control.stop.set()  # Stop while the second image is being made
    last = events[-1]
    assert last.done and last.stopped
    assert last.finished is not None and len(last.finished.images) == 1
    # The replicas are free again: the next request runs.
    assert remote.generate(GenerationRequest("a fox", seed=1, **SMALL), "demo").images


def test_engine_errors_come_back_as_the_engines_own_sentence(remote):
    with pytest.raises(InvalidRequestError) as raised:
        remote.generate_rows([ImageSpec("a fox", "", -5)], GenerationRequest("", **SMALL), "demo")
    assert "\n" not in str(raised.value) and "Traceback" not in str(raised.value)


def test_two_front_ends_on_two_replicas_share_one_gallery_and_one_store(two_front_ends, engine):
    clients, s3, bucket, database = two_front_ends
    made = {}
    for client, prompt, seed in zip(
        clients, ("a fox from the first", "a fox from the second"), (21, 22), strict=True
    ):
        _, summary = client.predict(
            prompt=prompt, seed=seed, steps=2, width=64, height=64, api_name="/generate"
        )
        made[prompt] = (summary["ids"][0], seed)

    for client in clients:  # each sees both
        found = client.predict(query="fox", api_name="/search_gallery")
        assert sorted(item["prompt"] for item in found) == sorted(made)
        for prompt, (generation_id, _seed) in made.items():
            assert client.predict(id=generation_id, api_name="/get_generation")["prompt"] == prompt

    keys = s3.keys(bucket, f"{PREFIX}/images/")
    assert len(keys) == 2
    for prompt, (_id, seed) in made.items():
        reference = engine.generate(
            GenerationRequest(prompt, seed=seed, steps=2, width=64, height=64), "demo"
        ).images[0]
        matching = []
        for key in keys:
            data = s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()
            with Image.open(io.BytesIO(data)) as stored:
                if prompt in stored.text.get("parameters", ""):
                    pixels = np.asarray(stored.convert("RGB"), dtype=np.int16)
                    matching.append(np.abs(pixels - np.asarray(reference, np.int16)).max())
        assert len(matching) == 1 and matching[0] <= 1
    from sqlalchemy import create_engine, text

    rows = create_engine(database)
    try:
        with rows.connect() as connection:
            provenances = connection.execute(text("SELECT provenance FROM generations")).all()
    finally:
        rows.dispose()
    assert len(provenances) == 2
    assert all("replica" in row[0]["served"] for row in provenances)  # made on the replicas


def test_front_ends_on_ray_load_no_model_themselves(two_front_ends, fronts_root: Path):
    # The replicas hold the models: a front end (here `--model demo`, which it would otherwise
    # build into its data folder's models/ and load behind the page) only resolves wildcards.
    for name in ("front-a", "front-b"):
        log = fronts_root / f"{name}.log"
        assert wait_until(lambda log=log: READY_LINE in log.read_text(errors="replace"), 300)
        models = fronts_root / name / "models"
        assert not models.exists() or not any(models.iterdir()), f"{name} built a model"


# Faults: these run last, on the same front ends and replicas (a killed replica is replaced by
# Serve; the PostgreSQL server comes back on its port).


def recorded_prompts(database: str) -> list[str]:
    from sqlalchemy import create_engine, text

    rows = create_engine(database)
    try:
        with rows.connect() as connection:
            return [row[0] for row in connection.execute(text("SELECT prompt FROM generations"))]
    finally:
        rows.dispose()


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_postgres_restarting_under_running_front_ends_recovers_without_restarting_them(
    two_front_ends, gallery_server: PostgresCluster
):
    clients, s3, bucket, database = two_front_ends
    first, second = clients
    gallery_server.stop()
    try:
        _, summary = first.predict(
            prompt="a fox during the outage", seed=41, steps=2, width=64, height=64,
            api_name="/generate",
        )  # fmt: skip
        # The image is made and kept; the one sentence says why it has no row yet.
        assert summary["ids"] == [] and summary["not_recorded"] == OUTAGE_SENTENCE
    finally:
        gallery_server.start()
    # The front end that kept it records it once the server is back (no restart), and the
    # other front end, whose pooled connections died with the server, reads it.
    assert wait_until(
        lambda: "a fox during the outage" in recorded_prompts(database), timeout_s=120
    ), "the waiting row was never recorded"
    found = second.predict(query="during the outage", api_name="/search_gallery")
    assert [item["prompt"] for item in found] == ["a fox during the outage"]
    _, summary = second.predict(
        prompt="a fox after the outage", seed=42, steps=2, width=64, height=64,
        api_name="/generate",
    )  # fmt: skip
    assert len(summary["ids"]) == 1 and summary["not_recorded"] is None
    prompts = recorded_prompts(database)
    for prompt in ("a fox during the outage", "a fox after the outage"):
        assert prompts.count(prompt) == 1  # recorded once, not twice
    assert len(s3.keys(bucket, f"{PREFIX}/images/")) == len(prompts)  # an object per row


def replica_actors() -> list[object]:
    import ray

    return [
        ray.get_actor(named["name"], namespace=named["namespace"])
        for named in ray.util.list_named_actors(all_namespaces=True)
        if named["name"].startswith("SERVE_REPLICA::")
    ]


def busy_replica(timeout_s: float) -> object | None:
    """The replica actor with a request in flight, once there is one. A replica still in its
    constructor (Serve's replacement of a killed one, loading its model) answers only when
    that ends: it is asked with a short timeout, so it cannot hide the busy one meanwhile."""
    import ray

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for actor in replica_actors():
            try:
                if ray.get(actor.get_num_ongoing_requests.remote(), timeout=1) > 0:
                    return actor
            except Exception:  # a replica starting or stopping: look again
                continue
        time.sleep(0.1)
    return None


def replicas_running(count: int, timeout_s: float) -> bool:
    """Whether Serve has `count` engine replicas running (a killed one replaced) in time."""
    from ray import serve

    from engine.ray_replica import APP_NAME, DEPLOYMENT_NAME

    def running() -> bool:
        app = serve.status().applications.get(APP_NAME)
        deployment = app.deployments.get(DEPLOYMENT_NAME) if app else None
        return deployment is not None and deployment.replica_states.get("RUNNING", 0) == count

    return wait_until(running, timeout_s)


def test_a_single_image_whose_replica_is_killed_is_retried_and_recorded_once(two_front_ends):
    import ray

    clients, s3, bucket, database = two_front_ends
    assert replicas_running(2, timeout_s=300)
    keys_before = set(s3.keys(bucket, f"{PREFIX}/images/"))
    prompt = "a fox whose replica died"
    # About ten seconds of pipeline on one torch thread: time to find its replica and kill it.
    # The API asks for one image without progress: Serve's `generate_one`, which is retried.
    job = clients[0].submit(
        prompt=prompt, seed=51, steps=60, width=256, height=256, api_name="/generate"
    )
    victim = busy_replica(timeout_s=120)
    assert victim is not None, "no replica ever had the request"
    ray.kill(victim, no_restart=True)
    _, summary = job.result(timeout=300)
    assert len(summary["ids"]) == 1 and summary["not_recorded"] is None
    prompts = recorded_prompts(database)
    assert prompts.count(prompt) == 1  # recorded once, not twice
    assert len(set(s3.keys(bucket, f"{PREFIX}/images/")) - keys_before) == 1
    assert len(s3.keys(bucket, f"{PREFIX}/images/")) == len(prompts)  # an object per row


def test_a_streamed_call_whose_replica_is_killed_fails_in_one_sentence(remote, engine):
    import ray

    killed = []

    def kill_its_replica(_update) -> None:  # at the first progress report
        if not killed:
            victim = busy_replica(timeout_s=60)
            assert victim is not None
            ray.kill(victim, no_restart=True)
            killed.append(victim)

    request = GenerationRequest("a fox", seed=61, steps=60, width=256, height=256)
    assert replicas_running(2, timeout_s=300)  # the last test's killed replica was replaced
    with pytest.raises(GenerationFailedError) as raised:
        remote.generate(request, "demo", on_progress=kill_its_replica)
    message = str(raised.value)
    assert killed and message.startswith("The engine cluster could not finish this generation")
    assert "\n" not in message and "Traceback" not in message and ". " not in message
    # The cluster carries on, on the replica that is left (or Serve's replacement).
    small = GenerationRequest("a fox", seed=62, **SMALL)
    result = remote.generate(small, "demo")
    reference = engine.generate(small, "demo")
    assert np.abs(pixels(result.images[0]) - pixels(reference.images[0])).max() <= 1
