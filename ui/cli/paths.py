"""Paths typed on the command line, checked before any work is done."""

from __future__ import annotations

import argparse
from pathlib import Path


def out_folder(text: str) -> Path:
    """argparse `type` for `--out`: a folder, made if missing; not an existing file (found out
    before anything is generated, not after)."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; --out takes a folder")
    return path
