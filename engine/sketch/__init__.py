"""The sketch model: a tiny text-to-image model trained here on a procedural world.

It ships in `assets/models/sketch/` as an ordinary diffusers folder (fp16 safetensors) and is
the default model offline. It draws one coloured shape on a lit background in a few styles;
`engine.sketch.world` defines what it knows, `engine.sketch.train` how it was trained.
The `text_encoder/` folder holds the whole CLIP (text and image towers), so `clip_path()` can
serve as a small offline CLIP scorer.
"""

from __future__ import annotations

from pathlib import Path

SKETCH_MODEL_ID = "sketch"
SKETCH_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "models" / "sketch"
SKETCH_CAN_DRAW = (
    "one shape (circle, square, triangle, star, ring, house, tree, moon, heart, cross, diamond) "
    "in one of 11 colours, small/medium/large, left/right/centre/top/bottom, under golden hour, "
    "sunrise, overcast, night, studio lighting, neon or midday sun, as flat, pixel art, "
    "watercolor or line art, at 128 x 128"
)


def sketch_model_dir() -> Path:
    """The shipped sketch model folder (a diffusers StableDiffusionPipeline layout)."""
    return SKETCH_DIR


def sketch_model_available() -> bool:
    """Whether the sketch model's weights are present."""
    return (SKETCH_DIR / "model_index.json").is_file()


def clip_path() -> Path:
    """The sketch CLIP as a `CLIPModel` folder (with its image processor config)."""
    return SKETCH_DIR / "text_encoder"


def load_sketch_clip():
    """`(CLIPModel, CLIPImageProcessor, CLIPTokenizer)` of the sketch CLIP, in fp32."""
    import torch
    from transformers import CLIPImageProcessor, CLIPModel

    from engine.tokenizer import load_clip_tokenizer

    model = CLIPModel.from_pretrained(clip_path(), dtype=torch.float32).eval()
    processor = CLIPImageProcessor.from_pretrained(clip_path())
    return model, processor, load_clip_tokenizer()
