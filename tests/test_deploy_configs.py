"""The deploy files the README points to: Ray Serve's own schema accepts them, their import
path builds our application, the KubeRay example deploys the same application, and the local
cluster's file asks for no GPU (a CPU machine could never place its replicas)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.cluster

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def serve_config(name: str = "serve_config.yaml") -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def test_the_serve_config_is_valid_for_ray_serve_and_autoscales():
    from ray.serve.schema import ServeDeploySchema

    schema = ServeDeploySchema.model_validate(serve_config())
    (app,) = schema.applications
    (deployment,) = app.deployments
    assert app.name == "atelier-engine" and deployment.name == "EngineReplica"
    scaling = deployment.autoscaling_config
    assert scaling["min_replicas"] < scaling["max_replicas"]
    assert scaling["target_ongoing_requests"] > 0
    assert deployment.ray_actor_options.num_gpus == 1


@pytest.mark.parametrize("name", ["serve_config.yaml", "serve_local.yaml"])
def test_its_import_path_builds_the_engine_application(name: str):
    from ray.serve import Application

    from engine.ray_replica import APP_NAME, DEPLOYMENT_NAME

    (app,) = serve_config(name)["applications"]
    module, _, name = app["import_path"].partition(":")
    built = getattr(importlib.import_module(module), name)(app["args"])
    assert isinstance(built, Application)
    assert app["name"] == APP_NAME
    assert app["deployments"][0]["name"] == DEPLOYMENT_NAME


def test_the_rayservice_example_deploys_the_same_application():
    from ray.serve.schema import ServeDeploySchema

    service = yaml.safe_load((DEPLOY / "rayservice.yaml").read_text())
    assert service["kind"] == "RayService"
    embedded = ServeDeploySchema.model_validate(yaml.safe_load(service["spec"]["serveConfigV2"]))
    ours = ServeDeploySchema.model_validate(serve_config())
    assert embedded.applications[0].import_path == ours.applications[0].import_path
    assert embedded.applications[0].name == ours.applications[0].name


def test_the_local_cluster_runs_two_cpu_replicas_with_the_front_ends_model_loaded():
    from ray.serve.schema import ServeDeploySchema

    schema = ServeDeploySchema.model_validate(serve_config("serve_local.yaml"))
    (app,) = schema.applications
    (deployment,) = app.deployments
    assert app.name == "atelier-engine" and deployment.name == "EngineReplica"
    assert deployment.num_replicas == 2
    assert deployment.ray_actor_options.num_gpus == 0
    assert deployment.ray_actor_options.num_cpus == 1
    assert app.args["torch_threads"] == 1
    # The README's front end asks for the sketch model: every replica has it from the start.
    assert app.args["preload"] == ["sketch"]
    readme = (DEPLOY.parent / "README.md").read_text()
    assert "serve deploy deploy/serve_local.yaml" in readme and "--model sketch" in readme


def test_preload_reads_a_list_or_a_comma_separated_string():
    from engine.ray_replica import preload_list

    assert preload_list(["sketch", " demo "]) == ["sketch", "demo"]
    assert preload_list("sketch, demo") == ["sketch", "demo"]
    assert preload_list(None) == [] and preload_list("") == []
