"""What the sketch model trains on: the rendered dataset, its pictures as tensors, captions
(re-worded, emphasised, hard negatives) and the text states the UNet is conditioned on."""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F

from engine.pipeline_configs import SKETCH_LATENT_FACTOR
from engine.sketch.world import (
    COLOURS,
    POSITIONS,
    SHAPES,
    SIZE,
    SIZES,
    Scene,
    full_caption,
    render_scene,
    sample_scene,
    shape_mask,
    write_caption,
)
from engine.text_encoding import apply_weights, token_chunks

CLIP_MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
CLIP_STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


def render_dataset(count: int, seed: int) -> tuple[list, np.ndarray]:
    """`count` scenes and their pictures (uint8, N x 128 x 128 x 3), the same for a seed."""
    rng = random.Random(seed)
    scenes = [sample_scene(rng) for _ in range(count)]
    images = np.stack([render_scene(s, seed * 1_000_003 + i) for i, s in enumerate(scenes)])
    return scenes, images


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def clip_pixels(images: torch.Tensor, size: int) -> torch.Tensor:
    """[-1, 1] images -> CLIP-normalised pixels at `size`, as CLIPImageProcessor would give."""
    x = F.interpolate((images + 1) / 2, size=(size, size), mode="bicubic", antialias=True)
    return (x.clamp(0, 1) - CLIP_MEAN) / CLIP_STD


def tokenize(tokenizer, captions: list[str], length: int) -> torch.Tensor:
    """Token ids, padded or cut to `length`."""
    return tokenizer(
        captions, padding="max_length", max_length=length, truncation=True, return_tensors="pt"
    ).input_ids


HARD_ATTRIBUTES = {"position": POSITIONS, "shape": SHAPES, "size": SIZES, "colour": COLOURS}


def hard_negative_group(rng: random.Random, attributes: dict = HARD_ATTRIBUTES) -> list:
    """A scene and one variant per attribute in `attributes`, each differing from it in that
    attribute only: in one batch, CLIP must tell "left" from "right" and a star from a
    circle, not only red from blue."""
    base = sample_scene(rng)
    group = [base]
    for attribute, values in attributes.items():
        other = rng.choice([v for v in values if v != getattr(base, attribute)])
        group.append(Scene(**{**base.__dict__, attribute: other}))
    return group


def subject_masks(scenes: list, size: int) -> torch.Tensor:
    """Where each scene's subject is, at latent resolution (N x 1 x size/f x size/f, 0 or 1),
    one latent pixel wider all round: the loss weighs it up, as the subject is small."""
    scale = size / SIZE
    masks = np.stack(
        [
            shape_mask(s.shape, x * scale, y * scale, SIZES[s.size] * scale, size)
            for s in scenes
            for x, y in [s.centre]
        ]
    )
    masks = torch.from_numpy(masks).float()[:, None]
    masks = F.max_pool2d(masks, SKETCH_LATENT_FACTOR)
    return F.max_pool2d(masks, 3, stride=1, padding=1)


def unet_caption(scene, rng: random.Random, dropout: float, canonical: float) -> str:
    """An empty caption (share `dropout`, for guidance), the canonical one (share
    `canonical`), or a freshly worded one."""
    roll = rng.random()
    if roll < dropout:
        return ""
    if roll < dropout + canonical:
        return full_caption(scene)
    return write_caption(scene, rng)


def emphasis_caption(scene: Scene, rng: random.Random) -> str:
    """The canonical caption naming two colours, the scene's weighted up and another weighted
    down, A1111-style, in either order: "a small (blue:1.4) (red:0.6) star, left, night, flat".
    Training on them teaches the UNet that emphasis picks between conflicting words, as SD
    models learn it from their captions."""
    other = rng.choice([c for c in COLOURS if c != scene.colour])
    words = [
        f"({scene.colour}:{rng.uniform(1.2, 1.6):.1f})",
        f"({other}:{rng.uniform(0.5, 0.8):.1f})",
    ]
    rng.shuffle(words)
    return recoloured_caption(scene, words)


def recoloured_caption(scene: Scene, words: list[str]) -> str:
    """The scene's canonical caption with its colour word replaced by `words`."""
    return full_caption(scene).replace(f" {scene.colour} ", f" {' '.join(words)} ", 1)


def weighted_states(text_model, tokenizer, captions: list[str], bare=None) -> torch.Tensor:
    """The text tower's states for captions, with A1111 weights applied as the app applies
    them (`engine.text_encoding`); a caption without weights comes out as plainly encoded.

    Where `bare[j]` is true, caption j's end-of-text and padding states are the empty
    caption's: they summarise the whole caption, and a UNet that never has to do without
    them reads colour there, where A1111 weights do not act, rather than from the words."""
    framed = [token_chunks(tokenizer, caption)[0] for caption in captions]
    rows = [ids for ids, _ in framed]
    if bare is None or not any(bare):
        hidden = text_model(torch.tensor(rows)).last_hidden_state
    else:
        empty_ids = token_chunks(tokenizer, "")[0][0]
        states = text_model(torch.tensor([*rows, empty_ids])).last_hidden_state
        place = torch.arange(len(empty_ids))
        ends = [row.index(tokenizer.eos_token_id) for row in rows]
        swap = torch.stack([(place >= end) & flag for end, flag in zip(ends, bare, strict=True)])
        hidden = torch.where(swap[..., None], states[-1:], states[:-1])
    return torch.cat(
        [apply_weights(hidden[j : j + 1], weights) for j, (_, weights) in enumerate(framed)]
    )
