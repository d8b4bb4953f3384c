"""The sketch model: a tiny text-to-image model trained here on a procedural world.

It ships in `assets/models/sketch/` as an ordinary diffusers folder (fp16 safetensors) and is
the default model offline. It draws one coloured shape on a lit background in a few styles;
`engine.sketch.world` defines what it knows, `engine.sketch.train` how it was trained.
The `text_encoder/` folder holds the whole CLIP the UNet was trained with (text and image
towers). The `clip/` folder holds the scoring CLIP (`engine.sketch.scorer_model`, trained by
`engine.sketch.scorer_training`): its text tower tuned on from the text encoder's and a small
ResNet that sees 128 px, trained to tell every attribute apart; `clip_path()` is the CLIP
that scores, interrogates and refines offline.
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
    """The sketch CLIP that scores pictures, as a `CLIPModel` folder (with its image processor
    config): the scoring CLIP, or the text encoder's CLIP where the scoring one is missing."""
    scorer = SKETCH_DIR / "clip"
    return scorer if (scorer / "config.json").is_file() else text_encoder_clip_path()


def text_encoder_clip_path() -> Path:
    """The CLIP the UNet was trained with (its text tower is the pipeline's text encoder)."""
    return SKETCH_DIR / "text_encoder"


def load_sketch_clip():
    """`(model, CLIPImageProcessor, CLIPTokenizer)` of the sketch CLIP, in fp32 (the
    scoring CLIP brings its own small tokenizer; the text encoder's uses CLIP's whole one)."""
    import torch
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

    from engine.sketch.scorer_model import load_scoring_clip
    from engine.tokenizer import load_clip_tokenizer

    folder = clip_path()
    processor = CLIPImageProcessor.from_pretrained(folder)
    if folder == text_encoder_clip_path():
        model = CLIPModel.from_pretrained(folder, dtype=torch.float32)
        return model.eval(), processor, load_clip_tokenizer()
    return load_scoring_clip(folder).eval(), processor, CLIPTokenizer.from_pretrained(folder)
