"""Gallery at scale: fill a fresh database with N generations, then time the queries the UI makes.

Fills in batches with bulk inserts (one small shared image file; every generation has its image
row, tags, ratings and favourites like a real gallery), then measures through `GalleryStore`:
the newest page, filtered pages (model, rating, favourite, tag, seed, month, experiment, and a
mix), full-text search (common and rare words, two words, prefixes) and one real recording with
its 512 px image (PNG encode, thumbnail, fsyncs, commit). Prints p50 and p95 of each and, last,
`ratio: X` = p95 of full-text search / p95 of the newest page.

    .venv/bin/python bench/gallery_scale.py [--count 100000] [--queries 400]
        [--database-url URL]   # default: a SQLite file in a temporary folder
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image
from sqlalchemy import insert

from gallery import LOCAL_OWNER, GalleryQuery, GalleryStore, NewGeneration
from gallery.database import writer
from gallery.models import (
    Experiment,
    ExperimentVariant,
    Generation,
    GenerationTag,
    ImageFile,
    Tag,
    VariantGeneration,
)

SUBJECTS = (
    "a red fox",
    "an old lighthouse",
    "a samurai",
    "a cyberpunk street",
    "a cat astronaut",
    "a mountain lake",
    "a dragon",
    "a portrait of a woman",
    "a robot",
    "a medieval castle",
    "a bowl of ramen",
    "a sailing ship",
    "a forest spirit",
    "an owl",
    "a desert caravan",
    "a jazz musician",
    "a greenhouse",
    "a snowy village",
    "a koi pond",
    "a steam locomotive",
    "a wolf pack",
    "a tea house",
    "a space station",
    "a coral reef",
    "a knight on horseback",
    "a lighthouse keeper",
    "a vintage car",
    "a hummingbird",
    "a waterfall",
    "a witch's hut",
)
DETAILS = (
    "intricate details",
    "highly detailed",
    "wearing a red scarf",
    "in the rain",
    "at dusk",
    "covered in moss",
    "glowing runes",
    "floating islands",
    "neon signs",
    "cherry blossoms",
    "under the northern lights",
    "in a snowstorm",
    "made of glass",
    "reflections in water",
    "overgrown with ivy",
    "with lanterns",
    "surrounded by fireflies",
    "in autumn leaves",
)
STYLES = (
    "oil painting",
    "watercolour",
    "studio photograph",
    "35mm film",
    "concept art",
    "ukiyo-e woodblock",
    "pixel art",
    "charcoal sketch",
    "digital painting",
    "art nouveau",
    "cinematic still",
    "isometric render",
    "gouache",
    "low poly",
    "impressionism",
)
LIGHTING = (
    "golden hour",
    "volumetric lighting",
    "rim light",
    "soft light",
    "dramatic shadows",
    "moonlight",
    "studio lighting",
    "backlit",
    "overcast",
    "candlelight",
)
QUALITY = ("masterpiece", "best quality", "8k", "sharp focus", "award winning", "trending")
NEGATIVES = ("blurry", "lowres", "watermark", "text", "bad anatomy", "jpeg artifacts")
MODELS = (
    "runwayml/stable-diffusion-v1-5",
    "stabilityai/sd-turbo",
    "dreamshaper-8",
    "realisticVision-v51",
    "anything-v5",
    "deliberate-v3",
    "juggernaut-xl",
    "demo",
)
SCHEDULERS = ("Euler a", "Euler", "DPM++ 2M Karras", "DPM++ 2M", "DDIM", "UniPC", "LCM")
TAGS = (
    "keeper",
    "portfolio",
    "wip",
    "landscape",
    "portrait",
    "animals",
    "print",
    "client",
    "reference",
    "weird",
)
SEARCHES = (
    "fox",
    "lighthouse",
    "samurai rain",
    "oil painting",
    "watercolour castle",
    "drag",
    "neon",
    "koi",
    "moonlight wolf",
    "hummingbird",
    "ukiyo",
    "steam locomotive snowstorm",
    "masterpiece",
    "portrait woman",
    "glass",
    "coral reef",
    "zebra",
    "isometric space",
)


def make_prompt(rng: random.Random) -> str:
    parts = [rng.choice(SUBJECTS)]
    parts += rng.sample(DETAILS, rng.randint(1, 3))
    parts += rng.sample(STYLES, rng.randint(1, 2))
    parts += rng.sample(LIGHTING, 1)
    parts += rng.sample(QUALITY, rng.randint(0, 3))
    return ", ".join(parts)


def fill(
    store: GalleryStore, count: int, batch: int, rng: random.Random, *, analyze: bool = False
) -> float:
    """Insert `count` generations (with image rows, tags, experiments); return seconds."""
    local = store.for_owner(LOCAL_OWNER)
    seed_row = local.record_generation(
        NewGeneration(prompt="seed image", seed=0, image=Image.new("RGB", (64, 64), "gray"))
    )
    shared = local.get(seed_row).image
    assert shared is not None
    start = time.perf_counter()
    engine = writer(store.engine)
    with engine.begin() as connection:
        tag_ids = (
            connection.execute(
                insert(Tag).returning(Tag.id, sort_by_parameter_order=True),
                [{"name": name} for name in TAGS],
            )
            .scalars()
            .all()
        )
        variant_ids = []
        for n in range(20):
            experiment_id = connection.execute(
                insert(Experiment).returning(Experiment.id),
                {
                    "name": f"experiment {n}",
                    "description": "",
                    "created_at": datetime.now(timezone.utc),
                    "user_id": LOCAL_OWNER,
                },
            ).scalar_one()
            variant_ids += (
                connection.execute(
                    insert(ExperimentVariant).returning(
                        ExperimentVariant.id, sort_by_parameter_order=True
                    ),
                    [
                        {
                            "experiment_id": experiment_id,
                            "name": name,
                            "position": p,
                            "recipe": {},
                            "is_winner": False,
                        }
                        for p, name in enumerate(("a", "b"))
                    ],
                )
                .scalars()
                .all()
            )
    first_day = datetime.now(timezone.utc) - timedelta(days=365)
    step = timedelta(days=365) / max(count, 1)
    done = 0
    while done < count:
        size = min(batch, count - done)
        rows = []
        for k in range(done, done + size):
            model = MODELS[min(int(rng.expovariate(0.6)), len(MODELS) - 1)]
            scheduler = rng.choice(SCHEDULERS)
            rows.append(
                {
                    "batch_id": f"{k // 4:032x}",
                    "created_at": first_day + step * k,
                    "user_id": LOCAL_OWNER,
                    "parent_id": None,
                    "source": "generated",
                    "recipe": {"version": 1, "free_text": "", "negative": []},
                    "prompt": make_prompt(rng),
                    "negative_prompt": ", ".join(rng.sample(NEGATIVES, 3)),
                    "seed": rng.randrange(2**32),
                    "steps": rng.choice((4, 20, 25, 30)),
                    "guidance_scale": rng.choice((1.0, 5.5, 7.0, 7.5)),
                    "width": 512,
                    "height": rng.choice((512, 768)),
                    "scheduler": scheduler,
                    "model_id": model,
                    "model_revision": None,
                    "model_hash": f"{rng.randrange(16**10):010x}",
                    "settings": {"num_images": 4, "image_index": k % 4},
                    "provenance": {"model_source": "hub", "scheduler": scheduler, "device": "cuda"},
                    "versions": {
                        "torch": "2.13.0",
                        "diffusers": "0.42.1",
                        "prompt_atelier": "0.1.0",
                    },
                    "timings": {"total_s": round(rng.uniform(1, 9), 3)},
                    "rating": rng.choice((None, None, None, 0, 1, 2, 3, 3, 4, 4, 5)),
                    "favourite": rng.random() < 0.05,
                    "notes": "",
                }
            )
        with engine.begin() as connection:
            ids = (
                connection.execute(
                    insert(Generation).returning(Generation.id, sort_by_parameter_order=True), rows
                )
                .scalars()
                .all()
            )
            connection.execute(
                insert(ImageFile),
                [
                    {
                        "generation_id": generation_id,
                        "path": str(shared.path.relative_to(store.root)),
                        "thumbnail_path": str(shared.thumbnail_path.relative_to(store.root)),
                        "content_hash": shared.content_hash,
                        "width": 512,
                        "height": 512,
                        "size_bytes": shared.size_bytes,
                        "missing": False,
                        "created_at": row["created_at"],
                    }
                    for generation_id, row in zip(ids, rows, strict=True)
                ],
            )
            tagged = [
                {"generation_id": generation_id, "tag_id": tag_id}
                for generation_id in ids
                for tag_id in rng.sample(tag_ids, rng.choice((0, 0, 1, 1, 2)))
            ]
            if tagged:
                connection.execute(insert(GenerationTag), tagged)
            members = [
                {"variant_id": rng.choice(variant_ids), "generation_id": generation_id}
                for generation_id in rng.sample(ids, max(1, size // 50))
            ]
            connection.execute(insert(VariantGeneration), members)
        done += size
        print(f"\r  filled {done:,}/{count:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if analyze:
        store.admin().optimize()
    return time.perf_counter() - start


def timed(samples: int, make_call: Callable[[int], Callable[[], object]]) -> list[float]:
    """Milliseconds of `samples` calls (after two warm-up calls)."""
    for n in range(2):
        make_call(n)()
    times = []
    for n in range(samples):
        call = make_call(n)
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def p(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[int(q) - 1]


def report(label: str, times: list[float]) -> tuple[float, float]:
    p50, p95 = p(times, 50), p(times, 95)
    print(f"{label:<36} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms   (n={len(times)})")
    return p50, p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=400, help="timed calls per query kind")
    parser.add_argument("--inserts", type=int, default=20, help="timed one-row recordings")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the temporary gallery folder")
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="run store.admin().optimize() (ANALYZE) after the fill; by default the planner has "
        "no statistics, as in a gallery that grew by use",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a quick run: 2,000 generations, 20 queries each"
    )
    args = parser.parse_args()
    if args.smoke:
        args.count, args.queries, args.inserts = 2_000, 20, 3
    os.environ.pop("DATABASE_URL", None)

    folder = Path(tempfile.mkdtemp(prefix="atelier-gallery-bench-"))
    rng = random.Random(1234)
    try:
        store = GalleryStore.open(folder, args.database_url)
        print(
            f"database: {store.engine.dialect.name} {store.engine.dialect.server_version_info}"
            f"  full-text index: {store.uses_full_text_index}  page size: {args.page_size}"
        )
        seconds = fill(store, args.count, args.batch, rng, analyze=args.analyze)
        print(f"filled {args.count:,} generations in {seconds:.1f} s")
        size = args.page_size
        months = [datetime.now(timezone.utc) - timedelta(days=30 * m) for m in range(1, 12)]
        local = store.for_owner(LOCAL_OWNER)
        experiments = [e.id for e in local.list_experiments()]
        known_seed = local.search(GalleryQuery(page=2, page_size=size)).items[0].seed
        filters: list[tuple[str, dict]] = [
            ("model", {"model_id": "dreamshaper-8"}),
            ("rare model", {"model_id": "demo"}),
            ("rating >= 4", {"min_rating": 4}),
            ("favourite", {"favourite": True}),
            ("tag", {"tag": "portfolio"}),
            ("seed", {"seed": known_seed}),
            ("month", {"created_from": months[5], "created_to": months[4]}),
            ("experiment", {"experiment_id": experiments[0]}),
            ("model + rating 5 + tag", {"model_id": MODELS[0], "min_rating": 5, "tag": "wip"}),
        ]

        newest = timed(args.queries, lambda n: lambda: local.search(GalleryQuery(page_size=size)))
        filtered: list[float] = []
        per_filter = {}
        for label, fields in filters:
            times = timed(
                max(20, args.queries // len(filters)),
                lambda n, f=fields: lambda: local.search(GalleryQuery(page_size=size, **f)),
            )
            per_filter[label] = times
            filtered += times
        searches = timed(
            args.queries,
            lambda n: (
                lambda: local.search(GalleryQuery(text=SEARCHES[n % len(SEARCHES)], page_size=size))
            ),
        )
        image = Image.effect_mandelbrot((512, 512), (-2.0, -1.5, 1.0, 1.5), 100).convert("RGB")
        inserts = timed(
            args.inserts,
            lambda n: (
                lambda: local.record_generation(
                    NewGeneration(
                        prompt=make_prompt(rng),
                        seed=10**9 + n,
                        steps=20,
                        guidance_scale=7.0,
                        scheduler="Euler a",
                        model_id=MODELS[0],
                        image=image.rotate(n * 7 + 3),
                    )
                )
            ),
        )

        print()
        for label, times in per_filter.items():
            report(f"  filter: {label}", times)
        print()
        _, newest_p95 = report("newest page", newest)
        report("filtered page (all filters)", filtered)
        _, search_p95 = report("full-text search page", searches)
        report("one recording with its 512 px image", inserts)
        print(f"ratio: {search_p95 / newest_p95:.2f}")
        store.close()
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
