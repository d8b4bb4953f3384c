"""Draw the README's contact sheet: the sketch model on a few Builder recipes, several seeds.

Each row is one recipe composed by the Builder's own `compose_prompt` (styles included), each
column one seed; the prompt is written above its row. The last two rows differ only in their
A1111 weights.

    .venv/bin/python scripts/sketch_contact_sheet.py [--out docs/sketch-contact-sheet.png]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageDraw

from engine.generate import Engine
from engine.loading import ModelManager
from engine.request import GenerationRequest
from prompts.compose import compose_prompt
from prompts.recipe import Recipe
from prompts.styles import StyleLibrary

RECIPES = (
    Recipe(subject="a red house", lighting=("golden hour",), medium=("watercolor",)),
    Recipe(subject="a small blue star, left", lighting=("moonlight",), quality=("masterpiece",)),
    Recipe(subject="a yellow heart", styles=("Pixel Art",), lighting=("neon glow",)),
    Recipe(
        subject="a large green tree", lighting=("soft overcast light",), styles=("Flat Vector",)
    ),
    Recipe(subject="a pink moon, top", lighting=("sunrise glow",), medium=("watercolor",)),
    Recipe(subject="a white ring, right", lighting=("softbox lighting",), free_text="line art"),
    Recipe(subject="an orange cross", lighting=("harsh midday sun",), medium=("pixel art",)),
    Recipe(subject="a large purple diamond, bottom", lighting=("golden hour",)),
    Recipe(subject="a large (red:1.4) (blue:0.7) circle", lighting=("soft overcast light",)),
    Recipe(subject="a large (red:0.7) (blue:1.4) circle", lighting=("soft overcast light",)),
)
SEEDS = (1, 2, 3, 4)
CELL, LABEL = 128, 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/sketch-contact-sheet.png"))
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    engine = Engine(ModelManager(Path(tempfile.mkdtemp(prefix="sketch-sheet-"))))
    library = StyleLibrary()
    sheet = Image.new("RGB", (CELL * len(SEEDS), (CELL + LABEL) * len(RECIPES)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, recipe in enumerate(RECIPES):
        prompt = compose_prompt(recipe, library).positive
        top = row * (CELL + LABEL)
        draw.text((3, top + 2), prompt[:88], fill="black")
        for col, seed in enumerate(SEEDS):
            request = GenerationRequest(
                prompt, seed=seed, steps=args.steps, width=CELL, height=CELL
            )
            image = engine.generate(request, model="sketch").images[0]
            sheet.paste(image, (col * CELL, top + LABEL))
        print(prompt)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
