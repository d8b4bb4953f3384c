"""Where the repository's `assets/` folder (styles, term lists, wildcards) lives."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


def assets_dir() -> Path:
    """The repository's `assets/` folder (next to the `prompts/` package)."""
    return ASSETS_DIR


def asset_path(*parts: str) -> Path:
    """A path inside `assets/`, e.g. `asset_path("styles")`; the path need not exist."""
    return ASSETS_DIR.joinpath(*parts)
