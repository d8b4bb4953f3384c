"""`python app.py ...` run as a user types it, in a fresh interpreter, offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_app(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    """The app's command line with `--data-dir data_dir` first; output captured as text."""
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
