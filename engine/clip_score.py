"""CLIP text–image similarity for every image of a comparison (transformers' `CLIPModel`).

Which CLIP, looked up at call time (`find_clip`):
1. a real CLIP (`openai/clip-vit-base-patch32`) when it is in the local Hugging Face cache;
2. else the project's trained sketch CLIP: the scoring CLIP in `assets/models/sketch/clip`
   (`engine.sketch.clip_path()`), else the whole `CLIPModel` in the model's `text_encoder/`;
3. else a tiny CLIP built from a config with seeded random weights, so the code path runs —
   its scores are marked not meaningful and the page says so.

The score is 100 × the cosine of the image and text embeddings (as in CLIPScore, not clamped).
Images are centre-cropped to a square and resized to the model's input size, then normalised
with CLIP's mean and standard deviation; prompts lose their weighting syntax first.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.sketch import SKETCH_DIR, text_encoder_clip_path
from prompts.weighting import PromptSyntaxError, strip_weights

REAL_CLIP_ID = "openai/clip-vit-base-patch32"
SKETCH_CLIP_FOLDERS = (SKETCH_DIR / "clip", text_encoder_clip_path())
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TINY_CLIP = "tiny random CLIP"
SKETCH_CLIP = "sketch CLIP"


@dataclass(frozen=True)
class ClipChoice:
    """Where the CLIP comes from: a folder (None for the tiny random one) and its name."""

    folder: Path | None
    name: str
    meaningful: bool


def find_clip(sketch_folders: Sequence[Path] = SKETCH_CLIP_FOLDERS) -> ClipChoice:
    """The best CLIP at hand now (see the module docstring)."""
    try:
        from huggingface_hub import snapshot_download

        cached = snapshot_download(REAL_CLIP_ID, local_files_only=True)
        return ClipChoice(Path(cached), REAL_CLIP_ID, True)
    except Exception:  # not in the cache (or no hub library): fall through
        pass
    for folder in sketch_folders:
        if is_clip_folder(folder):
            return ClipChoice(folder, SKETCH_CLIP, True)
    return ClipChoice(None, TINY_CLIP, False)


CLIP_MODEL_TYPES = ("clip", "vision-text-dual-encoder")  # the second: the sketch scoring CLIP


def clip_model_type(folder: Path) -> str | None:
    """The `model_type` of the model saved in `folder`, or None without a readable config."""
    config = folder / "config.json"
    if not config.is_file():
        return None
    try:
        import json

        return json.loads(config.read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None


def is_clip_folder(folder: Path) -> bool:
    """Whether `folder` holds a `CLIPModel` (or the sketch scoring CLIP) saved with
    `save_pretrained`."""
    return clip_model_type(folder) in CLIP_MODEL_TYPES


def load_clip_model(folder: Path):
    """The CLIP in `folder`, in fp32: a `CLIPModel`, or the sketch scoring CLIP (a
    `VisionTextDualEncoderModel` with a ResNet image tower)."""
    if clip_model_type(folder) == "vision-text-dual-encoder":
        from engine.sketch.scorer_model import load_scoring_clip

        return load_scoring_clip(folder)
    from transformers import CLIPModel

    return CLIPModel.from_pretrained(folder, dtype=torch.float32)


class ClipScorer:
    """Scores images against texts with one CLIP model (thread-safe)."""

    def __init__(self, choice: ClipChoice) -> None:
        from transformers import CLIPTokenizer

        self.choice = choice
        if choice.folder is None:
            self.model = _tiny_clip()
            tokenizer_folder = None
        else:
            self.model = load_clip_model(choice.folder)
            tokenizer_folder = choice.folder if (choice.folder / "vocab.json").exists() else None
        if tokenizer_folder is not None:
            self.tokenizer = CLIPTokenizer.from_pretrained(tokenizer_folder)
        else:
            from engine.tokenizer import load_clip_tokenizer

            self.tokenizer = load_clip_tokenizer()
        self.model.eval()
        self.image_size = int(self.model.config.vision_config.image_size)
        self.max_tokens = int(self.model.config.text_config.max_position_embeddings)
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.choice.name

    @property
    def meaningful(self) -> bool:
        return self.choice.meaningful

    def pixels(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """CLIP input pixels: centre square crop, resize, normalise."""
        rows = []
        for image in images:
            image = image.convert("RGB")
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side))
            image = image.resize((self.image_size, self.image_size), Image.Resampling.BICUBIC)
            array = np.asarray(image, dtype=np.float32) / 255.0
            rows.append((array - CLIP_MEAN) / CLIP_STD)
        return torch.from_numpy(np.stack(rows).astype(np.float32)).permute(0, 3, 1, 2)

    @property
    def logit_scale(self) -> float:
        """CLIP's learned temperature: softmax(logit_scale × cosine) ranks texts for an image."""
        return float(self.model.logit_scale.detach().exp())

    def image_embeddings(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Unit-length image embeddings, one row per image."""
        if not images:
            return torch.zeros((0, int(self.model.config.projection_dim)))
        with self._lock, torch.inference_mode():
            embeds = _as_tensor(self.model.get_image_features(pixel_values=self.pixels(images)))
        return embeds / embeds.norm(dim=-1, keepdim=True)

    def text_embeddings(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        """Unit-length text embeddings (weighting syntax stripped), in batches."""
        rows = []
        for start in range(0, len(texts), batch_size):
            plain = [_plain(text) for text in texts[start : start + batch_size]]
            tokens = self.tokenizer(
                plain,
                padding="max_length",
                max_length=self.max_tokens,
                truncation=True,
                return_tensors="pt",
            )
            with self._lock, torch.inference_mode():
                rows.append(_as_tensor(self.model.get_text_features(input_ids=tokens.input_ids)))
        if not rows:
            return torch.zeros((0, int(self.model.config.projection_dim)))
        embeds = torch.cat(rows)
        return embeds / embeds.norm(dim=-1, keepdim=True)

    def score(self, images: Sequence[Image.Image], texts: Sequence[str]) -> list[float]:
        """100 × cosine(image, text) for each image and its text."""
        if len(images) != len(texts):
            raise ValueError("Give one text per image.")
        if not images:
            return []
        cosines = (self.image_embeddings(images) * self.text_embeddings(texts)).sum(dim=-1)
        return [round(float(value) * 100, 4) for value in cosines]

    def image_similarity(
        self, images: Sequence[Image.Image], reference: Image.Image
    ) -> list[float]:
        """CLIP image–image similarity of each image to `reference`, 100 × the mean of two
        cosines: of the image embeddings (what is shown) and, patch by patch, of the image
        tower's last hidden states (where it is: a ViT's patch tokens, a ResNet's grid)."""
        if not images:
            return []
        with self._lock, torch.inference_mode():
            out = self.model.vision_model(pixel_values=self.pixels([*images, reference]))
            pooled = self.model.visual_projection(out.pooler_output)
        pooled = pooled / pooled.norm(dim=-1, keepdim=True)
        hidden = out.last_hidden_state  # a ResNet's (batch, channels, height, width) grid,
        # or a ViT's class token and then one token per patch
        patches = hidden.flatten(2).transpose(1, 2) if hidden.dim() == 4 else hidden[:, 1:, :]
        patches = patches / patches.norm(dim=-1, keepdim=True)
        whole = pooled[:-1] @ pooled[-1]
        local = (patches[:-1] * patches[-1:]).sum(dim=-1).mean(dim=-1)
        return [round(float(value) * 50, 4) for value in whole + local]


def _as_tensor(output: object) -> torch.Tensor:
    """transformers 5 may return a model output; take its pooled embedding."""
    if isinstance(output, torch.Tensor):
        return output
    for key in ("pooler_output", "image_embeds", "text_embeds"):
        value = getattr(output, key, None)
        if isinstance(value, torch.Tensor):
            return value
    raise TypeError(f"Unexpected CLIP output {type(output).__name__}.")


def _plain(text: str) -> str:
    try:
        return strip_weights(text)
    except PromptSyntaxError:
        return text


def _tiny_clip():
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(
        text_config={
            "vocab_size": 49408,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "bos_token_id": 49406,
            "eos_token_id": 49407,
            "pad_token_id": 49407,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=32,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return CLIPModel(config)


@lru_cache(maxsize=4)
def _scorer_for(choice: ClipChoice) -> ClipScorer:
    return ClipScorer(choice)


def clip_scorer(choice: ClipChoice | None = None) -> ClipScorer:
    """The scorer for `choice` (default: `find_clip()` now), loaded once per process."""
    return _scorer_for(choice or find_clip())
