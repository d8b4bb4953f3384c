"""The Space configuration agrees with the code: front matter, requirements and pyproject."""

from __future__ import annotations

import re
from pathlib import Path

import gradio

ROOT = Path(__file__).resolve().parents[3]


def front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("---", 2)[1]
    return dict(re.findall(r"^(\w+):\s*(.*)$", block, flags=re.M))


def test_front_matter_pins_gradio_6_python_sign_in_hardware_and_the_model():
    found = front_matter()
    assert found["sdk"] == "gradio" and found["app_file"] == "app.py"
    assert found["sdk_version"].split(".")[0] == "6"
    assert found["sdk_version"] == gradio.__version__  # what the tests ran on
    assert found["python_version"].strip('"') == "3.11"
    assert found["hf_oauth"] == "true"
    assert found["suggested_hardware"].startswith("zero-")
    assert "stabilityai/sd-turbo" in (ROOT / "README.md").read_text().split("---", 2)[1]


def test_requirements_install_the_project_whose_dependencies_need_gradio_6_and_spaces():
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["."]
    pyproject = (ROOT / "pyproject.toml").read_text()
    block = pyproject.split("dependencies = [", 1)[1].split("]\n", 1)[0]
    dependencies = re.findall(r'^\s*"([^"]+)"', block, flags=re.M)
    gradio_spec = next(d for d in dependencies if d.startswith("gradio"))
    assert ">=6" in gradio_spec and "oauth" in gradio_spec
    assert any(d.startswith("spaces") for d in dependencies)
