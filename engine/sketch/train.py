"""Train the sketch model on the procedural world: VAE, CLIP, UNet, then UNet and CLIP together
(the `joint` phase, then the `weights` phase that teaches the UNet to heed A1111 weights).

    python -m engine.sketch.train all --args assets/models/sketch/args.json   # the shipped runs
    python -m engine.sketch.train all --workdir data/sketch-train            # one run, defaults
    python -m engine.sketch.train export --workdir data/sketch-train --out assets/models/sketch

Each stage is a `Stage` (its models, optimiser and the loss of one step) run by one loop,
`run_stage`. Every budget and switch is a step count (minutes are only an optional cap), so a
recipe replays on any machine: a stage trains to its step count, saves a checkpoint every few
minutes into the work folder, resumes from it when started again, and trains further when its
step count is raised. Every random draw is seeded by the step number, so a resumed run sees
the same data. Each run adds its settings to the work folder's `args.json`, which `--args`
replays. Runs on a 2-core CPU: the dataset is rendered once and the UNet trains on cached
latents.
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
from transformers import CLIPModel

from engine.pipeline_configs import SKETCH, SKETCH_CLIP_VISION, SKETCH_SIZE, build_sketch_clip
from engine.sketch.checkpoints import JOINT_PHASES, Checkpoint
from engine.sketch.export import export_model
from engine.sketch.training_data import (
    HARD_ATTRIBUTES,
    clip_pixels,
    emphasis_caption,
    hard_negative_group,
    render_dataset,
    subject_masks,
    to_tensor,
    tokenize,
    unet_caption,
    weighted_states,
)
from engine.sketch.world import render_scene, write_caption
from engine.tokenizer import load_clip_tokenizer

log = logging.getLogger("sketch.train")


def build_clip() -> CLIPModel:
    """The sketch CLIP (text and image towers) with fresh random weights."""
    return build_sketch_clip()


# ----------------------------------------------------------------------------- the stage loop


class Budget:
    """A stage's budget: `steps` steps, which also set its learning-rate schedule; `minutes`
    of wall clock in the stage (resumed runs included) is an optional extra cap, which stops
    it early without changing the schedule."""

    def __init__(self, steps: int, minutes: float | None = None, done_seconds: float = 0.0):
        self.steps = steps
        self.seconds = None if minutes is None else minutes * 60
        self.start = time.monotonic() - done_seconds

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def over(self, step: int) -> bool:
        return step >= self.steps or (self.seconds is not None and self.elapsed() >= self.seconds)

    def progress(self, step: int) -> float:
        """How far through the steps, 0 to 1."""
        return step / max(1, self.steps)


def _cosine(base: float, progress: float, warm: float) -> float:
    """A learning rate: linear warm-up, then cosine down to a tenth of `base`."""
    progress = min(1.0, max(0.0, progress))
    return float(base * min(1.0, warm) * (0.1 + 0.45 * (1 + np.cos(np.pi * progress))))


def _ema_update(ema: dict, model: torch.nn.Module, step: int, decay: float) -> None:
    d = min(decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for name, param in model.state_dict().items():
            if param.dtype.is_floating_point:
                ema[name].mul_(d).add_(param, alpha=1 - d)
            else:
                ema[name].copy_(param)


class Stage:
    """One resumable stage of training. A subclass makes its models and optimiser and says
    what one step's loss is and what its checkpoint holds; `run_stage` does the rest."""

    name: str
    warmup = 100  # steps of linear learning-rate warm-up
    log_every = 25
    optimizer: torch.optim.Optimizer
    base_lrs: list[float]  # one per parameter group, the top of its cosine schedule
    training: list[torch.nn.Module]  # put in train mode
    clipped: list[list[torch.nn.Parameter]]  # gradient norms clipped to 1, group by group
    steps: int
    minutes: float | None

    def loss(self, step: int) -> tuple[torch.Tensor, str]:
        """The loss of step `step` and a note for the log."""
        raise NotImplementedError

    def after_step(self, step: int) -> None:
        """Work after the optimiser step (an EMA update)."""

    def state(self) -> dict:
        """What the checkpoint keeps besides the optimiser and the step."""
        raise NotImplementedError

    def load(self, state: dict) -> None:
        raise NotImplementedError


def run_stage(stage: Stage, ckpt: Checkpoint, save_every: float) -> None:
    """Train `stage` from its checkpoint until its budget is spent: learning-rate schedule,
    optimiser step, gradient clipping, EMA, logs, and a checkpoint every `save_every` minutes
    and at the end (marked done)."""
    state = ckpt.load() or {}
    if state:
        stage.load(state)
        stage.optimizer.load_state_dict(state["opt"])
    step = state.get("step", 0)
    budget = Budget(stage.steps, stage.minutes, state.get("elapsed", 0.0))
    if budget.over(step) and state:
        log.info("%s: done at step %d (of %d)", stage.name, step, stage.steps)
        return
    last_save = time.monotonic()
    for module in stage.training:
        module.train()

    def save(done: bool) -> None:
        ckpt.save({**stage.state(), "opt": stage.optimizer.state_dict(), "step": step,
                   "elapsed": budget.elapsed(), "done": done})  # fmt: skip

    while not budget.over(step):
        progress, warm = budget.progress(step), (step + 1) / stage.warmup
        for group, base in zip(stage.optimizer.param_groups, stage.base_lrs, strict=True):
            group["lr"] = _cosine(base, progress, warm)
        loss, note = stage.loss(step)
        stage.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for params in stage.clipped:
            torch.nn.utils.clip_grad_norm_(params, 1.0)
        stage.optimizer.step()
        stage.after_step(step)
        step += 1
        if step % stage.log_every == 0:
            log.info("%s step %d%s loss %.4f (%.0fs)", stage.name, step, note, loss.item(),
                     budget.elapsed())  # fmt: skip
        if time.monotonic() - last_save > save_every * 60 and not budget.over(step):
            save(done=False)
            last_save = time.monotonic()
    save(done=True)


# ----------------------------------------------------------------------------- the stages


def _weighted_l1(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 with subject pixels (far from their row's median colour) counting 6 times: the
    subject is a few percent of a picture, and its colour is what the prompt names."""
    row_median = target.median(dim=3, keepdim=True).values
    subject = ((target - row_median).abs().sum(dim=1, keepdim=True) > 0.3).float()
    weight = 1.0 + 5.0 * subject
    return (weight * (recon - target).abs()).mean() / weight.mean()


class VaeStage(Stage):
    """Subject-weighted L1 reconstruction plus a small KL term on 64 px crops (the VAE is
    convolutional, so crops teach it the whole picture)."""

    name = "vae"

    def __init__(self, images: np.ndarray, args) -> None:
        torch.manual_seed(args.seed)
        self.vae = AutoencoderKL(**SKETCH.vae)
        self.optimizer = torch.optim.AdamW(self.vae.parameters(), lr=args.vae_lr)
        self.base_lrs, self.training, self.clipped = [args.vae_lr], [self.vae], []
        self.steps, self.minutes = args.vae_steps, args.vae_minutes
        self.images, self.seed = images, args.seed
        self.batch, self.crop = args.vae_batch, args.vae_crop

    def loss(self, step: int) -> tuple[torch.Tensor, str]:
        g = np.random.default_rng(self.seed + step)
        idx = g.integers(0, len(self.images), self.batch)
        ys, xs = g.integers(0, SKETCH_SIZE - self.crop + 1, 2)
        batch = to_tensor(self.images[idx, ys : ys + self.crop, xs : xs + self.crop])
        posterior = self.vae.encode(batch).latent_dist
        recon = self.vae.decode(posterior.sample()).sample
        return _weighted_l1(recon, batch) + 1e-6 * posterior.kl().mean(), ""

    def state(self) -> dict:
        return {"model": self.vae.state_dict()}

    def load(self, state: dict) -> None:
        self.vae.load_state_dict(state["model"])


def start_clip(args, start: Path | None) -> CLIPModel:
    """The CLIP the CLIP stage starts from: a trained CLIP folder (`--clip-from`, e.g. the
    shipped one) where given, else fresh random weights."""
    torch.manual_seed(args.seed + 1)
    clip = build_clip()
    if start is not None:
        clip = CLIPModel.from_pretrained(start, dtype=torch.float32)
    return clip


class ClipStage(Stage):
    """Contrastive CLIP loss on (picture, freshly worded caption) pairs."""

    name = "clip"

    def __init__(self, clip: CLIPModel, scenes: list, images: np.ndarray, args) -> None:
        self.clip, self.scenes, self.images, self.args = clip, scenes, images, args
        self.optimizer = torch.optim.AdamW(clip.parameters(), lr=args.clip_lr, weight_decay=0.05)
        self.base_lrs, self.training, self.clipped = [args.clip_lr], [clip], []
        self.steps, self.minutes = args.clip_steps, args.clip_minutes
        self.tokenizer = load_clip_tokenizer()

    def loss(self, step: int) -> tuple[torch.Tensor, str]:
        rng = random.Random(self.args.seed * 7 + step)
        idx = rng.sample(range(len(self.images)), self.args.clip_batch)
        captions = [write_caption(self.scenes[i], rng) for i in idx]
        return self.contrastive_loss(captions, self.images[idx]), ""

    def contrastive_loss(self, captions: list[str], images: np.ndarray) -> torch.Tensor:
        """CLIP's contrastive loss on (uint8 picture, caption) pairs."""
        ids = tokenize(self.tokenizer, captions, self.args.clip_tokens)
        pixels = clip_pixels(to_tensor(images), SKETCH_CLIP_VISION["image_size"])
        return self.clip(input_ids=ids, pixel_values=pixels, return_loss=True).loss

    def state(self) -> dict:
        return {"model": self.clip.state_dict()}

    def load(self, state: dict) -> None:
        self.clip.load_state_dict(state["model"])


class ClipHardStage(ClipStage):
    """Fine-tune CLIP contrastively on batches of hard-negative groups (freshly rendered).
    Contrastive training on random batches learns colour and lighting, which tell most
    captions apart, and hardly anything about position or shape; the UNet, conditioned on
    the text tower, then cannot place or shape the subject."""

    name, warmup, log_every = "clip-hard", 20, 10

    def __init__(self, clip: CLIPModel, args) -> None:
        super().__init__(clip, [], np.zeros(0), args)  # it renders its own scenes

    def loss(self, step: int) -> tuple[torch.Tensor, str]:
        rng = random.Random(self.args.seed * 29 + step)
        groups = self.args.clip_batch // (1 + len(HARD_ATTRIBUTES))
        scenes = [s for _ in range(groups) for s in hard_negative_group(rng)]
        images = np.stack([render_scene(s, rng.randrange(1 << 30)) for s in scenes])
        captions = [write_caption(s, rng, omit=False) for s in scenes]
        return self.contrastive_loss(captions, images), ""


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


def timesteps(count: int, gen: torch.Generator, total: int, noisy_share: float) -> torch.Tensor:
    """Uniform timesteps, `noisy_share` of them from the noisier half, where layout is
    decided."""
    t = torch.randint(0, total, (count,), generator=gen)
    noisy = torch.randint(total // 2, total, (count,), generator=gen)
    pick = torch.rand(count, generator=gen) < noisy_share
    return torch.where(pick, noisy, t)


def _denoising_loss(unet, scheduler, cond, x0, mask, gen: torch.Generator, subject_weight: float,
                    noisy_share: float) -> torch.Tensor:  # fmt: skip
    """Min-SNR(5)-weighted epsilon loss on noised latents `x0`; the subject's region (`mask`)
    counts `subject_weight` times, and `noisy_share` of the timesteps come from the noisier
    half."""
    alphas = scheduler.alphas_cumprod
    snr = alphas / (1 - alphas)
    noise = torch.randn(x0.shape, generator=gen)
    t = timesteps(len(x0), gen, scheduler.config.num_train_timesteps, noisy_share)
    pred = unet(scheduler.add_noise(x0, noise, t), t, cond).sample
    weight = torch.clamp(snr[t], max=5.0) / snr[t]
    region = (1.0 + (subject_weight - 1.0) * mask).expand_as(pred)
    error = (region * (pred - noise).pow(2)).sum(dim=(1, 2, 3)) / region.sum(dim=(1, 2, 3))
    return (weight * error).mean()


class UnetStage(Stage):
    """Epsilon prediction on cached latents, text from the frozen CLIP text tower, some
    empty captions (for classifier-free guidance), min-SNR(5) loss weights and an EMA.

    `latent_sets` maps a picture size to its latents. The first `--unet-low-steps` train on
    64 px pictures in batches twice as big (half the cost a step; layout, colour and lighting
    are learned there), the rest at the native 128 px. From step `--unet-subject-from` on,
    the subject's region counts `--subject-weight` times in the loss, and
    `--high-noise-share` of the timesteps come from the noisier half: otherwise the
    background, most of every picture, drowns out where the subject is and what shape it
    has."""

    name, warmup = "unet", 200

    def __init__(self, scenes, latent_sets: dict, scaling: float, clip: CLIPModel, args) -> None:
        self.masks = {size: subject_masks(scenes, size) for size in latent_sets}
        torch.manual_seed(args.seed + 2)
        self.unet = UNet2DConditionModel(**SKETCH.unet)
        self.ema = {k: v.detach().clone() for k, v in self.unet.state_dict().items()}
        self.optimizer = torch.optim.AdamW(self.unet.parameters(), lr=args.unet_lr,
                                           weight_decay=0.0)  # fmt: skip
        self.base_lrs, self.training = [args.unet_lr], [self.unet]
        self.clipped = [list(self.unet.parameters())]
        self.steps, self.minutes = args.unet_steps, args.unet_minutes
        self.scenes, self.latent_sets, self.scaling, self.args = scenes, latent_sets, scaling, args
        self.text_model = clip.text_model.eval()
        self.tokenizer = load_clip_tokenizer()
        self.scheduler = DDPMScheduler(**SKETCH.scheduler)

    def loss(self, step: int) -> tuple[torch.Tensor, str]:
        args = self.args
        low = step < args.unet_low_steps and 64 in self.latent_sets
        size = 64 if low else SKETCH_SIZE
        batch = args.unet_batch * (2 if low else 1)
        rng = random.Random(args.seed * 13 + step)
        gen = torch.Generator().manual_seed(args.seed * 17 + step)
        idx = rng.sample(range(len(self.scenes)), min(batch, len(self.scenes)))
        captions = [unet_caption(self.scenes[i], rng, args.caption_dropout, args.full_captions)
                    for i in idx]  # fmt: skip
        with torch.no_grad():
            cond = self.text_model(tokenize(self.tokenizer, captions, 77)).last_hidden_state
        x0 = self.latent_sets[size][idx] * self.scaling
        subject = step >= args.unet_subject_from
        loss = _denoising_loss(self.unet, self.scheduler, cond, x0, self.masks[size][idx], gen,
                               args.subject_weight if subject else 1.0,
                               args.high_noise_share if subject else 0.0)  # fmt: skip
        return loss, f" {size}px"

    def after_step(self, step: int) -> None:
        _ema_update(self.ema, self.unet, step, self.args.ema_decay)

    def state(self) -> dict:
        return {"model": self.unet.state_dict(), "ema": self.ema}

    def load(self, state: dict) -> None:
        self.unet.load_state_dict(state["model"])
        self.ema = state["ema"]


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


@dataclass(frozen=True)
class JointPhase:
    """One run of the joint stage: its budget, learning rates and captions."""

    name: str  # its checkpoint
    steps: int
    minutes: float | None  # an optional wall-clock cap
    low_steps: int  # its first steps at 64 px
    unet_lr: float  # also the read-out heads'
    clip_lr: float
    emphasis_from: int  # the step from which `emphasis_share` of the captions are weighted
    emphasis_share: float
    bare_padding: float  # share of captions without their summary states (`weighted_states`)
    seed: int

    @classmethod
    def from_args(cls, args, name: str) -> JointPhase:
        def arg(key: str):
            return getattr(args, f"{name}_{key}")

        return cls(name, arg("steps"), arg("minutes"), arg("low_steps"), arg("unet_lr"),
                   arg("clip_lr"), arg("emphasis_from"), arg("emphasis_share"),
                   arg("bare_padding"), args.seed + 1009 * JOINT_PHASES.index(name))  # fmt: skip

    @property
    def runs(self) -> bool:
        return self.steps > 0


class JointStage(Stage):
    """Tune the UNet and the whole CLIP together from `start` (their weights, and the
    read-out heads' where an earlier phase trained them): the denoising loss now reaches the
    text tower, and a contrastive loss every `--joint-clip-every` steps keeps the image tower
    matched to it (the CLIP score uses both).

    Contrastive training alone leaves position and shape words almost where they started,
    since colour and lighting already tell most captions apart; the denoising loss cannot
    be met without them. The checkpoint keeps an EMA of both parts (what export ships);
    `result()` is the next phase's start."""

    def __init__(self, scenes, images, latent_sets: dict, scaling: float, clip: CLIPModel,
                 start: dict, phase: JointPhase, args) -> None:  # fmt: skip
        self.name, self.phase, self.args = phase.name, phase, args
        self.unet = UNet2DConditionModel(**SKETCH.unet)
        self.unet.load_state_dict(start["unet"])
        clip.load_state_dict(start["clip"])
        self.clip = clip
        self.ema = {
            "unet": {k: v.detach().clone() for k, v in self.unet.state_dict().items()},
            "clip": {k: v.detach().clone() for k, v in clip.state_dict().items()},
        }
        self.text_heads = AttributeHeads(clip.config.text_config.hidden_size)
        self.image_heads = AttributeHeads(clip.config.projection_dim)
        self._load_heads(start)
        heads = [*self.text_heads.parameters(), *self.image_heads.parameters()]
        groups = [
            {"params": list(self.unet.parameters()), "weight_decay": 0.0},
            {"params": list(clip.parameters()), "weight_decay": 0.05},
            {"params": heads, "weight_decay": 0.0},
        ]
        self.optimizer = torch.optim.AdamW(groups, lr=phase.unet_lr)
        self.base_lrs = [phase.unet_lr, phase.clip_lr, phase.unet_lr]
        self.training = [self.unet, clip]
        self.clipped = [groups[0]["params"], groups[1]["params"]]
        self.steps, self.minutes = phase.steps, phase.minutes
        self.scenes, self.images = scenes, images
        self.latent_sets, self.scaling = latent_sets, scaling
        self.masks = {size: subject_masks(scenes, size) for size in latent_sets}
        self.tokenizer = load_clip_tokenizer()
        self.scheduler = DDPMScheduler(**SKETCH.scheduler)

    def _load_heads(self, source: dict) -> None:
        for key, module in (("text_heads", self.text_heads), ("image_heads", self.image_heads)):
            if key in source:
                module.load_state_dict(source[key])

    def loss(self, step: int) -> tuple[torch.Tensor, str]:
        phase, args, scenes, tokenizer = self.phase, self.args, self.scenes, self.tokenizer
        low = step < phase.low_steps and 64 in self.latent_sets
        size = 64 if low else SKETCH_SIZE
        batch = args.unet_batch * (2 if low else 1)
        rng = random.Random(phase.seed * 31 + step)
        gen = torch.Generator().manual_seed(phase.seed * 37 + step)
        idx = rng.sample(range(len(scenes)), min(batch, len(scenes)))
        captions = [unet_caption(scenes[i], rng, args.caption_dropout, args.full_captions)
                    for i in idx]  # fmt: skip
        if step >= phase.emphasis_from:
            captions = [
                emphasis_caption(scenes[i], rng) if rng.random() < phase.emphasis_share else c
                for i, c in zip(idx, captions, strict=True)
            ]
        bare = [rng.random() < phase.bare_padding for _ in captions] if phase.bare_padding else None
        cond = weighted_states(self.clip.text_model, tokenizer, captions, bare)
        x0 = self.latent_sets[size][idx] * self.scaling
        loss = _denoising_loss(self.unet, self.scheduler, cond, x0, self.masks[size][idx], gen,
                               args.subject_weight, args.high_noise_share)  # fmt: skip
        named = [scenes[i] for i in idx[: args.joint_aux_batch]]
        ids = tokenize(tokenizer, [write_caption(s, rng, omit=False) for s in named],
                       args.clip_tokens)  # fmt: skip
        pooled = self.clip.text_model(ids).pooler_output
        loss = loss + args.joint_aux_weight * self.text_heads.loss(pooled, named)
        if step % args.joint_clip_every == 0:
            pairs = rng.sample(range(len(scenes)), min(args.clip_batch, len(scenes)))
            ids = tokenize(tokenizer, [write_caption(scenes[i], rng) for i in pairs],
                           args.clip_tokens)  # fmt: skip
            pixels = clip_pixels(to_tensor(self.images[pairs]), SKETCH_CLIP_VISION["image_size"])
            out = self.clip(input_ids=ids, pixel_values=pixels, return_loss=True)
            unit = out.image_embeds * self.clip.config.projection_dim**0.5  # from unit length
            seen = self.image_heads.loss(unit, [scenes[i] for i in pairs])
            loss = loss + args.joint_clip_weight * out.loss + args.joint_aux_weight * seen
        return loss, f" {size}px"

    def after_step(self, step: int) -> None:
        _ema_update(self.ema["unet"], self.unet, step, self.args.ema_decay)
        _ema_update(self.ema["clip"], self.clip, step, self.args.ema_decay)

    def state(self) -> dict:
        return {"unet": self.unet.state_dict(), "clip": self.clip.state_dict(), "ema": self.ema,
                "text_heads": self.text_heads.state_dict(),
                "image_heads": self.image_heads.state_dict()}  # fmt: skip

    def load(self, state: dict) -> None:
        self.unet.load_state_dict(state["unet"])
        self.clip.load_state_dict(state["clip"])
        self.ema = state["ema"]
        self._load_heads(state)

    def result(self) -> dict:
        """The EMA weights and the read-out heads: where the next phase starts."""
        return {**self.ema, "text_heads": self.text_heads.state_dict(),
                "image_heads": self.image_heads.state_dict()}  # fmt: skip


# ----------------------------------------------------------------------------- driver

# Settings of where and how a run goes, not of what it trains: not recorded, not replayed.
MACHINE_SETTINGS = ("command", "args", "workdir", "out", "threads", "save_every", "raw_unet")


def build_parser() -> argparse.ArgumentParser:
    """The command line; the training defaults are the shipped model's settings as its last
    run had them (`assets/models/sketch/args.json` has every run)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["all", "clip-hard", "export"])
    p.add_argument("--args", type=Path, default=None,
                   help="all: replay the runs recorded in this args.json, in order")  # fmt: skip
    p.add_argument("--raw-unet", action="store_true", help="export: last weights, not the EMA")
    p.add_argument("--workdir", type=Path, default=Path("data/sketch-train"))
    p.add_argument("--out", type=Path, default=Path("assets/models/sketch"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-every", type=float, default=3.0, help="minutes between checkpoints")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--scenes", type=int, default=24000)
    minutes = "an optional wall-clock cap on the stage (off by default)"
    p.add_argument("--vae-steps", type=int, default=1606)
    p.add_argument("--vae-minutes", type=float, default=None, help=minutes)
    p.add_argument("--vae-batch", type=int, default=16)
    p.add_argument("--vae-crop", type=int, default=64)
    p.add_argument("--vae-lr", type=float, default=1e-3)
    p.add_argument("--clip-from", type=Path, default=None, help="a CLIPModel folder to start from")
    p.add_argument("--clip-steps", type=int, default=234)
    p.add_argument("--clip-minutes", type=float, default=None, help=minutes)
    p.add_argument("--clip-batch", type=int, default=128)
    p.add_argument("--clip-tokens", type=int, default=32)
    p.add_argument("--clip-lr", type=float, default=1e-3)
    p.add_argument("--unet-steps", type=int, default=5050)
    p.add_argument("--unet-minutes", type=float, default=None, help=minutes)
    p.add_argument("--unet-low-steps", type=int, default=4326, help="the first steps, at 64 px")
    p.add_argument("--unet-subject-from", type=int, default=2075,
                   help="the step from which the subject weighs more and noisier timesteps "
                   "are drawn more often")  # fmt: skip
    p.add_argument("--unet-batch", type=int, default=32, help="at 128 px; twice at 64 px")
    p.add_argument("--unet-lr", type=float, default=1e-3)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--caption-dropout", type=float, default=0.1)
    p.add_argument("--full-captions", type=float, default=0.3, help="share of canonical captions")
    p.add_argument("--subject-weight", type=float, default=4.0, help="loss weight of the subject")
    p.add_argument("--high-noise-share", type=float, default=0.4, help="timesteps from t >= 500")
    p.add_argument("--joint-steps", type=int, default=6367, help="UNet and CLIP together")
    p.add_argument("--joint-minutes", type=float, default=None, help=minutes)
    p.add_argument("--joint-low-steps", type=int, default=2290, help="the first steps, at 64 px")
    p.add_argument("--joint-unet-lr", type=float, default=3e-4)
    p.add_argument("--joint-clip-lr", type=float, default=2e-4)
    p.add_argument("--joint-clip-every", type=int, default=4, help="steps between CLIP losses")
    p.add_argument("--joint-clip-weight", type=float, default=0.5)
    p.add_argument("--joint-emphasis-from", type=int, default=5475,
                   help="the step from which captions are weighted")  # fmt: skip
    p.add_argument("--joint-emphasis-share", type=float, default=0.25, help="weighted captions")
    p.add_argument("--joint-bare-padding", type=float, default=0.0, help="see weighted_states")
    p.add_argument("--weights-steps", type=int, default=6371, help="joint, to heed weights")
    p.add_argument("--weights-minutes", type=float, default=None, help=minutes)
    p.add_argument("--weights-low-steps", type=int, default=0)
    p.add_argument("--weights-unet-lr", type=float, default=1.5e-4)
    p.add_argument("--weights-clip-lr", type=float, default=5e-5)
    p.add_argument("--weights-emphasis-from", type=int, default=0)
    p.add_argument("--weights-emphasis-share", type=float, default=0.5)
    p.add_argument("--weights-bare-padding", type=float, default=0.5)
    p.add_argument("--joint-aux-batch", type=int, default=32, help="captions read back a step")
    p.add_argument("--joint-aux-weight", type=float, default=0.5, help="of the attribute heads")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def training_settings(args: argparse.Namespace) -> dict:
    """What a run trains with (everything but `MACHINE_SETTINGS`), as JSON values."""
    return {
        key: str(value) if isinstance(value, Path) else value
        for key, value in vars(args).items()
        if key not in MACHINE_SETTINGS
    }


def record_run(args: argparse.Namespace) -> None:
    """Add this run's settings to `workdir/args.json` (`{"runs": [...]}`, oldest first), unless
    they are the last run's: the file replays the work folder's training with `--args`."""
    path = args.workdir / "args.json"
    try:
        runs = json.loads(path.read_text())["runs"]
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or an older layout
        runs = []
    settings = training_settings(args)
    if not runs or runs[-1] != settings:
        runs.append(settings)
        path.write_text(json.dumps({"runs": runs}, indent=1) + "\n")


def recorded_runs(path: Path, machine: argparse.Namespace) -> list[argparse.Namespace]:
    """The runs of an args.json as settings to train with: each run's recorded settings over
    the defaults, with the work folder, threads and checkpoint interval of `machine`."""
    try:
        runs = json.loads(Path(path).read_text(encoding="utf-8"))["runs"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"{path}: not a readable args.json with a list of runs ({exc})") from exc
    known = set(training_settings(parse_args(["all"])))
    replay = []
    for number, run in enumerate(runs, 1):
        unknown = sorted(set(run) - known) if isinstance(run, dict) else ["(not a mapping)"]
        if unknown:
            raise SystemExit(f"{path}: run {number} has unknown settings: {', '.join(unknown)}")
        flags = [token for key, value in run.items() if value is not None
                 for token in (f"--{key.replace('_', '-')}", str(value))]  # fmt: skip
        args = parse_args(["all", *flags])
        for key in MACHINE_SETTINGS:
            setattr(args, key, getattr(machine, key))
        replay.append(args)
    return replay


def run_all(args: argparse.Namespace) -> None:
    """Render the dataset, then train VAE, CLIP, UNet and the joint stage's phases in turn;
    each resumes from its checkpoint and stops at its step count."""
    args.workdir.mkdir(parents=True, exist_ok=True)
    record_run(args)
    started = time.monotonic()
    scenes, images = render_dataset(args.scenes, args.seed)
    log.info("rendered %d scenes in %.0fs", len(scenes), time.monotonic() - started)
    vae = VaeStage(images, args)
    run_stage(vae, Checkpoint(args.workdir, "vae"), args.save_every)
    clip_ckpt = Checkpoint(args.workdir, "clip")
    start = None if clip_ckpt.path.is_file() else args.clip_from
    clip = ClipStage(start_clip(args, start), scenes, images, args)
    run_stage(clip, clip_ckpt, args.save_every)
    latents = encode_latents(vae.vae.eval(), images, args.workdir / "latents.pt")
    small = np.stack([render_scene(s, args.seed * 1_000_003 + i, 64) for i, s in enumerate(scenes)])
    latent_sets = {128: latents, 64: encode_latents(vae.vae, small, args.workdir / "latents-64.pt")}
    del small
    scaling = float(1.0 / latents.std())
    log.info("latents %s, scaling factor %.4f", tuple(latents.shape), scaling)
    unet = UnetStage(scenes, latent_sets, scaling, clip.clip.eval(), args)
    run_stage(unet, Checkpoint(args.workdir, "unet"), args.save_every)
    start = {"unet": unet.ema, "clip": clip.clip.state_dict()}
    for name in JOINT_PHASES:
        phase = JointPhase.from_args(args, name)
        if phase.runs:
            joint = JointStage(scenes, images, latent_sets, scaling, clip.clip, start, phase, args)
            run_stage(joint, Checkpoint(args.workdir, name), args.save_every)
            start = joint.result()
    log.info("all stages done in %.0fs", time.monotonic() - started)


def tune_clip_hard(args: argparse.Namespace) -> None:
    """Tune the trained CLIP on hard negatives (`clip-hard`, after `all` has a CLIP); the
    tuned weights replace the CLIP stage's, and the UNet resumes on them."""
    clip_ckpt = Checkpoint(args.workdir, "clip")
    state = clip_ckpt.load()
    clip = build_clip()
    clip.load_state_dict(state["model"])
    hard = ClipHardStage(clip, args)
    run_stage(hard, Checkpoint(args.workdir, "clip-hard"), args.save_every)
    clip_ckpt.save({**state, "model": clip.state_dict(), "hard": True})


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.command == "all" and args.args is not None:
        given = _changed_training_settings(args)
        if given:
            raise SystemExit(f"--args replays the recorded runs as they were; change "
                             f"{', '.join(sorted(given))} in the file instead")  # fmt: skip
        runs = recorded_runs(args.args, args)
        for number, run in enumerate(runs, 1):
            log.info("run %d of %d from %s", number, len(runs), args.args)
            run_all(run)
    elif args.command == "all":
        run_all(args)
    elif args.command == "clip-hard":
        tune_clip_hard(args)
    else:
        export_model(args.workdir, args.out, raw_unet=args.raw_unet)


def _changed_training_settings(args: argparse.Namespace) -> set[str]:
    """The training settings `args` has away from their defaults."""
    defaults = training_settings(parse_args(["all"]))
    return {key for key, value in training_settings(args).items() if value != defaults[key]}


if __name__ == "__main__":
    main()
