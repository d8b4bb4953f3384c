"""How well the sketch model follows the prompt, read back by an analytic checker.

Generates a fixed grid of prompts x seeds (scenes drawn from a fixed seed, written the way the
Builder composes prompts, e.g. "a small blue star, left, night, pixel art"), reads every picture
back with `engine.sketch.checker` (subject colour, background lighting, position, shape; size
is printed but not counted) and prints the accuracy of each attribute. Also prints the sketch
CLIP's top-1 accuracy at picking a scene's caption among 10 (on rendered scenes and on the
generated pictures), the checker's accuracy on rendered ground truth, the time per image, and
how often A1111 weights pick between two colours named together (not counted). The last line
is `ratio: X`, the mean of the four attribute accuracies.

    .venv/bin/python bench/sketch_adherence.py [--prompts 30] [--seeds 1000,1001] [--steps 20]
    .venv/bin/python bench/sketch_adherence.py --smoke    # a tiny run, to check it works
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from engine.sketch import load_sketch_clip, sketch_model_dir
from engine.sketch.checker import read_scene
from engine.sketch.training_data import recoloured_caption
from engine.sketch.world import full_caption, render_scene, sample_scene

ATTRIBUTES = ("colour", "lighting", "position", "shape")
GRID_SEED = 20261201  # the prompt grid; training used other seeds


def load_pipeline(folder: Path):
    from diffusers import StableDiffusionPipeline
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    pipe = StableDiffusionPipeline.from_pretrained(folder, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def clip_top1(images: list[np.ndarray], captions: list[str], rng: random.Random) -> float:
    """Share of images whose own caption scores best among itself and 9 captions of other
    random scenes."""
    model, processor, tokenizer = load_sketch_clip()
    pool = sorted({full_caption(sample_scene(rng)) for _ in range(300)})
    texts = list(dict.fromkeys([*captions, *pool]))
    with torch.no_grad():
        pixels = processor(images=images, return_tensors="pt").pixel_values
        image_emb = model.get_image_features(pixel_values=pixels)
        ids = tokenizer(texts, padding="max_length", max_length=77, return_tensors="pt")
        text_emb = model.get_text_features(input_ids=ids.input_ids)
    image_emb = getattr(image_emb, "pooler_output", image_emb)  # transformers 5 wraps them
    text_emb = getattr(text_emb, "pooler_output", text_emb)
    sims = (
        torch.nn.functional.normalize(image_emb, dim=-1)
        @ torch.nn.functional.normalize(text_emb, dim=-1).T
    )
    index = {text: i for i, text in enumerate(texts)}
    hits = 0
    for i, caption in enumerate(captions):
        own = index[caption]
        others = rng.sample([index[t] for t in pool if t != caption], 9)
        hits += int(max([own, *others], key=lambda j: float(sims[i, j])) == own)
    return hits / len(images)


def weighted_prompt(scene, heavy: str, light: str, first: str) -> str:
    """The scene's caption with its colour replaced by two A1111-weighted colours, `heavy` at
    1.4 and `light` at 0.7, `first` of them written first."""
    words = [f"({heavy}:1.4)", f"({light}:0.7)"]
    return recoloured_caption(scene, words if first == heavy else words[::-1])


def weighting_accuracy(model: Path, scenes: list, seeds: list[int], args) -> float:
    """Share of pictures whose subject is read back in the up-weighted of two colours named
    together ("a (red:1.4) (blue:0.7) star, left, night"), each pair tried both ways round,
    through the app's own prompt encoding (the plain pipeline does not read weights)."""
    import tempfile

    from engine.generate import Engine
    from engine.loading import ModelManager
    from engine.request import GenerationRequest
    from engine.sketch.world import COLOURS

    engine = Engine(ModelManager(tempfile.mkdtemp(prefix="sketch-bench-")))
    rng = random.Random(GRID_SEED + 2)
    hits = total = 0
    for scene in scenes:
        a, b = rng.sample(list(COLOURS), 2)
        first = rng.choice((a, b))
        for heavy, light in ((a, b), (b, a)):
            prompt = weighted_prompt(scene, heavy, light, first)
            for seed in seeds:
                request = GenerationRequest(prompt, seed=seed, steps=args.steps, width=args.size,
                                            height=args.size, guidance_scale=args.cfg)  # fmt: skip
                image = engine.generate(request, model=str(model)).images[0]
                hits += int(read_scene(np.asarray(image.convert("RGB"))).colour == heavy)
                total += 1
    return hits / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=sketch_model_dir())
    parser.add_argument("--prompts", type=int, default=30)
    parser.add_argument("--seeds", default="1000,1001")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cfg", type=float, default=7.0)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--truth", type=int, default=300, help="rendered scenes for the checks")
    parser.add_argument("--weighted", type=int, default=15, help="scenes for the weighting")
    parser.add_argument("--save", type=Path, default=None, help="folder for the pictures")
    parser.add_argument(
        "--smoke", action="store_true", help="2 prompts, 1 seed, 2 steps, 64 px, 20 scenes"
    )
    args = parser.parse_args()
    if args.smoke:
        args.prompts, args.seeds, args.steps, args.size = 2, "1000", 2, 64
        args.truth, args.weighted = 20, 1
    torch.set_num_threads(int(os.environ.get("SKETCH_THREADS", "1")))
    seeds = [int(s) for s in args.seeds.split(",")]

    rng = random.Random(GRID_SEED)
    scenes = [sample_scene(rng) for _ in range(args.prompts)]
    truth_rng = random.Random(GRID_SEED + 1)
    truth = [sample_scene(truth_rng) for _ in range(args.truth)]
    truth_images = [render_scene(s, i) for i, s in enumerate(truth)]
    checker_ok = Counter()
    for scene, image in zip(truth, truth_images, strict=True):
        checker_ok.update(k for k, v in read_scene(image).matches(scene).items() if v)
    print(
        "checker on rendered ground truth:",
        ", ".join(f"{k} {checker_ok[k] / len(truth):.1%}" for k in (*ATTRIBUTES, "size")),
    )
    clip_truth = clip_top1(truth_images, [full_caption(s) for s in truth], random.Random(1))
    print(f"sketch CLIP top-1 of 10 on rendered scenes: {clip_truth:.1%}")

    pipe = load_pipeline(args.model)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    correct, total, times = Counter(), 0, []
    generated, gen_captions = [], []
    for index, scene in enumerate(scenes):
        prompt = full_caption(scene)
        for seed in seeds:
            started = time.perf_counter()
            image = pipe(
                prompt,
                num_inference_steps=args.steps,
                guidance_scale=args.cfg,
                height=args.size,
                width=args.size,
                generator=torch.Generator().manual_seed(seed),
                output_type="np",
            ).images[0]
            times.append(time.perf_counter() - started)
            picture = (image * 255).round().astype(np.uint8)
            generated.append(picture)
            gen_captions.append(prompt)
            correct.update(k for k, v in read_scene(picture).matches(scene).items() if v)
            total += 1
            if args.save:
                from PIL import Image

                Image.fromarray(picture).save(args.save / f"{index:03d}-{seed}.png")
    clip_generated = clip_top1(generated, gen_captions, random.Random(2))
    weighting = weighting_accuracy(args.model, scenes[: args.weighted], seeds, args)
    accuracy = {k: correct[k] / total for k in (*ATTRIBUTES, "size")}
    print(
        f"{total} images ({args.prompts} prompts x {len(seeds)} seeds), {args.steps} steps, "
        f"CFG {args.cfg}, {args.size} px"
    )
    print(f"median seconds per image: {float(np.median(times[1:] or times)):.2f}")
    print(f"sketch CLIP top-1 of 10 on generated pictures: {clip_generated:.1%}")
    for key, value in accuracy.items():
        note = " (not counted)" if key == "size" else ""
        print(f"{key:9s} {value:.1%}{note}")
    print(
        f"weighting {weighting:.1%} (not counted: the up-weighted of two colours drawn, "
        f"{args.weighted} scenes x both ways x {len(seeds)} seeds)"
    )
    print(f"ratio: {sum(accuracy[k] for k in ATTRIBUTES) / len(ATTRIBUTES):.3f}")


if __name__ == "__main__":
    main()
