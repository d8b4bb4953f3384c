"""Train the sketch world's scoring CLIP (`assets/models/sketch/clip`): the CLIP that Compare's
scores, interrogation and refinement read pictures with when no real CLIP is cached.

The text encoder's own CLIP (`text_encoder/`) conditions the UNet, so its text tower cannot
change, and its 64 px image tower hardly sees shape or style: a linear probe of its image
embeddings reads a picture's shape 23 % of the time, and its frozen text embeddings blur
flat, pixel art and watercolor (a probe reads a caption's style 74 % of the time). The
scoring CLIP (`engine.sketch.scorer_model`) is free to learn both:

- its text tower starts as the text encoder's and trains on, all but the token table (kept,
  so words the world never names mean what they meant; the export keeps only the rows of the
  world's words, `engine.sketch.scorer_vocabulary`);
- its image tower is a small ResNet that sees 128 px, the world's own size;
- each batch is mostly contrast groups: a scene and one variant per attribute (shape, colour,
  size, position, lighting, style), each differing from it in that attribute only and
  captioned in full, so every attribute has to be told apart; the rest are random scenes with
  captions that leave attributes out, as prompts do;
- linear read-outs of every attribute from both towers' embeddings (training only) add a
  cross-entropy loss;
- pictures are rendered fresh every step (0.7 ms each), with new render seeds.

    python -m engine.sketch.scorer_training train    # into data/sketch-scorer, then exports
    python -m engine.sketch.scorer_training export   # -> assets/models/sketch/clip

The run's settings are written beside the weights (`training.json`).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import CLIPModel

from engine.sketch import SKETCH_DIR
from engine.sketch.checkpoints import Checkpoint
from engine.sketch.export import clip_image_processor
from engine.sketch.scorer_model import SCORER_IMAGE_SIZE, SketchClipModel, build_scoring_clip
from engine.sketch.scorer_vocabulary import reduced_vocabulary
from engine.sketch.train import Stage, _ema_update, run_stage
from engine.sketch.training_data import clip_pixels, hard_negative_group, to_tensor, tokenize
from engine.sketch.world import (
    COLOURS,
    LIGHTING,
    POSITIONS,
    SHAPES,
    SIZES,
    STYLES,
    Scene,
    render_scene,
    sample_scene,
    write_caption,
)
from engine.tokenizer import load_clip_tokenizer

log = logging.getLogger("sketch.scorer")
TOKEN_TABLE = "text_model.embeddings.token_embedding.weight"

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "shape": SHAPES,
    "colour": tuple(COLOURS),
    "size": tuple(SIZES),
    "position": tuple(POSITIONS),
    "lighting": tuple(LIGHTING),
    "style": STYLES,
}


def contrast_group(rng: random.Random) -> list[Scene]:
    """A scene and one variant per attribute, each differing from it in that one only."""
    return hard_negative_group(rng, ATTRIBUTES)


class AttributeReadout(torch.nn.Module):
    """Linear read-outs of every world attribute from an embedding (a training aid)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.heads = torch.nn.ModuleDict(
            {name: torch.nn.Linear(width, len(values)) for name, values in ATTRIBUTES.items()}
        )

    def loss(self, embeds: torch.Tensor, scenes: list[Scene]) -> torch.Tensor:
        total = embeds.new_zeros(())
        for name, head in self.heads.items():
            values = ATTRIBUTES[name]
            target = torch.tensor([values.index(getattr(s, name)) for s in scenes])
            total = total + F.cross_entropy(head(embeds), target)
        return total / len(self.heads)


def scorer_from(text_clip: CLIPModel) -> SketchClipModel:
    """A scoring CLIP with `text_clip`'s text tower, text projection and temperature, and a
    fresh image tower."""
    clip = build_scoring_clip(text_clip.config.text_config)
    clip.text_model.load_state_dict(text_clip.text_model.state_dict())
    clip.text_projection.load_state_dict(text_clip.text_projection.state_dict())
    with torch.no_grad():
        clip.logit_scale.copy_(text_clip.logit_scale)
    return clip


class ScorerStage(Stage):
    """Contrastive training on contrast groups, with attribute read-outs on both towers."""

    name, warmup, log_every = "scorer", 100, 25

    def __init__(self, clip: SketchClipModel, args: argparse.Namespace) -> None:
        self.clip, self.args = clip, args
        clip.get_parameter(TOKEN_TABLE).requires_grad_(False)  # see `with_world_vocabulary`
        width = clip.config.projection_dim
        self.image_heads, self.text_heads = AttributeReadout(width), AttributeReadout(width)
        image_side = [*clip.vision_model.parameters(), *clip.visual_projection.parameters(),
                      clip.logit_scale, *self.image_heads.parameters()]  # fmt: skip
        text_side = [p for p in clip.text_model.parameters() if p.requires_grad]
        text_side += [*clip.text_projection.parameters(), *self.text_heads.parameters()]
        groups = [{"params": image_side, "weight_decay": 0.05},
                  {"params": text_side, "weight_decay": 0.0}]  # fmt: skip
        self.optimizer = torch.optim.AdamW(groups)
        self.base_lrs = [args.vision_lr, args.text_lr]
        self.training = [clip, self.image_heads, self.text_heads]
        self.clipped = [image_side, text_side]
        self.steps, self.minutes = args.steps, args.minutes
        self.tokenizer = load_clip_tokenizer()
        self.ema = {k: v.detach().clone() for k, v in clip.state_dict().items()}

    def batch(self, step: int) -> tuple[list[Scene], list[str], np.ndarray, int]:
        """Step `step`'s scenes, captions and pictures; the first `named` captions name
        every attribute (the contrast groups), the rest may leave some out."""
        rng = random.Random(self.args.seed * 31 + step)
        scenes = [s for _ in range(self.args.groups) for s in contrast_group(rng)]
        named = len(scenes)
        scenes += [sample_scene(rng) for _ in range(self.args.loose)]
        captions = [write_caption(s, rng, omit=i >= named) for i, s in enumerate(scenes)]
        images = np.stack([render_scene(s, rng.randrange(1 << 30)) for s in scenes])
        return scenes, captions, images, named

    def loss(self, step: int) -> tuple[torch.Tensor, str]:
        scenes, captions, images, named = self.batch(step)
        ids = tokenize(self.tokenizer, captions, self.args.tokens)
        pixels = clip_pixels(to_tensor(images), SCORER_IMAGE_SIZE)
        out = self.clip(input_ids=ids, pixel_values=pixels, return_loss=True)
        scale = self.clip.config.projection_dim**0.5  # unit-length embeddings to unit entries
        seen = self.image_heads.loss(out.image_embeds * scale, scenes)
        read = self.text_heads.loss(out.text_embeds[:named] * scale, scenes[:named])
        loss = out.loss + self.args.readout_weight * (seen + read)
        note = f" contrast {out.loss.item():.3f} seen {seen.item():.3f} read {read.item():.3f}"
        return loss, note

    def after_step(self, step: int) -> None:
        _ema_update(self.ema, self.clip, step, self.args.ema_decay)

    def state(self) -> dict:
        return {"clip": self.clip.state_dict(), "ema": self.ema,
                "heads": [self.image_heads.state_dict(), self.text_heads.state_dict()]}  # fmt: skip

    def load(self, state: dict) -> None:
        self.clip.load_state_dict(state["clip"])
        self.ema = state["ema"]
        self.image_heads.load_state_dict(state["heads"][0])
        self.text_heads.load_state_dict(state["heads"][1])


# Settings of where a run goes, not of what it trains: not recorded.
MACHINE_SETTINGS = ("command", "workdir", "out", "threads", "save_every")


def build_parser() -> argparse.ArgumentParser:
    """The command line; the defaults are the shipped scoring CLIP's settings."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["train", "export"])
    p.add_argument("--start", type=Path, default=SKETCH_DIR / "text_encoder",
                   help="the CLIP folder whose text tower it starts from")  # fmt: skip
    p.add_argument("--workdir", type=Path, default=Path("data/sketch-scorer"))
    p.add_argument("--out", type=Path, default=SKETCH_DIR / "clip")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-every", type=float, default=3.0, help="minutes between checkpoints")
    p.add_argument("--seed", type=int, default=4321)
    p.add_argument("--steps", type=int, default=1300)
    p.add_argument("--minutes", type=float, default=None, help="an optional wall-clock cap")
    p.add_argument("--groups", type=int, default=8, help="contrast groups a step (7 scenes)")
    p.add_argument("--loose", type=int, default=24, help="random scenes a step, loosely worded")
    p.add_argument("--tokens", type=int, default=48)
    p.add_argument("--vision-lr", type=float, default=2e-3)
    p.add_argument("--text-lr", type=float, default=1e-4)
    p.add_argument("--readout-weight", type=float, default=0.5)
    p.add_argument("--ema-decay", type=float, default=0.999)
    return p


def training_settings(args: argparse.Namespace) -> dict:
    """What a run trains with, as JSON values; paths in the repository relative to it."""
    return {k: _portable(v) if isinstance(v, Path) else v for k, v in vars(args).items()
            if k not in MACHINE_SETTINGS}  # fmt: skip


def _portable(path: Path) -> str:
    root = SKETCH_DIR.parents[2]
    resolved = path.resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(path)


def train(args: argparse.Namespace) -> SketchClipModel:
    """Train (or resume) in the work folder; returns the CLIP with its EMA weights."""
    args.workdir.mkdir(parents=True, exist_ok=True)
    (args.workdir / "training.json").write_text(json.dumps(training_settings(args), indent=1))
    start = CLIPModel.from_pretrained(args.start, dtype=torch.float32)
    stage = ScorerStage(scorer_from(start), args)
    run_stage(stage, Checkpoint(args.workdir, stage.name), args.save_every)
    return trained_scorer(args.workdir)


def trained_scorer(workdir: Path) -> SketchClipModel:
    """The work folder's scoring CLIP, with its EMA weights."""
    clip = build_scoring_clip()
    clip.load_state_dict(Checkpoint(workdir, ScorerStage.name).load()["ema"])
    return clip.eval()


def with_world_vocabulary(clip: SketchClipModel) -> SketchClipModel:
    """`clip` with its token table cut to the world's tokens (`reduced_vocabulary`), renumbered;
    the table was never trained here, so the rows kept are the text encoder's own."""
    words = reduced_vocabulary()
    config = copy.deepcopy(clip.config)
    text = config.text_config
    text.vocab_size = len(words.tokens)
    text.bos_token_id, text.eos_token_id = len(words.tokens) - 2, len(words.tokens) - 1
    text.pad_token_id = text.eos_token_id
    state = clip.state_dict()
    state[TOKEN_TABLE] = state[TOKEN_TABLE][list(words.full_ids)].clone()
    small = SketchClipModel(config)
    small.load_state_dict(state)
    return small.eval()


def export_scorer(workdir: Path, out: Path) -> Path:
    """Write the trained scoring CLIP with the world's vocabulary: fp16 safetensors, its
    tokenizer and image processor, and the run's `training.json`."""
    out = Path(out)
    with_world_vocabulary(trained_scorer(workdir)).to(torch.float16).save_pretrained(
        out, safe_serialization=True
    )
    clip_image_processor(SCORER_IMAGE_SIZE).save_pretrained(out)
    reduced_vocabulary().save_tokenizer(out)
    settings = Path(workdir) / "training.json"
    if settings.is_file():
        (out / "training.json").write_text(settings.read_text())
    return out


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.command == "train":
        train(args)
    export_scorer(args.workdir, args.out)
    log.info("scoring CLIP written to %s", args.out)


if __name__ == "__main__":
    main()
