"""How different two images look: SSIM on luminance, colour difference ΔE in CIELAB, a combined
perceptual distance, and a per-pixel difference heat map. Pure numpy (no torch).

- SSIM follows Wang et al. (2004): an 11-tap Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03,
  on the BT.601 luma of 8-bit RGB, mean over the valid (unpadded) window positions.
- ΔE is CIE76, the Euclidean distance in L*a*b* from sRGB (D65 white).
- `perceptual_distance` = (1 − SSIM) + mean ΔE / 100: 0 for identical images, about 1 when
  structure is lost, plus about 0.1 per 10 ΔE of colour shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

SSIM_SIGMA = 1.5
SSIM_TAPS = 11
K1, K2 = 0.01, 0.03
DATA_RANGE = 255.0
_D65 = np.array([0.95047, 1.0, 1.08883])
_SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)


@dataclass(frozen=True)
class ImageDifference:
    """SSIM on luminance, mean ΔE and the combined distance of two images."""

    ssim: float
    mean_delta_e: float

    @property
    def distance(self) -> float:
        return (1.0 - self.ssim) + self.mean_delta_e / 100.0


def as_rgb_array(image: Image.Image | np.ndarray) -> np.ndarray:
    """An H×W×3 float array in 0..255."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    return np.asarray(image, dtype=np.float64)[..., :3]


def luminance(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB array (0..255)."""
    return rgb @ np.array([0.299, 0.587, 0.114])


def _gaussian_kernel(taps: int = SSIM_TAPS, sigma: float = SSIM_SIGMA) -> np.ndarray:
    offsets = np.arange(taps) - (taps - 1) / 2
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def _filter_valid(values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 2-D filtering, keeping only positions where the window fits."""
    taps = kernel.size
    rows = np.lib.stride_tricks.sliding_window_view(values, taps, axis=0) @ kernel
    return np.lib.stride_tricks.sliding_window_view(rows, taps, axis=1) @ kernel


def ssim_map(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The SSIM index at every valid window position of two grey images (same shape)."""
    if first.shape != second.shape:
        raise ValueError("SSIM needs two images of the same size.")
    kernel = _gaussian_kernel(min(SSIM_TAPS, *first.shape))
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    mu_x, mu_y = _filter_valid(first, kernel), _filter_valid(second, kernel)
    xx = _filter_valid(first * first, kernel) - mu_x**2
    yy = _filter_valid(second * second, kernel) - mu_y**2
    xy = _filter_valid(first * second, kernel) - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (xx + yy + c2))


def ssim(first: Image.Image | np.ndarray, second: Image.Image | np.ndarray) -> float:
    """Mean SSIM of the two images' luminance (1 = identical)."""
    return float(ssim_map(luminance(as_rgb_array(first)), luminance(as_rgb_array(second))).mean())


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of an sRGB array in 0..255."""
    linear = rgb / 255.0
    linear = np.where(linear <= 0.04045, linear / 12.92, ((linear + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ.T / _D65
    epsilon, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > epsilon, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    lightness = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)


def delta_e_map(first: Image.Image | np.ndarray, second: Image.Image | np.ndarray) -> np.ndarray:
    """CIE76 ΔE at every pixel of two images of the same size."""
    a, b = as_rgb_array(first), as_rgb_array(second)
    if a.shape != b.shape:
        raise ValueError("ΔE needs two images of the same size.")
    return np.linalg.norm(srgb_to_lab(a) - srgb_to_lab(b), axis=-1)


def compare_images(
    first: Image.Image | np.ndarray, second: Image.Image | np.ndarray
) -> ImageDifference:
    """SSIM on luminance and mean ΔE of two images of the same size."""
    return ImageDifference(ssim(first, second), float(delta_e_map(first, second).mean()))


HEAT_MAP_FULL_SCALE = 50.0  # the ΔE a heat map draws white


def heat_colours(delta_e: np.ndarray, full_scale: float = HEAT_MAP_FULL_SCALE) -> np.ndarray:
    """The heat map's uint8 RGB for each ΔE: black (0) through red and yellow to white
    (≥ `full_scale`)."""
    level = np.clip(np.asarray(delta_e, dtype=np.float64) / full_scale, 0.0, 1.0)
    red = np.clip(level * 3, 0, 1)
    green = np.clip(level * 3 - 1, 0, 1)
    blue = np.clip(level * 3 - 2, 0, 1)
    return (np.stack([red, green, blue], axis=-1) * 255).round().astype(np.uint8)


def difference_heat_map(
    first: Image.Image | np.ndarray,
    second: Image.Image | np.ndarray,
    full_scale: float = HEAT_MAP_FULL_SCALE,
) -> Image.Image:
    """A heat map of per-pixel ΔE: black (same) through red and yellow to white (ΔE ≥
    `full_scale`)."""
    return Image.fromarray(heat_colours(delta_e_map(first, second), full_scale), "RGB")
