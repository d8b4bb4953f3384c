"""Every file the repository ships fits on a Hugging Face Space: the Hub refuses files over
10 MiB that are not in Git LFS, and we keep a margin (9.5 MB)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 9_500_000  # bytes
NOT_SHIPPED = {".git", ".venv", "data", "out", "build", "__pycache__", ".pytest_cache",
               ".ruff_cache"}  # fmt: skip


def shipped_files(root: Path = ROOT) -> list[Path]:
    """The files a push would carry: git's tracked and untracked-but-not-ignored files, or,
    outside a git checkout, every file but those in the folders git ignores here."""
    if shutil.which("git") and (root / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
        return [root / name for name in listed.split("\0") if name and (root / name).is_file()]
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in NOT_SHIPPED and not d.endswith(".egg-info")]
        found.extend(Path(folder) / name for name in files)
    return found


def oversized(files: list[Path], limit: int = LIMIT) -> list[str]:
    return [f"{p} ({p.stat().st_size:,} bytes)" for p in files if p.stat().st_size > limit]


def test_no_asset_is_over_the_limit():
    assets = [p for p in (ROOT / "assets").rglob("*") if p.is_file()]
    assert any(p.suffix == ".safetensors" for p in assets)  # the sketch model is there
    assert not oversized(assets)


def test_no_shipped_file_is_over_the_limit():
    files = shipped_files()
    assert ROOT / "README.md" in files
    assert not oversized(files)


def test_a_file_over_the_limit_is_reported(tmp_path):
    big, small = tmp_path / "big.bin", tmp_path / "small.bin"
    big.write_bytes(b"\0" * (LIMIT + 1))
    small.write_bytes(b"\0" * LIMIT)
    assert oversized([big, small]) == [f"{big} ({LIMIT + 1:,} bytes)"]
