"""The sketch world's scoring CLIP as a model: the CLIP text tower and a small ResNet that sees
pictures at 128 px, paired as transformers' `VisionTextDualEncoderModel` pairs any two towers.

A vision transformer on an 8 x 8 grid of patches (the text encoder's CLIP at 64 px, or a
128 px one in 16 px patches) learns shape too slowly for a CPU: a classifier on its
embedding read shape 16-21 % after 200 to 450 steps of training, where this ResNet read 67 %
after 200. The one change to the dual encoder is the ResNet's pooling, flattened so that the
projection sees a vector (`SketchClipModel`); the folder holds a standard
`vision-text-dual-encoder` config and safetensors, and loads with `load_scoring_clip`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import CLIPTextConfig, ResNetConfig, VisionTextDualEncoderConfig
from transformers import VisionTextDualEncoderModel as _DualEncoder

from engine.pipeline_configs import SKETCH, SKETCH_CLIP_PROJECTION_DIM

SCORER_IMAGE_SIZE = 128  # the world's own size
SKETCH_SCORER_VISION: dict[str, Any] = {  # 0.62 M parameters, 1.25 MB in fp16
    "num_channels": 3,
    "embedding_size": 32,
    "hidden_sizes": [32, 64, 128, 128],
    "depths": [1, 1, 1, 1],
    "layer_type": "basic",
    "downsample_in_first_stage": False,
    "hidden_size": 128,  # what the dual encoder projects from: the last stage's width
    "image_size": SCORER_IMAGE_SIZE,
}


class SketchClipModel(_DualEncoder):
    """`VisionTextDualEncoderModel` with a ResNet image tower whose pooled output is flat."""

    def __init__(self, config: VisionTextDualEncoderConfig, *args, **kwargs) -> None:
        super().__init__(config, *args, **kwargs)
        self.vision_model.pooler = torch.nn.Sequential(
            torch.nn.AdaptiveAvgPool2d((1, 1)), torch.nn.Flatten(1)
        )


def scorer_config(text_config: CLIPTextConfig | None = None) -> VisionTextDualEncoderConfig:
    """The scoring CLIP's configuration (the text tower's as the text encoder's by default)."""
    text = text_config or CLIPTextConfig(**SKETCH.text_encoder)
    return VisionTextDualEncoderConfig.from_vision_text_configs(
        ResNetConfig(**SKETCH_SCORER_VISION), text, projection_dim=SKETCH_CLIP_PROJECTION_DIM
    )


def build_scoring_clip(text_config: CLIPTextConfig | None = None) -> SketchClipModel:
    """A scoring CLIP with fresh random weights."""
    return SketchClipModel(scorer_config(text_config))


def load_scoring_clip(folder: Path, dtype: torch.dtype = torch.float32) -> SketchClipModel:
    return SketchClipModel.from_pretrained(folder, dtype=dtype)
