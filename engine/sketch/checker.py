"""Read a sketch-world picture back: lighting, subject colour, position, shape and size.

Analytic, no learning: the background is estimated row by row (median of the row, smoothed),
the lighting is the gradient nearest to the top and bottom bands, the subject is the set of
pixels far from the background, its colour the median of those pixels, its position the
nearest anchor to the centre of its bounding box, its shape the template with the best
intersection-over-union inside the bounding box (filled and outline templates both count).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from engine.sketch.world import (
    COLOURS,
    LIGHTING,
    POSITIONS,
    SHAPES,
    SIZES,
    Scene,
    outline,
    shape_mask,
)

SUBJECT_THRESHOLD = 45.0
MIN_SUBJECT_PIXELS = 12
GRID = 32


@dataclass(frozen=True)
class Reading:
    """What the checker saw; attributes are None when no subject was found."""

    lighting: str
    colour: str | None
    position: str | None
    shape: str | None
    size: str | None

    def matches(self, scene: Scene) -> dict[str, bool]:
        return {
            "colour": self.colour == scene.colour,
            "lighting": self.lighting == scene.lighting,
            "position": self.position == scene.position,
            "shape": self.shape == scene.shape,
            "size": self.size == scene.size,
        }


def _nearest(value: np.ndarray, table: dict[str, np.ndarray]) -> str:
    return min(table, key=lambda name: float(np.linalg.norm(value - table[name])))


def _to_128(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image * 255.0 if image.max() <= 1.0 else image, 0, 255).astype(np.uint8)
    if image.shape[:2] != (128, 128):
        image = np.asarray(Image.fromarray(image).resize((128, 128), Image.BILINEAR))
    return image[..., :3].astype(np.float32)


def read_lighting(image: np.ndarray) -> str:
    """The lighting whose top and bottom colours are nearest the picture's border bands."""
    img = _to_128(image)
    top = np.median(img[:4].reshape(-1, 3), axis=0)
    bottom = np.median(img[-4:].reshape(-1, 3), axis=0)
    seen = np.concatenate([top, bottom])
    table = {name: np.array([*a, *b], dtype=np.float32) for name, (a, b) in LIGHTING.items()}
    return _nearest(seen, table)


def subject_mask(image: np.ndarray) -> np.ndarray:
    """Pixels far from the row's background colour, without isolated specks."""
    img = _to_128(image)
    rows = np.median(img, axis=1)  # (128, 3): background per row
    kernel = np.ones(9, dtype=np.float32) / 9
    padded = np.pad(rows, ((4, 4), (0, 0)), mode="edge")
    smooth = np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(3)], 1)
    diff = np.linalg.norm(img - smooth[:, None, :], axis=2)
    mask = diff > SUBJECT_THRESHOLD
    padded_mask = np.pad(mask, 1).astype(np.int32)
    neighbours = sum(
        padded_mask[1 + dy : 129 + dy, 1 + dx : 129 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)
    )
    return mask & (neighbours >= 4)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    x0, x1 = np.percentile(xs, [1, 99])
    y0, y1 = np.percentile(ys, [1, 99])
    return round(x0), round(y0), round(x1) + 1, round(y1) + 1


def _normalised(mask: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    crop = Image.fromarray(mask[y0:y1, x0:x1].astype(np.uint8) * 255)
    return np.asarray(crop.resize((GRID, GRID), Image.BILINEAR)) > 127


@lru_cache(maxsize=1)
def _templates() -> dict[str, list[np.ndarray]]:
    """Each shape filled and as a 3 px outline at every size, normalised to its bounding box."""
    out: dict[str, list[np.ndarray]] = {}
    for shape in SHAPES:
        out[shape] = []
        for radius in SIZES.values():
            filled = shape_mask(shape, 64, 64, radius)
            for mask in (filled, outline(filled, 3)):
                out[shape].append(_normalised(mask, _bbox(mask)))
    return out


def _extent(shape: str, size: str) -> float:
    m = shape_mask(shape, 64, 64, SIZES[size])
    x0, y0, x1, y1 = _bbox(m)
    return max(x1 - x0, y1 - y0)


def read_scene(image: np.ndarray) -> Reading:
    """Everything the checker can read from one picture (any size, RGB)."""
    img = _to_128(image)
    lighting = read_lighting(img)
    mask = subject_mask(img)
    if mask.sum() < MIN_SUBJECT_PIXELS:
        return Reading(lighting, None, None, None, None)
    colour_value = np.median(img[mask], axis=0)
    colours = {name: np.array(rgb, dtype=np.float32) for name, rgb in COLOURS.items()}
    colour = _nearest(colour_value, colours)
    box = _bbox(mask)
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float32)
    position = _nearest(centre, {k: np.array(v, dtype=np.float32) for k, v in POSITIONS.items()})
    seen = _normalised(mask, box)
    scores = {}
    for name, variants in _templates().items():
        scores[name] = max(
            float((seen & t).sum()) / max(1.0, float((seen | t).sum())) for t in variants
        )
    shape = max(scores, key=scores.get)
    extent = max(box[2] - box[0], box[3] - box[1])
    size = min(SIZES, key=lambda s: abs(_extent(shape, s) - extent))
    return Reading(lighting, colour, position, shape, size)
