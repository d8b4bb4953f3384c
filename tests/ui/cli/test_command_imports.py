"""Sub-commands import only what they use: the gallery and styles commands, and the page that
`serve` answers with, load no torch, diffusers or transformers (each run in a fresh
interpreter, which then reports its `sys.modules`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ENGINE_LIBRARIES = ("torch", "diffusers", "transformers")

RUN_COMMAND = """
import json, sys
from ui.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

BUILD_PAGE = """
import json, sys
from engine.default_model import DefaultModelChoice
from gallery.store import GalleryStore
from ui.cli.serve import build_served_app
from ui.hosting.engine_loading import EngineLoading
from ui.hosting.mode import Hosting
from ui.runtime import build_engine
from ui.settings import gallery_dir, models_dir

data, model = __import__("pathlib").Path(sys.argv[1]), sys.argv[2]
loading = EngineLoading(lambda: build_engine(data), models_dir(data), data / "loras", model)
store = GalleryStore.open(gallery_dir(data))
build_served_app(loading, DefaultModelChoice(model, f"Using {model}."), store, Hosting(), data)
print(json.dumps({"code": 0, "modules": sorted(sys.modules)}))
"""


def _modules_after(code: str, *args: str) -> set[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr[-2000:]
    return set(report["modules"])


@pytest.mark.parametrize(
    "argv",
    [
        ["gallery", "search", "fox", "--limit", "5"],
        ["gallery", "check"],
        ["styles", "export", "{out}/styles.csv"],
    ],
    ids=["gallery search", "gallery check", "styles export"],
)
def test_gallery_and_styles_commands_never_import_the_engine_libraries(argv, tmp_path):
    data = tmp_path / "data"
    argv = [part.replace("{out}", str(tmp_path)) for part in argv]
    modules = _modules_after(RUN_COMMAND, "--data-dir", str(data), *argv)
    assert not [name for name in ENGINE_LIBRARIES if name in modules]
    assert "gradio" not in modules  # nor the page's library
    assert "sqlalchemy" in modules  # the command did its work in this interpreter


@pytest.mark.parametrize("model", ["demo", "sketch"])
def test_the_served_page_is_built_without_the_engine_libraries(tmp_path, model):
    """`serve` builds its whole page (every tab) before torch loads behind it, with the demo
    model or the offline default, the sketch model (whose tokenizers load when first counting:
    reading them at build imported transformers and torch, 2.4 s of a 5 s start)."""
    modules = _modules_after(BUILD_PAGE, str(tmp_path), model)
    assert "gradio" in modules
    assert not [name for name in ENGINE_LIBRARIES if name in modules]
