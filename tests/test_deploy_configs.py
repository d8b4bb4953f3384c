"""The deploy files the README points to: Ray Serve's own schema accepts them, their import
path builds our application, and the KubeRay example deploys the same application."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.cluster

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def serve_config() -> dict:
    return yaml.safe_load((DEPLOY / "serve_config.yaml").read_text())


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


def test_its_import_path_builds_the_engine_application():
    from ray.serve import Application

    from engine.ray_replica import APP_NAME, DEPLOYMENT_NAME

    (app,) = serve_config()["applications"]
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
