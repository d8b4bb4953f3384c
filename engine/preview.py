"""Cheap live previews: a fixed linear map from latent channels to RGB, no VAE needed.

The factors are the widely used approximations for SD1.x and SDXL latents (as in ComfyUI's
latent previewer); the picture is rough but shows composition and colour as it forms.
"""

from __future__ import annotations

import torch
from PIL import Image

_SD1_FACTORS = [
    [0.3512, 0.2297, 0.3227],
    [0.3250, 0.4974, 0.2350],
    [-0.2829, 0.1762, 0.2721],
    [-0.2120, -0.2616, -0.7177],
]
_SDXL_FACTORS = [
    [0.3651, 0.4232, 0.4341],
    [-0.2533, -0.0042, 0.1068],
    [0.1076, 0.1111, -0.0362],
    [-0.3165, -0.2492, -0.2188],
]
_SDXL_BIAS = [0.1084, -0.0175, -0.0011]


def latents_to_preview(
    latents: torch.Tensor, kind: str = "sd1", index: int = 0
) -> Image.Image | None:
    """RGB preview of one latent of the batch at latent resolution; None unless 4 channels."""
    if latents.ndim != 4 or latents.shape[1] != 4:
        return None
    factors = torch.tensor(_SDXL_FACTORS if kind == "sdxl" else _SD1_FACTORS, dtype=torch.float32)
    latent = latents[index].detach().to("cpu", torch.float32)
    rgb = torch.einsum("chw,cr->rhw", latent, factors)
    if kind == "sdxl":
        rgb = rgb + torch.tensor(_SDXL_BIAS).reshape(3, 1, 1)
    pixels = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(pixels.permute(1, 2, 0).numpy())
