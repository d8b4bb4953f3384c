"""Cheap live previews: a fixed linear map from latent channels to RGB, no VAE needed.

The factors are the widely used approximations for SD1.x, SDXL, SD3 and FLUX latents (as in
ComfyUI's latent previewer, `comfy/latent_formats.py`); the picture is rough but shows
composition and colour as it forms. FLUX's latents arrive packed in 2x2 patches and are unpacked
first.
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
_SD3_FACTORS = [
    [-0.0922, -0.0175, 0.0749],
    [0.0311, 0.0633, 0.0954],
    [0.1994, 0.0927, 0.0458],
    [0.0856, 0.0339, 0.0902],
    [0.0587, 0.0272, -0.0496],
    [-0.0006, 0.1104, 0.0309],
    [0.0978, 0.0306, 0.0427],
    [-0.0042, 0.1038, 0.1358],
    [-0.0194, 0.0020, 0.0669],
    [-0.0488, 0.0130, -0.0268],
    [0.0922, 0.0988, 0.0951],
    [-0.0278, 0.0524, -0.0542],
    [0.0332, 0.0456, 0.0895],
    [-0.0069, -0.0030, -0.0810],
    [-0.0596, -0.0465, -0.0293],
    [-0.1448, -0.1463, -0.1189],
]
_SD3_BIAS = [0.2394, 0.2135, 0.1925]
_FLUX_FACTORS = [
    [-0.0346, 0.0244, 0.0681],
    [0.0034, 0.0210, 0.0687],
    [0.0275, -0.0668, -0.0433],
    [-0.0174, 0.0160, 0.0617],
    [0.0859, 0.0721, 0.0329],
    [0.0004, 0.0383, 0.0115],
    [0.0405, 0.0861, 0.0915],
    [-0.0236, -0.0185, -0.0259],
    [-0.0245, 0.0250, 0.1180],
    [0.1008, 0.0755, -0.0421],
    [-0.0515, 0.0201, 0.0011],
    [0.0428, -0.0012, -0.0036],
    [0.0817, 0.0765, 0.0749],
    [-0.1264, -0.0522, -0.1103],
    [-0.0280, -0.0881, -0.0499],
    [-0.1262, -0.0982, -0.0778],
]
_FLUX_BIAS = [-0.0329, -0.0718, -0.0851]
# kind -> (channels, factors, bias)
_FORMATS: dict[str, tuple[int, list[list[float]], list[float] | None]] = {
    "sd1": (4, _SD1_FACTORS, None),
    "sdxl": (4, _SDXL_FACTORS, _SDXL_BIAS),
    "sd3": (16, _SD3_FACTORS, _SD3_BIAS),
    "flux": (16, _FLUX_FACTORS, _FLUX_BIAS),
}


def unpack_flux_latents(latents: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """FLUX's packed latents (batch, h/2 * w/2, 64) as (batch, 16, h, w), `height` and `width`
    in latent pixels (as diffusers' `FluxPipeline._unpack_latents`)."""
    batch, _, packed = latents.shape
    channels = packed // 4
    latents = latents.view(batch, height // 2, width // 2, channels, 2, 2)
    return latents.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, height, width)


def latents_to_preview(
    latents: torch.Tensor,
    kind: str = "sd1",
    index: int = 0,
    latent_size: tuple[int, int] | None = None,
) -> Image.Image | None:
    """RGB preview of one latent of the batch at latent resolution; None when the latents are
    not of the kind's shape. FLUX's packed latents need `latent_size` (height, width)."""
    if kind == "flux" and latents.ndim == 3 and latent_size is not None:
        latents = unpack_flux_latents(latents, *latent_size)
    channels, table, bias = _FORMATS.get(kind, _FORMATS["sd1"])
    if latents.ndim != 4 or latents.shape[1] != channels:
        return None
    factors = torch.tensor(table, dtype=torch.float32)
    latent = latents[index].detach().to("cpu", torch.float32)
    rgb = torch.einsum("chw,cr->rhw", latent, factors)
    if bias is not None:
        rgb = rgb + torch.tensor(bias).reshape(3, 1, 1)
    pixels = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(pixels.permute(1, 2, 0).numpy())
