"""A realistic gallery written in bulk, for `bench/gallery_scale.py`.

The measured owner (`MAIN_OWNER`) holds `count` generations; four other owners hold a quarter
as many again, interleaved with them, so every query has to keep to its owner. Rows look like
a gallery that grew by use: ids and `created_at` rise together over a year, most images are
unrated (ratings lean high), few are favourites, tags range from common to rare, eight models
with one dominant, experiments of a few hundred images, and prompts built from subjects,
details, styles, lighting and quality words with three kinds of words to search for: common
ones (a subject: 3 %; "masterpiece": 40 %), medium ones (0.3 % each) and rare ones (0.01 %).

Written straight through the database driver (the app's schema, made by its migrations):
SQLite with `executemany` in large transactions (the FTS5 triggers fire as for any insert),
PostgreSQL with `COPY`. About 20-40 s per 100,000 rows on a busy 2-core machine.
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, text

MAIN_OWNER = "local"
OTHER_OWNERS = ("user:ada", "user:grace", "hf:lin", "browser:9f2c41d07b")
OTHER_SHARE = 0.2  # of all rows: the main owner has 80 %

SUBJECTS = (
    "a red fox", "an old lighthouse", "a samurai", "a cyberpunk street", "a cat astronaut",
    "a mountain lake", "a dragon", "a portrait of a woman", "a robot", "a medieval castle",
    "a bowl of ramen", "a sailing ship", "a forest spirit", "an owl", "a desert caravan",
    "a jazz musician", "a greenhouse", "a snowy village", "a koi pond", "a steam locomotive",
    "a wolf pack", "a tea house", "a space station", "a coral reef", "a knight on horseback",
    "a lighthouse keeper", "a vintage car", "a hummingbird", "a waterfall", "a witch's hut",
)  # fmt: skip
DETAILS = (
    "intricate details", "highly detailed", "wearing a red scarf", "in the rain", "at dusk",
    "covered in moss", "glowing runes", "floating islands", "neon signs", "cherry blossoms",
    "under the northern lights", "in a snowstorm", "made of glass", "reflections in water",
    "overgrown with ivy", "with lanterns", "surrounded by fireflies", "in autumn leaves",
)  # fmt: skip
STYLES = (
    "oil painting", "watercolour", "studio photograph", "35mm film", "concept art",
    "ukiyo-e woodblock", "pixel art", "charcoal sketch", "digital painting", "art nouveau",
    "cinematic still", "isometric render", "gouache", "low poly", "impressionism",
)  # fmt: skip
LIGHTING = (
    "golden hour", "volumetric lighting", "rim light", "soft light", "dramatic shadows",
    "moonlight", "studio lighting", "backlit", "overcast", "candlelight",
)  # fmt: skip
QUALITY = ("masterpiece", "best quality", "8k", "sharp focus", "award winning", "trending")
# Words in 0.3 % (medium) and 0.01 % (rare) of prompts each.
MEDIUM_WORDS = (
    "bioluminescent", "filigree", "tessellated", "iridescent", "baroque",
    "kintsugi", "verdigris", "chiaroscuro", "holographic", "macrame",
)  # fmt: skip
RARE_WORDS = (
    "axolotl", "zeppelin", "marzipan", "quokka", "obsidian",
    "narwhal", "origami", "terrarium", "gondola", "pangolin",
)  # fmt: skip
NEGATIVES = ("blurry", "lowres", "watermark", "text", "bad anatomy", "jpeg artifacts")
MODELS = (
    "runwayml/stable-diffusion-v1-5", "stabilityai/sd-turbo", "dreamshaper-8",
    "realisticVision-v51", "anything-v5", "deliberate-v3", "juggernaut-xl", "demo",
)  # fmt: skip
SCHEDULERS = ("Euler a", "Euler", "DPM++ 2M Karras", "DPM++ 2M", "DDIM", "UniPC", "LCM")
# Tags with the share of images that carry each (an image has each independently).
TAGS = (
    ("keeper", 0.15), ("wip", 0.10), ("portfolio", 0.05), ("landscape", 0.08),
    ("portrait", 0.06), ("animals", 0.04), ("client", 0.01), ("reference", 0.005),
    ("weird", 0.002), ("print", 0.0005),
)  # fmt: skip
RATINGS = (None,) * 13 + (0, 1, 2, 3, 3, 4, 4, 5)  # 62 % unrated, 4 and 5 the most given
FAVOURITE_SHARE = 0.03
EXPERIMENTS = 20
EXPERIMENT_SHARE = 0.01  # of images made for an experiment's variant
YEAR = timedelta(days=365)

GENERATION_COLUMNS = (
    "id", "batch_id", "created_at", "user_id", "parent_id", "source", "recipe", "prompt",
    "negative_prompt", "seed", "steps", "guidance_scale", "width", "height", "scheduler",
    "model_id", "model_revision", "model_hash", "settings", "provenance", "versions", "timings",
    "rating", "favourite", "notes",
)  # fmt: skip
IMAGE_COLUMNS = (
    "id", "generation_id", "path", "thumbnail_path", "content_hash", "width", "height",
    "size_bytes", "missing", "created_at",
)  # fmt: skip
_RECIPE = json.dumps({"version": 1, "free_text": "", "negative": []})
_VERSIONS = json.dumps({"torch": "2.13.0", "diffusers": "0.42.1", "prompt_atelier": "0.1.0"})


def make_prompt(rng: random.Random) -> str:
    """A prompt as the Builder composes them."""
    parts = [rng.choice(SUBJECTS)]
    parts += rng.sample(DETAILS, rng.randint(1, 3))
    parts += rng.sample(STYLES, rng.randint(1, 2))
    parts += rng.sample(LIGHTING, 1)
    parts += rng.sample(QUALITY, rng.randint(0, 3))
    roll = rng.random()
    if roll < 0.001:
        parts.insert(1, rng.choice(RARE_WORDS))
    elif roll < 0.031:
        parts.insert(1, rng.choice(MEDIUM_WORDS))
    return ", ".join(parts)


@dataclass
class Fill:
    """What was written: rows per owner, the tag and experiment ids, the time range."""

    total: int
    per_owner: dict[str, int]
    tag_ids: dict[str, int]
    experiment_ids: list[int]
    first_day: datetime
    image_path: str
    seconds: float = 0.0


@dataclass
class _Batch:
    generations: list[tuple[Any, ...]]
    images: list[tuple[Any, ...]]
    tags: list[tuple[int, int]]
    members: list[tuple[int, int]]


def _rows(
    rng: random.Random,
    first_id: int,
    size: int,
    fill: Fill,
    image: tuple[str, str, str, int],
    variant_ids: list[int],
    step: timedelta,
) -> _Batch:
    path, thumbnail, sha, size_bytes = image
    tag_ids = [(fill.tag_ids[name], share) for name, share in TAGS]
    batch = _Batch([], [], [], [])
    for generation_id in range(first_id, first_id + size):
        owner = MAIN_OWNER if rng.random() >= OTHER_SHARE else rng.choice(OTHER_OWNERS)
        fill.per_owner[owner] = fill.per_owner.get(owner, 0) + 1
        created = fill.first_day + step * generation_id
        model = MODELS[min(int(rng.expovariate(0.6)), len(MODELS) - 1)]
        scheduler = rng.choice(SCHEDULERS)
        batch.generations.append(
            (
                generation_id,
                f"{generation_id // 4:032x}",
                created,
                owner,
                None,
                "generated",
                _RECIPE,
                make_prompt(rng),
                ", ".join(rng.sample(NEGATIVES, 3)),
                rng.randrange(2**32),
                rng.choice((4, 20, 25, 30)),
                rng.choice((1.0, 5.5, 7.0, 7.5)),
                512,
                rng.choice((512, 768)),
                scheduler,
                model,
                None,
                f"{rng.randrange(16**10):010x}",
                json.dumps({"num_images": 4, "image_index": generation_id % 4}),
                json.dumps({"model_source": "hub", "scheduler": scheduler, "device": "cuda"}),
                _VERSIONS,
                json.dumps({"total_s": round(rng.uniform(1, 9), 3)}),
                rng.choice(RATINGS),
                rng.random() < FAVOURITE_SHARE,
                "",
            )
        )
        batch.images.append(
            (
                generation_id,
                generation_id,
                path,
                thumbnail,
                sha,
                512,
                512,
                size_bytes,
                False,
                created,
            )
        )
        batch.tags.extend(
            (generation_id, tag_id) for tag_id, share in tag_ids if rng.random() < share
        )
        if owner == MAIN_OWNER and rng.random() < EXPERIMENT_SHARE:
            batch.members.append((rng.choice(variant_ids), generation_id))
    return batch


def stored_image(store: Any, record: Any) -> tuple[str, str, str, int]:
    """`fill_gallery`'s `image` from a generation `store` recorded: its picture's path and
    thumbnail path (relative to the store's root), content hash and bytes."""
    image = record.image
    assert image is not None
    return (
        image.path.relative_to(store.root).as_posix(),
        image.thumbnail_path.relative_to(store.root).as_posix(),
        image.content_hash,
        image.size_bytes,
    )


def fill_gallery(
    engine: Engine,
    count: int,
    image: tuple[str, str, str, int],
    *,
    seed: int = 1234,
    batch_size: int = 20_000,
    first_id: int = 1000,
) -> Fill:
    """Write `count` generations of `MAIN_OWNER` (and a quarter as many of the others) into
    the migrated, empty gallery of `engine`. `image` is (path, thumbnail path, content hash,
    bytes) of one stored image every row points to."""
    import time

    start = time.perf_counter()
    rng = random.Random(seed)
    total = round(count / (1 - OTHER_SHARE))
    now = datetime.now(timezone.utc)
    first_day = now - YEAR
    step = YEAR / (first_id + total + 1)
    fill = Fill(total, {}, {}, [], first_day, image[0])
    with engine.begin() as connection:
        for name, _share in TAGS:
            connection.execute(text("INSERT INTO tags (name) VALUES (:name)"), {"name": name})
        rows = connection.execute(text("SELECT name, id FROM tags")).all()
        fill.tag_ids = {name: tag_id for name, tag_id in rows}
        variant_ids = []
        for n in range(EXPERIMENTS):
            experiment_id = 10 + n
            connection.execute(
                text(
                    "INSERT INTO experiments (id, name, description, created_at, user_id, kind, "
                    "settings, seeds, axis) VALUES (:id, :name, '', :at, :owner, 'compare', "
                    "'{}', '[]', '{}')"
                ),
                {"id": experiment_id, "name": f"experiment {n}", "at": now, "owner": MAIN_OWNER},
            )
            fill.experiment_ids.append(experiment_id)
            for position, label in enumerate(("a", "b")):
                variant_id = 100 + 2 * n + position
                connection.execute(
                    text(
                        "INSERT INTO experiment_variants (id, experiment_id, name, position, "
                        "recipe, is_winner) VALUES (:id, :experiment, :name, :position, '{}', "
                        ":no)"
                    ),
                    {
                        "id": variant_id,
                        "experiment": experiment_id,
                        "name": label,
                        "position": position,
                        "no": False,
                    },
                )
                variant_ids.append(variant_id)
    write = _copy_batch if engine.dialect.name == "postgresql" else _insert_batch
    done = 0
    with _indexes_built_after(engine):
        while done < total:
            size = min(batch_size, total - done)
            batch = _rows(rng, first_id + done, size, fill, image, variant_ids, step)
            with engine.begin() as connection:
                write(connection, batch)
            done += size
            print(f"\r  filled {done:,}/{total:,}", end="", file=sys.stderr, flush=True)
        print("; building the indexes", file=sys.stderr, flush=True)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:  # the sequences continue after the copied ids
            for table in ("generations", "images", "experiments", "experiment_variants"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    fill.seconds = time.perf_counter() - start
    return fill


FILLED_TABLES = ("generations", "images", "generation_tags", "variant_generations")


@contextlib.contextmanager
def _indexes_built_after(engine: Engine) -> Iterator[None]:
    """Drop the filled tables' secondary indexes (and SQLite's FTS5 triggers) for the block,
    then build them again from the same DDL, as bulk loaders do: a million inserts into a
    dozen B-trees is many times slower than sorting each once."""
    postgresql = engine.dialect.name == "postgresql"
    names = ", ".join(f"'{table}'" for table in FILLED_TABLES)
    if postgresql:
        listing = (
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            f"AND tablename IN ({names}) AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
    else:
        listing = (
            "SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            f"AND tbl_name IN ({names}) AND sql IS NOT NULL"
        )
    with engine.begin() as connection:
        saved = connection.execute(text(listing)).all()
        for name, _ddl in saved:
            kind = "TRIGGER" if name.startswith("generations_fts") else "INDEX"
            connection.execute(text(f'DROP {kind} "{name}"'))
    yield
    with engine.begin() as connection:
        if not postgresql:
            connection.exec_driver_sql("PRAGMA cache_size=-1000000")
            connection.exec_driver_sql(
                "INSERT INTO generations_fts(generations_fts) VALUES ('rebuild')"
            )
        else:
            connection.exec_driver_sql("SET maintenance_work_mem = '512MB'")
        for _name, ddl in saved:
            connection.execute(text(ddl))


def _placeholders(columns: tuple[str, ...]) -> str:
    return ", ".join("?" for _ in columns)


def _sqlite_row(row: tuple[Any, ...]) -> Iterator[Any]:
    for value in row:
        if isinstance(value, datetime):  # what SQLAlchemy's UTCDateTime stores on SQLite
            yield value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        else:
            yield value


def _insert_batch(connection: Any, batch: _Batch) -> None:
    cursor = connection.connection.driver_connection.cursor()
    cursor.executemany(
        f"INSERT INTO generations ({', '.join(GENERATION_COLUMNS)}) "
        f"VALUES ({_placeholders(GENERATION_COLUMNS)})",
        (tuple(_sqlite_row(row)) for row in batch.generations),
    )
    cursor.executemany(
        f"INSERT INTO images ({', '.join(IMAGE_COLUMNS)}) VALUES ({_placeholders(IMAGE_COLUMNS)})",
        (tuple(_sqlite_row(row)) for row in batch.images),
    )
    cursor.executemany(
        "INSERT INTO generation_tags (generation_id, tag_id) VALUES (?, ?)", batch.tags
    )
    cursor.executemany(
        "INSERT INTO variant_generations (variant_id, generation_id) VALUES (?, ?)",
        batch.members,
    )
    cursor.close()


def _copy_batch(connection: Any, batch: _Batch) -> None:
    cursor = connection.connection.driver_connection.cursor()
    for table, columns, rows in (
        ("generations", GENERATION_COLUMNS, batch.generations),
        ("images", IMAGE_COLUMNS, batch.images),
        ("generation_tags", ("generation_id", "tag_id"), batch.tags),
        ("variant_generations", ("variant_id", "generation_id"), batch.members),
    ):
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    cursor.close()


def _main() -> None:
    """Bulk fill against the app's own recording, side by side, on a throwaway SQLite gallery."""
    import argparse
    import shutil
    import tempfile
    import time
    from pathlib import Path

    from PIL import Image

    from gallery import GalleryStore, NewGeneration

    parser = argparse.ArgumentParser(description=_main.__doc__)
    parser.add_argument("--count", type=int, default=100_000, help="rows to fill")
    parser.add_argument("--smoke", action="store_true", help="2,000 rows: a check that it runs")
    args = parser.parse_args()
    count, recorded = (2_000, 20) if args.smoke else (args.count, 200)
    folder = Path(tempfile.mkdtemp(prefix="atelier-fill-"))
    try:
        with GalleryStore.open(folder) as store:
            local = store.for_owner(MAIN_OWNER)
            start = time.perf_counter()
            ids = [
                local.record_generation(
                    NewGeneration(f"recorded {n}", seed=n, image=Image.new("RGB", (64, 64)))
                )
                for n in range(recorded)
            ]
            per_recording = (time.perf_counter() - start) / recorded
            stored = stored_image(store, local.get(ids[0]))
            filled = fill_gallery(store.engine, count, stored, first_id=10_000)
        per_row = filled.seconds / filled.total
        print(f"recording one by one: {1 / per_recording:,.0f} rows/s ({recorded} rows)")
        print(f"bulk fill: {1 / per_row:,.0f} rows/s ({filled.total:,} rows)")
        print(f"ratio: {per_recording / per_row:.1f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    _main()
