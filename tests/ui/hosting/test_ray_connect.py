"""A front end started right after `serve deploy` (README "Scaling out", one command after the
other): Serve answers `serve deploy` before the engine application exists, and the front end
waits for it instead of stopping with "does not exist". A real local Ray cluster with its
dashboard (which `serve deploy` talks to), the local deploy file with this session's models.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine.request import GenerationRequest
from tests.object_store import free_port
from ui.hosting.engine_runners import RayRunner, connect_ray
from ui.hosting.hosted_engine import HostedEngine

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def dashboard() -> Iterator[str]:
    """A local Ray cluster with its dashboard; yields the dashboard's address."""
    ray = pytest.importorskip("ray")
    from ray import serve

    port = free_port()
    ray.init(
        num_cpus=2,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        dashboard_port=port,
        log_to_driver=False,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def test_a_front_end_started_while_serve_deploys_waits_for_the_engine(
    dashboard: str, models_dir: Path, engine, tmp_path: Path, capsys
):
    config = yaml.safe_load((REPO_ROOT / "deploy" / "serve_local.yaml").read_text())
    (app,) = config["applications"]
    app["args"].update(models_dir=str(models_dir), preload=["demo"])
    app["deployments"][0]["num_replicas"] = 1
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(config))
    serve_cli = Path(sys.executable).parent / "serve"
    deployed = subprocess.run(
        [str(serve_cli), "deploy", str(path), "--address", dashboard],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr[-800:]

    runner = connect_ray(engine, deploying_wait_s=280)  # at once, as a front end would

    assert isinstance(runner, RayRunner)
    assert "Waiting for Ray Serve to deploy" in capsys.readouterr().out  # it was not there yet
    request = GenerationRequest("a fox", seed=5, width=64, height=64, steps=2)
    result = HostedEngine(engine, runner=runner).generate(request, "demo")
    assert result.images and "replica" in result.provenance["served"]
