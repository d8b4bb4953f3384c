"""The sketch world: one coloured shape on a lit background, drawn with Pillow and NumPy.

A `Scene` is a handful of named attributes (shape, colour, size, position, lighting, style);
`render_scene` draws it at 128 x 128 and `write_caption` describes it the way the Builder
composes prompts, in varied order and wording, sometimes leaving attributes out and mixing in
quality words the world ignores. Everything is seeded: the same seed gives the same scene,
picture and caption.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from engine.pipeline_configs import SKETCH_SIZE

SIZE = SKETCH_SIZE  # the world is drawn at the model's native size

# Saturated or extreme colours, far apart, and far from every background below.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (255, 140, 0),
    "yellow": (250, 225, 20),
    "green": (30, 170, 50),
    "blue": (30, 80, 235),
    "purple": (140, 50, 205),
    "pink": (255, 60, 170),
    "brown": (125, 70, 25),
    "white": (250, 250, 250),
    "black": (0, 0, 0),
    "cyan": (0, 215, 225),
}

# Lighting sets the background: a vertical gradient, top colour to bottom colour.
LIGHTING: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "golden hour": ((250, 205, 125), (225, 150, 70)),
    "sunrise": ((250, 175, 165), (150, 160, 215)),
    "overcast": ((185, 190, 195), (140, 145, 150)),
    "night": ((25, 30, 80), (40, 50, 110)),
    "studio lighting": ((95, 95, 100), (60, 60, 66)),
    "neon": ((80, 0, 120), (35, 0, 80)),
    "midday sun": ((90, 160, 235), (150, 200, 240)),
}
LIGHTING_WORDS: dict[str, tuple[str, ...]] = {
    "golden hour": ("golden hour", "golden hour light", "warm golden light"),
    "sunrise": ("sunrise", "sunrise glow", "dawn"),
    "overcast": ("overcast", "soft overcast light", "cloudy sky"),
    "night": ("night", "moonlight", "at night"),
    "studio lighting": ("studio lighting", "softbox lighting", "studio light"),
    "neon": ("neon", "neon glow", "neon lights"),
    "midday sun": ("midday sun", "harsh midday sun", "blue sky"),
}

SHAPES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "ring",
    "house",
    "tree",
    "moon",
    "heart",
    "cross",
    "diamond",
)
SIZES: dict[str, float] = {"small": 13.0, "medium": 21.0, "large": 30.0}
POSITIONS: dict[str, tuple[float, float]] = {
    "centre": (64.0, 64.0),
    "left": (34.0, 64.0),
    "right": (94.0, 64.0),
    "top": (64.0, 34.0),
    "bottom": (64.0, 94.0),
}
POSITION_WORDS: dict[str, tuple[str, ...]] = {
    "centre": ("centre", "center", "in the centre", "centered"),
    "left": ("left", "on the left", "at the left"),
    "right": ("right", "on the right", "at the right"),
    "top": ("top", "at the top", "near the top"),
    "bottom": ("bottom", "at the bottom", "near the bottom"),
}
STYLES: tuple[str, ...] = ("flat", "pixel art", "watercolor", "line art")
STYLE_WORDS: dict[str, tuple[str, ...]] = {
    "flat": ("flat", "flat illustration", "flat vector illustration", "minimalist"),
    "pixel art": ("pixel art", "pixel art", "8-bit pixel art"),
    "watercolor": ("watercolor", "watercolor painting", "watercolour"),
    "line art": ("line art", "line drawing", "outline drawing"),
}
STYLE_PREFIXES: dict[str, str] = {
    "flat": "flat illustration of",
    "pixel art": "pixel art of",
    "watercolor": "watercolor painting of",
    "line art": "line art of",
}
# The Builder's own styles for the world's styles: their templates wrap a caption now and then,
# so a prompt composed with "Pixel Art" or "Line Art" (whose tail says "black outlines, white
# background") still means the subject's own colour.
BUILDER_STYLES: dict[str, str] = {
    "flat": "Flat Vector",
    "pixel art": "Pixel Art",
    "watercolor": "Watercolor",
    "line art": "Line Art",
}
IGNORED_WORDS: tuple[str, ...] = (
    "masterpiece",
    "best quality",
    "highly detailed",
    "sharp focus",
    "8k",
    "4k",
    "high resolution",
    "award winning",
    "trending on artstation",
    "beautiful composition",
    "professional",
    "intricate details",
    "rule of thirds",
    "simple background",
)


@dataclass(frozen=True)
class Scene:
    """What one picture shows; `jitter` nudges the subject by a few pixels."""

    shape: str
    colour: str
    size: str
    position: str
    lighting: str
    style: str
    jitter: tuple[float, float] = (0.0, 0.0)

    @property
    def centre(self) -> tuple[float, float]:
        x, y = POSITIONS[self.position]
        return x + self.jitter[0], y + self.jitter[1]


def sample_scene(rng: random.Random) -> Scene:
    """A random scene, every attribute uniform."""
    return Scene(
        shape=rng.choice(SHAPES),
        colour=rng.choice(list(COLOURS)),
        size=rng.choice(list(SIZES)),
        position=rng.choice(list(POSITIONS)),
        lighting=rng.choice(list(LIGHTING)),
        style=rng.choice(STYLES),
        jitter=(rng.uniform(-5, 5), rng.uniform(-5, 5)),
    )


def _star(cx: float, cy: float, r: float, points: int = 5) -> list[tuple[float, float]]:
    out = []
    for i in range(points * 2):
        radius = r if i % 2 == 0 else r * 0.42
        angle = -math.pi / 2 + i * math.pi / points
        out.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return out


def shape_mask(shape: str, cx: float, cy: float, r: float, size: int = SIZE) -> np.ndarray:
    """A boolean mask of `shape` centred at (cx, cy) with radius `r` on a size x size canvas."""
    img = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(img)

    def ellipse(x: float, y: float, rad: float, fill: int = 255) -> None:
        d.ellipse((x - rad, y - rad, x + rad, y + rad), fill=fill)

    if shape == "circle":
        ellipse(cx, cy, r)
    elif shape == "square":
        h = r * 0.85
        d.rectangle((cx - h, cy - h, cx + h, cy + h), fill=255)
    elif shape == "triangle":
        d.polygon(
            [(cx, cy - r), (cx - r * 0.95, cy + r * 0.75), (cx + r * 0.95, cy + r * 0.75)],
            fill=255,
        )
    elif shape == "star":
        d.polygon(_star(cx, cy, r), fill=255)
    elif shape == "ring":
        ellipse(cx, cy, r)
        ellipse(cx, cy, r * 0.55, fill=0)
    elif shape == "house":
        d.rectangle((cx - 0.7 * r, cy - 0.1 * r, cx + 0.7 * r, cy + 0.9 * r), fill=255)
        d.polygon([(cx - r, cy - 0.05 * r), (cx, cy - r), (cx + r, cy - 0.05 * r)], fill=255)
    elif shape == "tree":
        d.rectangle((cx - 0.17 * r, cy + 0.2 * r, cx + 0.17 * r, cy + r), fill=255)
        ellipse(cx, cy - 0.3 * r, 0.68 * r)
    elif shape == "moon":
        ellipse(cx, cy, r)
        ellipse(cx + 0.5 * r, cy - 0.2 * r, 0.82 * r, fill=0)
    elif shape == "heart":
        ellipse(cx - 0.45 * r, cy - 0.35 * r, 0.5 * r)
        ellipse(cx + 0.45 * r, cy - 0.35 * r, 0.5 * r)
        d.polygon(
            [(cx - 0.93 * r, cy - 0.2 * r), (cx + 0.93 * r, cy - 0.2 * r), (cx, cy + r)], fill=255
        )
    elif shape == "cross":
        w = 0.3 * r
        d.rectangle((cx - w, cy - r, cx + w, cy + r), fill=255)
        d.rectangle((cx - r, cy - w, cx + r, cy + w), fill=255)
    elif shape == "diamond":
        d.polygon([(cx, cy - r), (cx + 0.7 * r, cy), (cx, cy + r), (cx - 0.7 * r, cy)], fill=255)
    else:
        raise ValueError(f"Unknown shape {shape!r}.")
    return np.asarray(img) > 127


def background(lighting: str, size: int = SIZE) -> np.ndarray:
    """The lighting's background gradient as float32 RGB, shape (size, size, 3)."""
    top, bottom = (np.array(c, dtype=np.float32) for c in LIGHTING[lighting])
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    return np.broadcast_to(top * (1 - t) + bottom * t, (size, size, 3)).copy()


def outline(mask: np.ndarray, width: int) -> np.ndarray:
    """The inner `width`-pixel rim of a boolean mask."""
    img = Image.fromarray(mask.astype(np.uint8) * 255)
    eroded = np.asarray(img.filter(ImageFilter.MinFilter(2 * width + 1))) > 127
    return mask & ~eroded


def render_scene(scene: Scene, seed: int = 0, size: int = SIZE) -> np.ndarray:
    """Draw the scene as uint8 RGB (size, size, 3); `seed` only moves the watercolor texture."""
    scale = size / SIZE
    cx, cy = scene.centre
    r = SIZES[scene.size] * scale
    mask = shape_mask(scene.shape, cx * scale, cy * scale, r, size)
    canvas = background(scene.lighting, size)
    colour = np.array(COLOURS[scene.colour], dtype=np.float32)
    if scene.style == "line art":
        mask = outline(mask, max(2, round(3 * scale)))
    if scene.style == "watercolor":
        alpha = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(2.0))
        a = np.asarray(alpha, dtype=np.float32)[..., None] / 255.0
        canvas = canvas * (1 - a) + colour * a
        noise_rng = np.random.default_rng(seed)
        low = noise_rng.uniform(-1, 1, (8, 8)).astype(np.float32)
        low = np.asarray(Image.fromarray(low, mode="F").resize((size, size), Image.BICUBIC))
        grain = noise_rng.normal(0, 1, (size, size)).astype(np.float32)
        canvas = canvas * (1 + 0.05 * low[..., None]) + 3.0 * grain[..., None]
    else:
        canvas[mask] = colour
    out = np.clip(canvas, 0, 255).astype(np.uint8)
    if scene.style == "pixel art":
        cells = size // 4
        small = Image.fromarray(out).resize((cells, cells), Image.BOX)
        out = np.asarray(small.resize((size, size), Image.NEAREST))
    return out


@lru_cache(maxsize=1)
def builder_style_templates() -> dict[str, str]:
    """World style -> the Builder's template for it (`... of {prompt}, ...`)."""
    from prompts.styles import load_builtin_styles

    templates = {style.name: style.prompt for style in load_builtin_styles()}
    return {world: templates[name] for world, name in BUILDER_STYLES.items() if name in templates}


def write_caption(scene: Scene, rng: random.Random, omit: bool = True) -> str:
    """A Builder-like prompt for the scene; with `omit`, some attributes may be left out."""
    template = builder_style_templates().get(scene.style)
    if template and rng.random() < 0.15:
        from prompts.styles import apply_style_template

        unstyled = Scene(**{**scene.__dict__, "style": ""})
        return apply_style_template(template, _caption(unstyled, rng, omit))
    return _caption(scene, rng, omit)


def _caption(scene: Scene, rng: random.Random, omit: bool) -> str:
    """`write_caption` without the Builder's style templates; an empty style is left out."""
    size = scene.size if not omit or rng.random() > 0.3 else ""
    colour = scene.colour if not omit or rng.random() > 0.05 else ""
    subject = " ".join(w for w in (size, colour, scene.shape) if w)
    article = "an" if subject[0] in "aeiou" else "a"
    subject = rng.choice([f"{article} {subject}", f"{article} {subject}", subject])
    terms: list[str] = []
    if not omit or rng.random() > 0.2:
        terms.append(rng.choice(POSITION_WORDS[scene.position]))
    if not omit or rng.random() > 0.15:
        terms.append(rng.choice(LIGHTING_WORDS[scene.lighting]))
    prefix_style = False
    if scene.style and (not omit or rng.random() > 0.2):
        if rng.random() < 0.25:
            prefix_style = True
        else:
            terms.append(rng.choice(STYLE_WORDS[scene.style]))
    rng.shuffle(terms)
    if prefix_style:
        subject = f"{STYLE_PREFIXES[scene.style]} {subject}"
    parts = [subject, *terms] if rng.random() < 0.8 else [*terms, subject]
    if rng.random() < 0.5:
        extras = rng.sample(IGNORED_WORDS, rng.randint(1, 3))
        parts = [*extras, *parts] if rng.random() < 0.3 else [*parts, *extras]
    return ", ".join(parts)


def full_caption(scene: Scene) -> str:
    """The canonical caption naming every attribute: 'a small blue star, left, night, flat'."""
    return (
        f"a {scene.size} {scene.colour} {scene.shape}, {scene.position}, "
        f"{scene.lighting}, {scene.style}"
    )
