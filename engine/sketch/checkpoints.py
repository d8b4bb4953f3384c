"""The training work folder: each stage's resumable checkpoint, and the trained parts read back
from them (what `engine.sketch.export` ships)."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel

from engine.pipeline_configs import SKETCH, build_sketch_clip

JOINT_PHASES = ("joint", "weights")  # the joint stage's runs, in order


class Checkpoint:
    """A stage's resumable state in `workdir/<name>.pt`, written atomically."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.path = Path(workdir) / f"{name}.pt"

    def load(self) -> dict | None:
        if not self.path.is_file():
            return None
        return torch.load(self.path, map_location="cpu", weights_only=False)

    def save(self, state: dict) -> None:
        tmp = self.path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.path)


def load_trained_parts(workdir: Path, raw_unet: bool = False):
    """(vae, clip, unet, UNet steps) from the stage checkpoints: the EMA weights (or the last
    ones with `raw_unet`) of the joint stage's last phase where it ran, else of the UNet
    stage."""

    def load(name: str) -> dict:
        return Checkpoint(workdir, name).load()

    workdir = Path(workdir)
    latents = load("latents")
    vae = AutoencoderKL(**SKETCH.vae, scaling_factor=latents["scaling_factor"])
    vae.load_state_dict(load("vae")["model"])
    clip, unet = build_sketch_clip(), UNet2DConditionModel(**SKETCH.unet)
    state = load("unet")
    steps = int(state["step"])
    joints = [load(name) for name in JOINT_PHASES if Checkpoint(workdir, name).path.is_file()]
    if joints:
        last = joints[-1]
        clip.load_state_dict(last["clip"] if raw_unet else last["ema"]["clip"])
        unet.load_state_dict(last["unet"] if raw_unet else last["ema"]["unet"])
        steps += sum(int(joint["step"]) for joint in joints)
    else:
        clip.load_state_dict(load("clip")["model"])
        unet.load_state_dict(state["model" if raw_unet else "ema"])
    return vae.eval(), clip.eval(), unet.eval(), steps
