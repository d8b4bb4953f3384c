"""Where Prompt Atelier keeps its data, read once from flags and the environment."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

APP_NAME = "prompt-atelier"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the data folder: the flag, else ATELIER_DATA_DIR, else /data on a Space, else the
    per-user data folder. The folder is created."""
    if explicit:
        path = Path(explicit)
    elif os.environ.get("ATELIER_DATA_DIR"):
        path = Path(os.environ["ATELIER_DATA_DIR"])
    elif os.environ.get("SPACE_ID") and Path("/data").is_dir():
        path = Path("/data") / APP_NAME
    else:
        path = Path(user_data_dir(APP_NAME, appauthor=False))
    path = path.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir(data_dir: Path) -> Path:
    """Folder for built models (the demo model cache)."""
    return data_dir / "models"


def gallery_dir(data_dir: Path) -> Path:
    """Folder for the gallery database and its image files."""
    return data_dir / "gallery"
