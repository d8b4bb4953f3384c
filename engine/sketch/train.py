"""Train the sketch model on the procedural world: VAE, then CLIP, then the UNet.

    python -m engine.sketch.train all --workdir data/sketch-train --unet-minutes 60
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
    SCHEDULER_CONFIG,
    UNET_CONFIG,
    VAE_CONFIG,
)
from engine.sketch.world import render_scene, sample_scene, write_caption
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
        for group in opt.param_groups:
            group["lr"] = args.vae_lr
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
            ckpt.save(
                {
                    "model": vae.state_dict(),
                    "opt": opt.state_dict(),
                    "step": step,
                    "elapsed": budget.elapsed(),
                }
            )
            last_save = time.monotonic()
    ckpt.save(
        {
            "model": vae.state_dict(),
            "opt": opt.state_dict(),
            "step": step,
            "elapsed": budget.elapsed(),
            "done": True,
        }
    )
    return vae.eval()


def build_clip() -> CLIPModel:
    config = CLIPConfig(
        text_config=CLIP_TEXT_CONFIG,
        vision_config=CLIP_VISION_CONFIG,
        projection_dim=CLIP_PROJECTION_DIM,
    )
    return CLIPModel(config)


def train_clip(scenes: list, images: np.ndarray, args, ckpt: Checkpoint) -> CLIPModel:
    """Contrastive CLIP loss on (picture, freshly worded caption) pairs."""
    torch.manual_seed(args.seed + 1)
    clip = build_clip()
    tokenizer = load_clip_tokenizer()
    opt = torch.optim.AdamW(clip.parameters(), lr=args.clip_lr, weight_decay=0.05)
    state = ckpt.load() or {}
    if state:
        clip.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
    step, elapsed = state.get("step", 0), state.get("elapsed", 0.0)
    if state.get("done") and not args.more:
        return clip.eval()
    if args.lock_text:  # keep the text tower the UNet was trained on; train the rest
        clip.text_model.requires_grad_(False)
    size = CLIP_VISION_CONFIG["image_size"]
    budget, last_save = Budget(args.clip_steps, args.clip_minutes, elapsed), time.monotonic()
    clip.train()
    while not budget.over(step):
        rng = random.Random(args.seed * 7 + step)
        idx = rng.sample(range(len(images)), args.clip_batch)
        captions = [write_caption(scenes[i], rng) for i in idx]
        ids = tokenize(tokenizer, captions, args.clip_tokens)
        pixels = clip_pixels(to_tensor(images[idx]), size)
        warm = min(1.0, (step + 1) / 100)
        for group in opt.param_groups:
            group["lr"] = args.clip_lr * warm
        out = clip(input_ids=ids, pixel_values=pixels, return_loss=True)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
        step += 1
        if step % 25 == 0:
            log.info("clip step %d loss %.4f (%.0fs)", step, out.loss.item(), budget.elapsed())
        if time.monotonic() - last_save > args.save_every * 60:
            ckpt.save(
                {
                    "model": clip.state_dict(),
                    "opt": opt.state_dict(),
                    "step": step,
                    "elapsed": budget.elapsed(),
                }
            )
            last_save = time.monotonic()
    ckpt.save(
        {
            "model": clip.state_dict(),
            "opt": opt.state_dict(),
            "step": step,
            "elapsed": budget.elapsed(),
            "done": True,
        }
    )
    return clip.eval()


def encode_latents(
    vae: AutoencoderKL, images: np.ndarray, path: Path
) -> tuple[torch.Tensor, float]:
    """Posterior means of every picture, and the scaling factor that gives them unit std."""
    if path.is_file():
        saved = torch.load(path, map_location="cpu")
        return saved["latents"], saved["scaling_factor"]
    chunks = []
    with torch.no_grad():
        for start in range(0, len(images), 64):
            chunks.append(vae.encode(to_tensor(images[start : start + 64])).latent_dist.mode())
            if start % 1280 == 0:
                log.info("encoded %d / %d", start, len(images))
    latents = torch.cat(chunks)
    scaling = float(1.0 / latents.std())
    torch.save({"latents": latents, "scaling_factor": scaling}, path)
    return latents, scaling


def train_decoder(images, latents, args, ckpt: Checkpoint, vae: AutoencoderKL) -> AutoencoderKL:
    """Fine-tune only the VAE decoder on the cached latents (the encoder, and so the latents
    the UNet learns, stay fixed); runs beside the UNet stage."""
    state = ckpt.load() or {}
    params = [*vae.decoder.parameters(), *vae.post_quant_conv.parameters()]
    opt = torch.optim.AdamW(params, lr=args.vae_lr)
    if state:
        vae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
    step, elapsed = state.get("step", 0), state.get("elapsed", 0.0)
    budget, last_save = Budget(args.decoder_steps, args.decoder_minutes, elapsed), time.monotonic()
    vae.decoder.train()
    while not budget.over(step):
        g = np.random.default_rng(args.seed * 19 + step)
        idx = g.integers(0, len(images), args.decoder_batch)
        target = to_tensor(images[idx])
        recon = vae.decode(latents[idx]).sample
        loss = _weighted_l1(recon, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 25 == 0:
            log.info("decoder step %d loss %.4f (%.0fs)", step, loss.item(), budget.elapsed())
        if time.monotonic() - last_save > args.save_every * 60 or budget.over(step):
            ckpt.save(
                {
                    "model": vae.state_dict(),
                    "opt": opt.state_dict(),
                    "step": step,
                    "elapsed": budget.elapsed(),
                }
            )
            last_save = time.monotonic()
    return vae.eval()


def refine_autoencoder(images: np.ndarray, args, ckpt: Checkpoint, vae: AutoencoderKL):
    """Train encoder and decoder further as a plain (deterministic) autoencoder: without the
    posterior's sampling noise the encoder learns the subject's colour far faster."""
    state = ckpt.load() or {}
    opt = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr)
    if state:
        vae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
    step, elapsed = state.get("step", 0), state.get("elapsed", 0.0)
    budget, last_save = Budget(args.vae_steps, args.vae_minutes, elapsed), time.monotonic()
    vae.train()
    while not budget.over(step):
        g = np.random.default_rng(args.seed * 23 + step)
        idx = g.integers(0, len(images), args.vae_batch)
        ys, xs = g.integers(0, 128 - args.vae_crop + 1, 2)
        batch = to_tensor(images[idx, ys : ys + args.vae_crop, xs : xs + args.vae_crop])
        recon = vae.decode(vae.encode(batch).latent_dist.mode()).sample
        loss = _weighted_l1(recon, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 25 == 0:
            log.info("refine step %d loss %.4f (%.0fs)", step, loss.item(), budget.elapsed())
        if time.monotonic() - last_save > args.save_every * 60 or budget.over(step):
            state = {"model": vae.state_dict(), "opt": opt.state_dict(), "step": step}
            ckpt.save({**state, "elapsed": budget.elapsed()})
            last_save = time.monotonic()
    return vae.eval()


def train_unet(scenes, latents, scaling, clip: CLIPModel, args, ckpt: Checkpoint):
    """Epsilon prediction on cached latents, text from the frozen CLIP text tower,
    10 % empty captions (for classifier-free guidance), min-SNR(5) loss weights, an EMA."""
    torch.manual_seed(args.seed + 2)
    unet = UNet2DConditionModel(**UNET_CONFIG)
    ema = {k: v.detach().clone() for k, v in unet.state_dict().items()}
    opt = torch.optim.AdamW(unet.parameters(), lr=args.unet_lr, weight_decay=0.0)
    state = ckpt.load() or {}
    if state:
        unet.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        ema = state["ema"]
        if args.reset_ema:  # e.g. after the latents changed: forget the old average
            ema = {k: v.detach().clone() for k, v in unet.state_dict().items()}
    step, elapsed = state.get("step", 0), state.get("elapsed", 0.0)
    text_model = clip.text_model.eval()
    tokenizer = load_clip_tokenizer()
    scheduler = DDPMScheduler(**SCHEDULER_CONFIG)
    alphas = scheduler.alphas_cumprod
    snr = alphas / (1 - alphas)
    budget, last_save = Budget(args.unet_steps, args.unet_minutes, elapsed), time.monotonic()
    unet.train()
    while not budget.over(step):
        rng = random.Random(args.seed * 13 + step)
        gen = torch.Generator().manual_seed(args.seed * 17 + step)
        idx = rng.sample(range(len(scenes)), args.unet_batch)
        captions = [
            "" if rng.random() < args.caption_dropout else write_caption(scenes[i], rng)
            for i in idx
        ]
        with torch.no_grad():
            cond = text_model(tokenize(tokenizer, captions, 77)).last_hidden_state
        x0 = latents[idx] * scaling
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (len(idx),), generator=gen)
        noisy = scheduler.add_noise(x0, noise, t)
        pred = unet(noisy, t, cond).sample
        weight = torch.clamp(snr[t], max=5.0) / snr[t]
        loss = (weight * (pred - noise).pow(2).mean(dim=(1, 2, 3))).mean()
        warm = min(1.0, (step + 1) / 200)
        for group in opt.param_groups:
            group["lr"] = args.unet_lr * warm
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        _ema_update(ema, unet, step, args.ema_decay)
        step += 1
        if step % 25 == 0:
            log.info("unet step %d loss %.4f (%.0fs)", step, loss.item(), budget.elapsed())
        if time.monotonic() - last_save > args.save_every * 60:
            ckpt.save(
                {
                    "model": unet.state_dict(),
                    "opt": opt.state_dict(),
                    "ema": ema,
                    "step": step,
                    "elapsed": budget.elapsed(),
                }
            )
            last_save = time.monotonic()
    ckpt.save(
        {
            "model": unet.state_dict(),
            "opt": opt.state_dict(),
            "ema": ema,
            "step": step,
            "elapsed": budget.elapsed(),
            "done": True,
        }
    )
    return unet


# ----------------------------------------------------------------------------- driver


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["all", "vae", "clip", "decoder", "refine", "export"])
    p.add_argument(
        "--more", action="store_true", help="train a finished VAE or CLIP further (to its budget)"
    )
    p.add_argument("--raw-unet", action="store_true", help="export: last weights, not the EMA")
    p.add_argument(
        "--reset-ema", action="store_true", help="UNet: restart the EMA from the weights"
    )
    p.add_argument(
        "--lock-text", action="store_true", help="CLIP: freeze the text tower, train the rest"
    )
    p.add_argument("--workdir", type=Path, default=Path("data/sketch-train"))
    p.add_argument("--out", type=Path, default=Path("assets/models/sketch"))
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--scenes", type=int, default=12000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-every", type=float, default=3.0, help="minutes between checkpoints")
    p.add_argument("--vae-steps", type=int, default=100_000)
    p.add_argument("--vae-minutes", type=float, default=6.0)
    p.add_argument("--vae-batch", type=int, default=16)
    p.add_argument("--vae-crop", type=int, default=64)
    p.add_argument("--vae-lr", type=float, default=6e-4)
    p.add_argument("--decoder-steps", type=int, default=100_000)
    p.add_argument("--decoder-minutes", type=float, default=30.0)
    p.add_argument("--decoder-batch", type=int, default=4)
    p.add_argument("--clip-steps", type=int, default=100_000)
    p.add_argument("--clip-minutes", type=float, default=7.0)
    p.add_argument("--clip-batch", type=int, default=128)
    p.add_argument("--clip-tokens", type=int, default=32)
    p.add_argument("--clip-lr", type=float, default=1e-3)
    p.add_argument("--unet-steps", type=int, default=1_000_000)
    p.add_argument("--unet-minutes", type=float, default=60.0)
    p.add_argument("--unet-batch", type=int, default=32)
    p.add_argument("--unet-lr", type=float, default=5e-4)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--caption-dropout", type=float, default=0.1)
    return p.parse_args(argv)


def run_all(args: argparse.Namespace) -> None:
    """Render the dataset, then train VAE, CLIP and UNet in turn (each resumable)."""
    args.workdir.mkdir(parents=True, exist_ok=True)
    (args.workdir / "args.json").write_text(json.dumps(vars(args), default=str, indent=1))
    started = time.monotonic()
    stages_done = (
        all((Checkpoint(args.workdir, name).load() or {}).get("done") for name in ("vae", "clip"))
        and (args.workdir / "latents.pt").is_file()
    )
    if stages_done:  # only the UNet is left: it needs the scenes, not their pictures
        rng = random.Random(args.seed)
        scenes, images = [sample_scene(rng) for _ in range(args.scenes)], None
        clip = train_clip(scenes, images, args, Checkpoint(args.workdir, "clip"))
        saved = torch.load(args.workdir / "latents.pt", map_location="cpu")
        latents, scaling = saved["latents"], saved["scaling_factor"]
    else:
        scenes, images = render_dataset(args.scenes, args.seed)
        log.info("rendered %d scenes in %.0fs", len(scenes), time.monotonic() - started)
        vae = train_vae(images, args, Checkpoint(args.workdir, "vae"))
        clip = train_clip(scenes, images, args, Checkpoint(args.workdir, "clip"))
        latents, scaling = encode_latents(vae, images, args.workdir / "latents.pt")
        del images
    log.info("latents %s, scaling factor %.4f", tuple(latents.shape), scaling)
    train_unet(scenes, latents, scaling, clip, args, Checkpoint(args.workdir, "unet"))
    log.info("all stages done in %.0fs", time.monotonic() - started)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.command == "all":
        run_all(args)
    elif args.command == "decoder":  # after `all` has cached the latents
        _, images = render_dataset(args.scenes, args.seed)
        saved = torch.load(args.workdir / "latents.pt", map_location="cpu")
        vae = AutoencoderKL(**VAE_CONFIG)
        vae.load_state_dict(Checkpoint(args.workdir, "vae").load()["model"])
        train_decoder(images, saved["latents"], args, Checkpoint(args.workdir, "decoder"), vae)
    elif args.command == "refine":  # then re-encode into latents.pt and resume the UNet
        _, images = render_dataset(args.scenes, args.seed)
        vae = AutoencoderKL(**VAE_CONFIG)
        start = Checkpoint(args.workdir, "decoder").load() or Checkpoint(args.workdir, "vae").load()
        vae.load_state_dict(start["model"])
        vae = refine_autoencoder(images, args, Checkpoint(args.workdir, "refined"), vae)
        encode_latents(vae, images, args.workdir / "latents-refined.pt")
    elif args.command in ("vae", "clip"):  # one stage alone, e.g. two stages side by side
        scenes, images = render_dataset(args.scenes, args.seed)
        if args.command == "vae":
            train_vae(images, args, Checkpoint(args.workdir, "vae"))
        else:
            train_clip(scenes, images, args, Checkpoint(args.workdir, "clip"))
    else:
        from engine.sketch.export import export_model

        export_model(args.workdir, args.out, raw_unet=args.raw_unet)


if __name__ == "__main__":
    main()
