"""`make install` as the README's "Start" describes it: "a CPU build of PyTorch" (read from
`make -n`, which prints the commands without running them)."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.skipif(platform.system() != "Linux", reason="PyPI's torch is a CPU build off Linux")
def test_a_linux_install_asks_for_the_cpu_build_of_torch():
    """PyPI's Linux torch is the CUDA build; the CPU one is on PyTorch's index."""
    shown = subprocess.run(
        ["make", "-n", "-B", "install"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    (torch_line,) = [line for line in shown.stdout.splitlines() if "install --quiet torch" in line]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in torch_line
