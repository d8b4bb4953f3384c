"""Train the sketch model on the procedural world: VAE, CLIP, UNet, then UNet and CLIP together
(the `joint` phase, then the `weights` phase that teaches the UNet to heed A1111 weights).

    python -m engine.sketch.train all --workdir data/sketch-train
    python -m engine.sketch.train export --workdir data/sketch-train --out assets/models/sketch

Each stage trains for a wall-clock budget (or a step count), saves a checkpoint every few
minutes into the work folder and resumes from it when started again; a finished stage is
skipped. Every random draw is seeded by the step number, so a resumed run sees the same data.
Runs on a 2-core CPU: the dataset is rendered once and the UNet trains on cached latents.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPConfig, CLIPModel

from engine.sketch.configs import (
    CLIP_PROJECTION_DIM,
    CLIP_TEXT_CONFIG,
    CLIP_VISION_CONFIG,
    LATENT_FACTOR,
    SCHEDULER_CONFIG,
    UNET_CONFIG,
    VAE_CONFIG,
)
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
from engine.tokenizer import load_clip_tokenizer

log = logging.getLogger("sketch.train")

CLIP_MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
CLIP_STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


# ----------------------------------------------------------------------------- data


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
    return tokenizer(
        captions, padding="max_length", max_length=length, truncation=True, return_tensors="pt"
    ).input_ids


# ----------------------------------------------------------------------------- checkpoints


class Checkpoint:
    """A stage's resumable state in `workdir/<name>.pt`, written atomically."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.path = workdir / f"{name}.pt"

    def load(self) -> dict | None:
        if not self.path.is_file():
            return None
        return torch.load(self.path, map_location="cpu", weights_only=False)

    def save(self, state: dict) -> None:
        tmp = self.path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.path)


class Budget:
    """Stop after `steps` steps or `minutes` of wall clock in this stage, whichever first."""

    def __init__(self, steps: int, minutes: float, done_seconds: float = 0.0) -> None:
        self.steps, self.seconds = steps, minutes * 60
        self.start = time.monotonic() - done_seconds

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def over(self, step: int) -> bool:
        return step >= self.steps or self.elapsed() >= self.seconds

    def progress(self, step: int) -> float:
        """How far through the budget, 0 to 1, by steps or by time, whichever is further."""
        return max(step / max(1, self.steps), self.elapsed() / max(1e-9, self.seconds))


def _ema_update(ema: dict, model: torch.nn.Module, step: int, decay: float) -> None:
    d = min(decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for name, param in model.state_dict().items():
            if param.dtype.is_floating_point:
                ema[name].mul_(d).add_(param, alpha=1 - d)
            else:
                ema[name].copy_(param)


# ----------------------------------------------------------------------------- stages


def _weighted_l1(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 with subject pixels (far from their row's median colour) counting 6 times: the
    subject is a few percent of a picture, and its colour is what the prompt names."""
    row_median = target.median(dim=3, keepdim=True).values
    subject = ((target - row_median).abs().sum(dim=1, keepdim=True) > 0.3).float()
    weight = 1.0 + 5.0 * subject
    return (weight * (recon - target).abs()).mean() / weight.mean()


def _cosine(base: float, progress: float, warm: float) -> float:
    """A learning rate: linear warm-up, then cosine down to a tenth of `base`."""
    progress = min(1.0, max(0.0, progress))
    return float(base * min(1.0, warm) * (0.1 + 0.45 * (1 + np.cos(np.pi * progress))))


def train_vae(images: np.ndarray, args, ckpt: Checkpoint) -> AutoencoderKL:
    """Subject-weighted L1 reconstruction plus a small KL term on 64 px crops (the VAE is
    convolutional, so crops teach it the whole picture)."""
    torch.manual_seed(args.seed)
    vae = AutoencoderKL(**VAE_CONFIG)
    opt = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr)
    state = ckpt.load() or {}
    if state:
        vae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
    step, elapsed = state.get("step", 0), state.get("elapsed", 0.0)
    if state.get("done") and not args.more:
        return vae.eval()
    budget, last_save = Budget(args.vae_steps, args.vae_minutes, elapsed), time.monotonic()
    vae.train()
    while not budget.over(step):
        g = np.random.default_rng(args.seed + step)
        idx = g.integers(0, len(images), args.vae_batch)
        crop = args.vae_crop
        ys, xs = g.integers(0, 128 - crop + 1, 2)
        batch = to_tensor(images[idx, ys : ys + crop, xs : xs + crop])
        for group in opt.param_groups:
            group["lr"] = _cosine(args.vae_lr, budget.progress(step), (step + 1) / 100)
        posterior = vae.encode(batch).latent_dist
        recon = vae.decode(posterior.sample()).sample
        loss = _weighted_l1(recon, batch) + 1e-6 * posterior.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 25 == 0:
            log.info("vae step %d loss %.4f (%.0fs)", step, loss.item(), budget.elapsed())
        if time.monotonic() - last_save > args.save_every * 60:
            state = {"model": vae.state_dict(), "opt": opt.state_dict(), "step": step}
            ckpt.save({**state, "elapsed": budget.elapsed()})
            last_save = time.monotonic()
    state = {"model": vae.state_dict(), "opt": opt.state_dict(), "step": step}
    ckpt.save({**state, "elapsed": budget.elapsed(), "done": True})
    return vae.eval()


def build_clip() -> CLIPModel:
    config = CLIPConfig(
        text_config=CLIP_TEXT_CONFIG,
        vision_config=CLIP_VISION_CONFIG,
        projection_dim=CLIP_PROJECTION_DIM,
    )
    return CLIPModel(config)


def _contrastive_step(clip, opt, tokenizer, captions, images: np.ndarray, args, lr: float) -> float:
    """One CLIP step on (uint8 picture, caption) pairs at learning rate `lr`; its loss."""
    ids = tokenize(tokenizer, captions, args.clip_tokens)
    pixels = clip_pixels(to_tensor(images), CLIP_VISION_CONFIG["image_size"])
    for group in opt.param_groups:
        group["lr"] = lr
    loss = clip(input_ids=ids, pixel_values=pixels, return_loss=True).loss
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.item())


def train_clip(scenes: list, images: np.ndarray | None, args, ckpt: Checkpoint) -> CLIPModel:
    """Contrastive CLIP loss on (picture, freshly worded caption) pairs; with `--clip-from`
    it starts from a trained CLIP folder (e.g. the shipped one) instead of from scratch."""
    torch.manual_seed(args.seed + 1)
    clip = build_clip()
    tokenizer = load_clip_tokenizer()
    opt = torch.optim.AdamW(clip.parameters(), lr=args.clip_lr, weight_decay=0.05)
    state = ckpt.load() or {}
    if state:
        clip.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
    elif args.clip_from:
        clip = CLIPModel.from_pretrained(args.clip_from, dtype=torch.float32)
        opt = torch.optim.AdamW(clip.parameters(), lr=args.clip_lr, weight_decay=0.05)
    step, elapsed = state.get("step", 0), state.get("elapsed", 0.0)
    if state.get("done") and not args.more:
        return clip.eval()
    budget, last_save = Budget(args.clip_steps, args.clip_minutes, elapsed), time.monotonic()
    clip.train()
    while images is not None and not budget.over(step):
        rng = random.Random(args.seed * 7 + step)
        idx = rng.sample(range(len(images)), args.clip_batch)
        captions = [write_caption(scenes[i], rng) for i in idx]
        lr = _cosine(args.clip_lr, budget.progress(step), (step + 1) / 100)
        loss = _contrastive_step(clip, opt, tokenizer, captions, images[idx], args, lr)
        step += 1
        if step % 25 == 0:
            log.info("clip step %d loss %.4f (%.0fs)", step, loss, budget.elapsed())
        if time.monotonic() - last_save > args.save_every * 60:
            state = {"model": clip.state_dict(), "opt": opt.state_dict(), "step": step}
            ckpt.save({**state, "elapsed": budget.elapsed()})
            last_save = time.monotonic()
    state = {"model": clip.state_dict(), "opt": opt.state_dict(), "step": step}
    ckpt.save({**state, "elapsed": budget.elapsed(), "done": True})
    return clip.eval()


HARD_ATTRIBUTES = {"position": POSITIONS, "shape": SHAPES, "size": SIZES, "colour": COLOURS}


def hard_negative_group(rng: random.Random) -> list:
    """A scene and one variant per attribute in `HARD_ATTRIBUTES`, each differing from it in
    that attribute only: in one batch, CLIP must tell "left" from "right" and a star from a
    circle, not only red from blue."""
    base = sample_scene(rng)
    group = [base]
    for attribute, values in HARD_ATTRIBUTES.items():
        other = rng.choice([v for v in values if v != getattr(base, attribute)])
        group.append(Scene(**{**base.__dict__, attribute: other}))
    return group


def tune_clip_hard(clip: CLIPModel, args, ckpt: Checkpoint) -> CLIPModel:
    """Fine-tune CLIP contrastively on batches of hard-negative groups (freshly rendered).
    Contrastive training on random batches learns colour and lighting, which tell most
    captions apart, and hardly anything about position or shape; the UNet, conditioned on
    the text tower, then cannot place or shape the subject."""
    tokenizer = load_clip_tokenizer()
    opt = torch.optim.AdamW(clip.parameters(), lr=args.clip_lr, weight_decay=0.05)
    state = ckpt.load() or {}
    if state:
        clip.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
    step, elapsed = state.get("step", 0), state.get("elapsed", 0.0)
    budget, last_save = Budget(args.clip_steps, args.clip_minutes, elapsed), time.monotonic()
    clip.train()
    groups = args.clip_batch // (1 + len(HARD_ATTRIBUTES))
    while not budget.over(step):
        rng = random.Random(args.seed * 29 + step)
        scenes = [s for _ in range(groups) for s in hard_negative_group(rng)]
        images = np.stack([render_scene(s, rng.randrange(1 << 30)) for s in scenes])
        captions = [write_caption(s, rng, omit=False) for s in scenes]
        lr = _cosine(args.clip_lr, budget.progress(step), (step + 1) / 20)
        loss = _contrastive_step(clip, opt, tokenizer, captions, images, args, lr)
        step += 1
        if step % 10 == 0:
            log.info("clip-hard step %d loss %.4f (%.0fs)", step, loss, budget.elapsed())
        if time.monotonic() - last_save > args.save_every * 60 or budget.over(step):
            state = {"model": clip.state_dict(), "opt": opt.state_dict(), "step": step}
            ckpt.save({**state, "elapsed": budget.elapsed()})
            last_save = time.monotonic()
    return clip.eval()


def encode_latents(vae: AutoencoderKL, images: np.ndarray, path: Path) -> torch.Tensor:
    """Posterior means of every picture, cached in `path`."""
    if path.is_file():
        return torch.load(path, map_location="cpu")["latents"]
    chunks = []
    with torch.no_grad():
        for start in range(0, len(images), 64):
            chunks.append(vae.encode(to_tensor(images[start : start + 64])).latent_dist.mode())
            if start % 2560 == 0:
                log.info("encoded %d / %d", start, len(images))
    latents = torch.cat(chunks)
    torch.save({"latents": latents, "scaling_factor": float(1.0 / latents.std())}, path)
    return latents


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
    masks = F.max_pool2d(masks, LATENT_FACTOR)
    return F.max_pool2d(masks, 3, stride=1, padding=1)


def timesteps(count: int, args, gen: torch.Generator, total: int) -> torch.Tensor:
    """Uniform timesteps, a share of them from the noisier half, where layout is decided."""
    t = torch.randint(0, total, (count,), generator=gen)
    noisy = torch.randint(total // 2, total, (count,), generator=gen)
    pick = torch.rand(count, generator=gen) < args.high_noise_share
    return torch.where(pick, noisy, t)


def unet_caption(scene, rng: random.Random, args) -> str:
    """An empty caption (for guidance), the canonical one, or a freshly worded one."""
    roll = rng.random()
    if roll < args.caption_dropout:
        return ""
    if roll < args.caption_dropout + args.full_captions:
        return full_caption(scene)
    return write_caption(scene, rng)


def _denoising_loss(unet, scheduler, cond, x0, mask, gen: torch.Generator, args) -> torch.Tensor:
    """Min-SNR(5)-weighted epsilon loss on noised latents `x0`; the subject's region (`mask`)
    counts `--subject-weight` times."""
    alphas = scheduler.alphas_cumprod
    snr = alphas / (1 - alphas)
    noise = torch.randn(x0.shape, generator=gen)
    t = timesteps(len(x0), args, gen, scheduler.config.num_train_timesteps)
    pred = unet(scheduler.add_noise(x0, noise, t), t, cond).sample
    weight = torch.clamp(snr[t], max=5.0) / snr[t]
    region = (1.0 + (args.subject_weight - 1.0) * mask).expand_as(pred)
    error = (region * (pred - noise).pow(2)).sum(dim=(1, 2, 3)) / region.sum(dim=(1, 2, 3))
    return (weight * error).mean()


def train_unet(scenes, latent_sets, scaling, clip: CLIPModel, args, ckpt: Checkpoint):
    """Epsilon prediction on cached latents, text from the frozen CLIP text tower, some
    empty captions (for classifier-free guidance), min-SNR(5) loss weights and an EMA.

    `latent_sets` maps a picture size to its latents. The first `--unet-low-minutes` train
    on 64 px pictures in batches twice as big (half the cost a step; layout, colour and
    lighting are learned there), the rest at the native 128 px. The subject's region counts
    `--subject-weight` times in the loss, and `--high-noise-share` of the timesteps come
    from the noisier half: otherwise the background, most of every picture, drowns out where
    the subject is and what shape it has."""
    masks = {size: subject_masks(scenes, size) for size in latent_sets}
    torch.manual_seed(args.seed + 2)
    unet = UNet2DConditionModel(**UNET_CONFIG)
    ema = {k: v.detach().clone() for k, v in unet.state_dict().items()}
    opt = torch.optim.AdamW(unet.parameters(), lr=args.unet_lr, weight_decay=0.0)
    state = ckpt.load() or {}
    if state:
        unet.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        ema = state["ema"]
    step, elapsed = state.get("step", 0), state.get("elapsed", 0.0)
    text_model = clip.text_model.eval()
    tokenizer = load_clip_tokenizer()
    scheduler = DDPMScheduler(**SCHEDULER_CONFIG)
    budget, last_save = Budget(args.unet_steps, args.unet_minutes, elapsed), time.monotonic()
    unet.train()
    while not budget.over(step):
        low = budget.elapsed() < args.unet_low_minutes * 60 and 64 in latent_sets
        latents = latent_sets[64 if low else 128]
        batch = args.unet_batch * (2 if low else 1)
        rng = random.Random(args.seed * 13 + step)
        gen = torch.Generator().manual_seed(args.seed * 17 + step)
        idx = rng.sample(range(len(scenes)), min(batch, len(scenes)))
        captions = [unet_caption(scenes[i], rng, args) for i in idx]
        with torch.no_grad():
            cond = text_model(tokenize(tokenizer, captions, 77)).last_hidden_state
        mask = masks[64 if low else 128][idx]
        loss = _denoising_loss(unet, scheduler, cond, latents[idx] * scaling, mask, gen, args)
        for group in opt.param_groups:
            group["lr"] = _cosine(args.unet_lr, budget.progress(step), (step + 1) / 200)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        _ema_update(ema, unet, step, args.ema_decay)
        step += 1
        if step % 25 == 0:
            size = 64 if low else 128
            log.info(
                "unet step %d %dpx loss %.4f (%.0fs)", step, size, loss.item(), budget.elapsed()
            )
        if time.monotonic() - last_save > args.save_every * 60:
            state = {"model": unet.state_dict(), "opt": opt.state_dict(), "ema": ema}
            ckpt.save({**state, "step": step, "elapsed": budget.elapsed()})
            last_save = time.monotonic()
    state = {"model": unet.state_dict(), "opt": opt.state_dict(), "ema": ema}
    ckpt.save({**state, "step": step, "elapsed": budget.elapsed(), "done": True})
    return unet


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


class AttributeHeads(torch.nn.Module):
    """Linear read-outs of a scene's position, shape, size and colour from a CLIP tower's
    pooled output. A training aid (not shipped): their loss makes the towers keep the
    words and looks that contrastive training leaves blurred."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.heads = torch.nn.ModuleDict(
            {name: torch.nn.Linear(width, len(values)) for name, values in HARD_ATTRIBUTES.items()}
        )

    def loss(self, pooled: torch.Tensor, scenes: list) -> torch.Tensor:
        """Mean cross-entropy over the attributes of `scenes`."""
        total = pooled.new_zeros(())
        for name, head in self.heads.items():
            values = list(HARD_ATTRIBUTES[name])
            target = torch.tensor([values.index(getattr(s, name)) for s in scenes])
            total = total + F.cross_entropy(head(pooled), target)
        return total / len(self.heads)


PHASES = ("joint", "weights")  # the joint stage's runs, in order


@dataclass(frozen=True)
class JointPhase:
    """One run of the joint stage: its budget, learning rates and captions."""

    name: str  # its checkpoint
    steps: int
    minutes: float
    low_minutes: float  # of it at 64 px
    unet_lr: float  # also the read-out heads'
    clip_lr: float
    emphasis_from: float  # minutes into it
    emphasis_share: float
    bare_padding: float  # share of captions without their summary states (`weighted_states`)
    seed: int

    @classmethod
    def from_args(cls, args, name: str) -> JointPhase:
        def arg(key: str):
            return getattr(args, f"{name}_{key}")

        return cls(name, arg("steps"), arg("minutes"), arg("low_minutes"), arg("unet_lr"),
                   arg("clip_lr"), arg("emphasis_from"), arg("emphasis_share"),
                   arg("bare_padding"), args.seed + 1009 * PHASES.index(name))  # fmt: skip

    @property
    def runs(self) -> bool:
        return self.steps > 0 and self.minutes > 0


def train_joint(scenes, images, latent_sets, scaling, clip, start: dict, phase: JointPhase,
                args, ckpt: Checkpoint) -> dict:  # fmt: skip
    """Tune the UNet and the whole CLIP together from `start` (their weights, and the
    read-out heads' where an earlier phase trained them): the denoising loss now reaches the
    text tower, and a contrastive loss every `--joint-clip-every` steps keeps the image tower
    matched to it (the CLIP score uses both).

    Contrastive training alone leaves position and shape words almost where they started,
    since colour and lighting already tell most captions apart; the denoising loss cannot
    be met without them. The checkpoint keeps an EMA of both parts (what export ships);
    the phase's end state is returned as the next phase's start."""
    unet = UNet2DConditionModel(**UNET_CONFIG)
    unet.load_state_dict(start["unet"])
    clip.load_state_dict(start["clip"])
    state = ckpt.load() or {}
    if state:
        unet.load_state_dict(state["unet"])
        clip.load_state_dict(state["clip"])
    ema = state.get("ema") or {
        "unet": {k: v.detach().clone() for k, v in unet.state_dict().items()},
        "clip": {k: v.detach().clone() for k, v in clip.state_dict().items()},
    }
    text_heads = AttributeHeads(clip.config.text_config.hidden_size)
    image_heads = AttributeHeads(clip.config.projection_dim)
    source = state or start
    for key, module in (("text_heads", text_heads), ("image_heads", image_heads)):
        if key in source:
            module.load_state_dict(source[key])
    heads = [*text_heads.parameters(), *image_heads.parameters()]
    groups = [
        {"params": list(unet.parameters()), "base": phase.unet_lr, "weight_decay": 0.0},
        {"params": list(clip.parameters()), "base": phase.clip_lr, "weight_decay": 0.05},
        {"params": heads, "base": phase.unet_lr, "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=phase.unet_lr)
    if state:
        opt.load_state_dict(state["opt"])
    step, elapsed = state.get("step", 0), state.get("elapsed", 0.0)
    masks = {size: subject_masks(scenes, size) for size in latent_sets}
    tokenizer = load_clip_tokenizer()
    scheduler = DDPMScheduler(**SCHEDULER_CONFIG)
    budget, last_save = Budget(phase.steps, phase.minutes, elapsed), time.monotonic()
    unet.train()
    clip.train()
    while not budget.over(step):
        low = budget.elapsed() < phase.low_minutes * 60 and 64 in latent_sets
        size = 64 if low else 128
        batch = args.unet_batch * (2 if low else 1)
        rng = random.Random(phase.seed * 31 + step)
        gen = torch.Generator().manual_seed(phase.seed * 37 + step)
        idx = rng.sample(range(len(scenes)), min(batch, len(scenes)))
        captions = [unet_caption(scenes[i], rng, args) for i in idx]
        if budget.elapsed() >= phase.emphasis_from * 60:
            captions = [
                emphasis_caption(scenes[i], rng) if rng.random() < phase.emphasis_share else c
                for i, c in zip(idx, captions, strict=True)
            ]
        bare = [rng.random() < phase.bare_padding for _ in captions] if phase.bare_padding else None
        cond = weighted_states(clip.text_model, tokenizer, captions, bare)
        x0 = latent_sets[size][idx] * scaling
        loss = _denoising_loss(unet, scheduler, cond, x0, masks[size][idx], gen, args)
        named = [scenes[i] for i in idx[: args.joint_aux_batch]]
        ids = tokenize(tokenizer, [write_caption(s, rng, omit=False) for s in named],
                       args.clip_tokens)  # fmt: skip
        pooled = clip.text_model(ids).pooler_output
        loss = loss + args.joint_aux_weight * text_heads.loss(pooled, named)
        if step % args.joint_clip_every == 0:
            pairs = rng.sample(range(len(scenes)), min(args.clip_batch, len(scenes)))
            ids = tokenize(tokenizer, [write_caption(scenes[i], rng) for i in pairs],
                           args.clip_tokens)  # fmt: skip
            pixels = clip_pixels(to_tensor(images[pairs]), CLIP_VISION_CONFIG["image_size"])
            out = clip(input_ids=ids, pixel_values=pixels, return_loss=True)
            unit = out.image_embeds * clip.config.projection_dim**0.5  # from unit length
            seen = image_heads.loss(unit, [scenes[i] for i in pairs])
            loss = loss + args.joint_clip_weight * out.loss + args.joint_aux_weight * seen
        for group in opt.param_groups:
            group["lr"] = _cosine(group["base"], budget.progress(step), (step + 1) / 100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        torch.nn.utils.clip_grad_norm_(clip.parameters(), 1.0)
        opt.step()
        _ema_update(ema["unet"], unet, step, args.ema_decay)
        _ema_update(ema["clip"], clip, step, args.ema_decay)
        step += 1
        if step % 25 == 0:
            log.info("%s step %d %dpx loss %.4f (%.0fs)", phase.name, step, size, loss.item(),
                     budget.elapsed())  # fmt: skip
        if time.monotonic() - last_save > args.save_every * 60 or budget.over(step):
            state = {"unet": unet.state_dict(), "clip": clip.state_dict(), "ema": ema,
                     "text_heads": text_heads.state_dict(),
                     "image_heads": image_heads.state_dict()}  # fmt: skip
            ckpt.save({**state, "opt": opt.state_dict(), "step": step,
                       "elapsed": budget.elapsed(), "done": budget.over(step)})  # fmt: skip
            last_save = time.monotonic()
    return {**ema, "text_heads": text_heads.state_dict(), "image_heads": image_heads.state_dict()}


# ----------------------------------------------------------------------------- driver


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["all", "clip-hard", "export"])
    p.add_argument("--more", action="store_true", help="train a finished stage further")
    p.add_argument("--raw-unet", action="store_true", help="export: last weights, not the EMA")
    p.add_argument("--workdir", type=Path, default=Path("data/sketch-train"))
    p.add_argument("--out", type=Path, default=Path("assets/models/sketch"))
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--scenes", type=int, default=24000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-every", type=float, default=3.0, help="minutes between checkpoints")
    p.add_argument("--vae-steps", type=int, default=100_000)
    p.add_argument("--vae-minutes", type=float, default=10.0)
    p.add_argument("--vae-batch", type=int, default=16)
    p.add_argument("--vae-crop", type=int, default=64)
    p.add_argument("--vae-lr", type=float, default=1e-3)
    p.add_argument("--clip-from", type=Path, default=None, help="a CLIPModel folder to start from")
    p.add_argument("--clip-steps", type=int, default=100_000)
    p.add_argument("--clip-minutes", type=float, default=7.0)
    p.add_argument("--clip-batch", type=int, default=128)
    p.add_argument("--clip-tokens", type=int, default=32)
    p.add_argument("--clip-lr", type=float, default=1e-3)
    p.add_argument("--unet-steps", type=int, default=1_000_000)
    p.add_argument("--unet-minutes", type=float, default=43.0, help="all UNet training")
    p.add_argument("--unet-low-minutes", type=float, default=33.0, help="of it at 64 px")
    p.add_argument("--unet-batch", type=int, default=32, help="at 128 px; twice at 64 px")
    p.add_argument("--unet-lr", type=float, default=1e-3)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--caption-dropout", type=float, default=0.1)
    p.add_argument("--full-captions", type=float, default=0.3, help="share of canonical captions")
    p.add_argument("--subject-weight", type=float, default=4.0, help="loss weight of the subject")
    p.add_argument("--high-noise-share", type=float, default=0.4, help="timesteps from t >= 500")
    p.add_argument("--joint-steps", type=int, default=1_000_000)
    p.add_argument("--joint-minutes", type=float, default=104.0, help="UNet and CLIP together")
    p.add_argument("--joint-low-minutes", type=float, default=40.0, help="of it at 64 px")
    p.add_argument("--joint-unet-lr", type=float, default=3e-4)
    p.add_argument("--joint-clip-lr", type=float, default=2e-4)
    p.add_argument("--joint-clip-every", type=int, default=4, help="steps between CLIP losses")
    p.add_argument("--joint-clip-weight", type=float, default=0.5)
    p.add_argument("--joint-emphasis-from", type=float, default=90.0, help="minutes into it")
    p.add_argument("--joint-emphasis-share", type=float, default=0.25, help="weighted captions")
    p.add_argument("--joint-bare-padding", type=float, default=0.0, help="see weighted_states")
    p.add_argument("--weights-steps", type=int, default=1_000_000)
    p.add_argument("--weights-minutes", type=float, default=60.0, help="joint, to heed weights")
    p.add_argument("--weights-low-minutes", type=float, default=0.0)
    p.add_argument("--weights-unet-lr", type=float, default=1.5e-4)
    p.add_argument("--weights-clip-lr", type=float, default=5e-5)
    p.add_argument("--weights-emphasis-from", type=float, default=0.0)
    p.add_argument("--weights-emphasis-share", type=float, default=0.3)
    p.add_argument("--weights-bare-padding", type=float, default=0.5)
    p.add_argument("--joint-aux-batch", type=int, default=32, help="captions read back a step")
    p.add_argument("--joint-aux-weight", type=float, default=0.5, help="of the attribute heads")
    return p.parse_args(argv)


def run_all(args: argparse.Namespace) -> None:
    """Render the dataset, then train VAE, CLIP, UNet and the joint stage in turn (each
    resumable)."""
    args.workdir.mkdir(parents=True, exist_ok=True)
    (args.workdir / "args.json").write_text(json.dumps(vars(args), default=str, indent=1))
    started = time.monotonic()
    scenes, images = render_dataset(args.scenes, args.seed)
    log.info("rendered %d scenes in %.0fs", len(scenes), time.monotonic() - started)
    vae = train_vae(images, args, Checkpoint(args.workdir, "vae"))
    clip = train_clip(scenes, images, args, Checkpoint(args.workdir, "clip"))
    latents = encode_latents(vae, images, args.workdir / "latents.pt")
    small = np.stack([render_scene(s, args.seed * 1_000_003 + i, 64) for i, s in enumerate(scenes)])
    latent_sets = {128: latents, 64: encode_latents(vae, small, args.workdir / "latents-64.pt")}
    del small
    scaling = float(1.0 / latents.std())
    log.info("latents %s, scaling factor %.4f", tuple(latents.shape), scaling)
    unet_ckpt = Checkpoint(args.workdir, "unet")
    train_unet(scenes, latent_sets, scaling, clip, args, unet_ckpt)
    start = {"unet": unet_ckpt.load()["ema"], "clip": clip.state_dict()}
    for name in PHASES:
        phase = JointPhase.from_args(args, name)
        if phase.runs:
            ckpt = Checkpoint(args.workdir, name)
            start = train_joint(scenes, images, latent_sets, scaling, clip, start, phase, args,
                                ckpt)  # fmt: skip
    log.info("all stages done in %.0fs", time.monotonic() - started)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.command == "all":
        run_all(args)
    elif args.command == "clip-hard":  # after `all` has a CLIP; the UNet resumes on it
        clip = build_clip()
        clip.load_state_dict(Checkpoint(args.workdir, "clip").load()["model"])
        clip = tune_clip_hard(clip, args, Checkpoint(args.workdir, "clip-hard"))
        state = Checkpoint(args.workdir, "clip").load()
        Checkpoint(args.workdir, "clip").save({**state, "model": clip.state_dict(), "hard": True})
    else:
        from engine.sketch.export import export_model

        export_model(args.workdir, args.out, raw_unet=args.raw_unet)


if __name__ == "__main__":
    main()
