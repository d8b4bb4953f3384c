"""`python app.py interrogate IMAGE [--json]` and `python app.py refine ...` as a script
would call them: the recipe as JSON, a refinement saved round by round, one-line errors."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from engine.sketch.world import Scene, render_scene
from tests.ui.cli.app_runner import run_app


@pytest.fixture(scope="module")
def data_dir(models_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-data")
    (folder / "models").symlink_to(models_dir, target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    path = tmp_path_factory.mktemp("target") / "target.png"
    Image.fromarray(
        render_scene(Scene("circle", "red", "large", "left", "midday sun", "flat"))
    ).save(path)
    return path


@pytest.mark.slow
def test_interrogate_prints_the_recipe_as_json(data_dir, target):
    done = run_app("interrogate", str(target), "--json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout)
    assert read["clip"] == "sketch CLIP"
    assert read["fields"]["subject.colour"]["chosen"] == "red"
    assert read["fields"]["composition"]["chosen"] == "on the left"
    assert all("score" in t for t in read["fields"]["lighting"]["terms"])


@pytest.mark.slow
def test_refine_runs_rounds_saves_them_and_prints_the_lineage(data_dir, target):
    done = run_app(
        "refine", "--target", str(target), "--prompt", "a shape", "--rounds", "1",
        "--beam", "1", "--proposals", "2", "--seeds", "1", "--steps", "4",
        "--width", "64", "--height", "64", data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "round 0: experiment" in done.stderr and "round 1: experiment" in done.stderr
    steps = [line.split("\t") for line in done.stdout.strip().splitlines()]
    assert steps[0][0] == "r0" and steps[0][3] == "a shape"
    assert float(steps[-1][1]) >= float(steps[0][1])
    listed = run_app("gallery", "experiments", "--json", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    assert [e["kind"] for e in json.loads(listed.stdout)] == ["refine", "refine"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("interrogate", "missing.png"), "There is no file"),
        (("interrogate", "."), "'.' is a folder; give one PNG, JPEG or WebP picture."),
        (("refine", "--target", ".", "--prompt", "x"), "'.' is a folder"),
        (("refine", "--prompt", "x"), "Give a target: --target IMAGE"),
        (("refine", "--prompt", "x", "--picks", "r1.2; best"), "not 'best'"),
        (("refine", "--target-text", "a red circle", "--prompt", "x", "--rounds", "0"), "rounds"),
        (
            ("refine", "--target-text", "a red circle", "--prompt", "x", "--width", "65"),
            "multiple of 8",
        ),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(data_dir, args, message):
    done = run_app(*args, data_dir=data_dir)
    assert done.returncode == 2
    # the library's own import notes aside (transformers without torchvision), one line
    lines = [
        x for x in done.stderr.splitlines() if x.strip() and not x.startswith("[transformers]")
    ]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in done.stderr
