"""Image metrics against references (scipy's Gaussian filter SSIM, known Lab values), the heat
map, and ablation ranking on a case built so the answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from engine.ablation import rank_terms
from engine.image_metrics import (
    compare_images,
    delta_e_map,
    difference_heat_map,
    luminance,
    srgb_to_lab,
    ssim,
)


def reference_ssim(x, y):
    """Wang et al. SSIM with scipy's truncated Gaussian (11 taps), valid region only."""

    def blur(a):
        return gaussian_filter(a, 1.5, truncate=3.5)[5:-5, 5:-5]

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    return float(
        (((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))).mean()
    )


def test_ssim_matches_a_scipy_reference():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (48, 40, 3)).astype(float)
    b = np.clip(a + rng.normal(0, 25, a.shape), 0, 255)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, b) == pytest.approx(reference_ssim(luminance(a), luminance(b)), abs=1e-6)
    assert ssim(a, b) < 0.95


def test_lab_and_delta_e_against_known_values():
    lab = srgb_to_lab(np.array([[255.0, 0, 0], [255, 255, 255], [0, 0, 0]]))
    np.testing.assert_allclose(lab[0], [53.2408, 80.0925, 67.2032], atol=1e-3)
    np.testing.assert_allclose(lab[1], [100.0, 0.0, 0.0], atol=1e-3)
    np.testing.assert_allclose(lab[2], [0.0, 0.0, 0.0], atol=1e-6)
    black, white = Image.new("RGB", (8, 8), "black"), Image.new("RGB", (8, 8), "white")
    assert delta_e_map(black, white).mean() == pytest.approx(100.0, abs=1e-3)
    assert compare_images(black, black).distance == pytest.approx(0.0)


def test_heat_map_is_black_where_equal_and_bright_where_different():
    a = np.zeros((16, 16, 3), dtype=np.uint8)
    b = a.copy()
    b[:, 8:] = 255
    heat = np.asarray(difference_heat_map(a, b))
    assert heat[:, :8].max() == 0
    assert heat[:, 8:].min() == 255


def test_ablation_ranks_the_term_whose_removal_changes_the_image_most_first():
    rng = np.random.default_rng(1)
    full = [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(3)]

    def changed(image, amount):
        noise = rng.normal(0, amount, (32, 32, 3)) if amount else 0
        return Image.fromarray(np.clip(np.asarray(image, float) + noise, 0, 255).astype(np.uint8))

    impacts = rank_terms(
        full,
        [
            ("quality words", [changed(i, 0) for i in full]),  # no effect at all
            ("a red fox", [Image.fromarray(255 - np.asarray(i)) for i in full]),  # everything
            ("golden hour", [changed(i, 20) for i in full]),  # a little
        ],
    )
    assert [i.term for i in impacts] == ["a red fox", "golden hour", "quality words"]
    assert impacts[-1].mean_distance == pytest.approx(0.0)
    assert impacts[0].spread >= 0 and len(impacts[0].distances) == 3


def test_a_colour_change_that_keeps_the_luminance_counts_through_delta_e():
    """Removing 'golden hour' can recolour a picture without moving its light and dark: SSIM
    (on luminance) sees nothing, so only ΔE tells the term matters."""
    rng = np.random.default_rng(2)
    texture = rng.integers(-40, 40, (32, 32, 1))
    warm = np.array([180, 120, 60])  # BT.601 luma 131.1
    cool = np.array([90, 140, 193])  # the same luma, another hue
    assert luminance(warm[None, None].astype(float)) == pytest.approx(
        luminance(cool[None, None].astype(float)), abs=0.1
    )

    def picture(colour):
        return Image.fromarray(np.clip(colour + texture, 0, 255).astype(np.uint8))

    full = [picture(warm)] * 2
    impacts = rank_terms(
        full,
        [("sharp focus", [picture(warm)] * 2), ("golden hour", [picture(cool)] * 2)],
    )
    assert [i.term for i in impacts] == ["golden hour", "sharp focus"]
    golden = impacts[0]
    assert golden.mean_ssim > 0.99  # structure unchanged
    assert golden.mean_delta_e > 30  # a clearly different colour
    assert golden.mean_distance == pytest.approx(
        (1 - golden.mean_ssim) + golden.mean_delta_e / 100, rel=1e-6
    )
    assert golden.mean_distance > 0.3
