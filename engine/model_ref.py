"""Turning what the user typed (a hub id, a folder, a checkpoint file, "demo", "demo-sd3",
"demo-flux", "sketch") into a model ref."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.errors import ModelLoadError
from engine.model_names import DEMO_MODEL_ID, is_flow_demo
from engine.sketch import SKETCH_MODEL_ID, sketch_model_available, sketch_model_dir

ModelSource = Literal["demo", "sketch", "folder", "single_file", "hub"]
CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelRef:
    """Where a model comes from: `name` as shown to people, `location` as given to loaders."""

    name: str
    source: ModelSource
    location: str
    revision: str | None = None

    @property
    def is_demo(self) -> bool:
        return self.source == "demo"

    @property
    def is_sketch(self) -> bool:
        return self.source == "sketch"


def resolve_model_ref(text: str, revision: str | None = None) -> ModelRef:
    """Classify a model reference, or raise ModelLoadError saying what is wrong with it."""
    text = (text or "").strip()
    if not text:
        raise ModelLoadError(
            "No model was given; name a hub id, a folder, a checkpoint, 'sketch' or 'demo'."
        )
    if text == DEMO_MODEL_ID or is_flow_demo(text):  # demo, demo-sd3, demo-flux
        return ModelRef(text, "demo", text)
    if text == SKETCH_MODEL_ID:
        if not sketch_model_available():
            raise ModelLoadError(
                "The sketch model's weights are missing from assets/models/sketch."
            )
        return ModelRef(SKETCH_MODEL_ID, "sketch", str(sketch_model_dir()))
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise ModelLoadError(
                f"The folder {text} has no model_index.json: not a diffusers model."
            )
        return ModelRef(path.name, "folder", str(path.resolve()))
    if path.is_file():
        if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
            raise ModelLoadError(f"{path.name} is not a .safetensors or .ckpt checkpoint.")
        return ModelRef(path.stem, "single_file", str(path.resolve()))
    looks_like_path = text.startswith((".", "/", "~")) or path.suffix.lower() in CHECKPOINT_SUFFIXES
    if looks_like_path or not _HUB_ID.match(text):
        raise ModelLoadError(f"No model folder or checkpoint file at {text}.")
    return ModelRef(text, "hub", text, revision)
