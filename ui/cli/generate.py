"""`python app.py generate PROMPT ...`: headless generation for scripts."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from engine.errors import EngineError
from engine.result import GenerationResult, ProgressUpdate
from ui.cli.errors import CommandError
from ui.cli.model_flags import add_model_flags, model_values
from ui.forms import FormError, GenerateForm
from ui.settings import models_dir, resolve_data_dir


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `generate` sub-command."""
    parser = sub.add_parser("generate", help="generate images headless and write PNGs")
    parser.add_argument("prompt", help="the positive prompt (weights like (word:1.2) allowed)")
    parser.add_argument("--negative", default="", help="the negative prompt")
    parser.add_argument(
        "--model",
        default="demo",
        help="hub id, model folder, .safetensors/.ckpt file, or 'demo' (default)",
    )
    parser.add_argument(
        "--config", help="for a single-file checkpoint: a diffusers folder with its configuration"
    )
    parser.add_argument(
        "--seed",
        default="-1",
        help="seed of the first image, 0 to 18446744073709551615 (default -1: random, printed)",
    )
    add_model_flags(parser)
    parser.add_argument(
        "--batch", type=int, default=1, help="number of images (seeds seed, seed+1, ...)"
    )
    parser.add_argument(
        "--clip-skip",
        type=int,
        default=1,
        help="A1111's Clip skip: 1 uses CLIP's last layer, 2 the one before (1-12, default 1)",
    )
    parser.add_argument("--device", help="cuda, mps or cpu (default: best available)")
    parser.add_argument(
        "--dtype", choices=["fp32", "fp16", "bf16"], help="default: fp16 on GPU, fp32 on CPU"
    )
    parser.add_argument("--out", default="outputs", help="folder for the PNGs (default: ./outputs)")
    parser.add_argument(
        "--no-gallery", action="store_true", help="do not record the images in the gallery"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def output_name(prompt: str, seed: int) -> str:
    """A file name from the prompt's first words and the seed."""
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:40].rstrip("-") or "image"
    return f"{slug}-{seed}.png"


def _progress_printer(quiet: bool):
    if quiet:
        return None

    def show(update: ProgressUpdate) -> None:
        width = 30
        filled = int(width * update.fraction)
        bar = "#" * filled + "-" * (width - filled)
        print(
            f"\r[{bar}] {update.step}/{update.total} {update.elapsed_s:5.1f}s",
            end="",
            file=sys.stderr,
            flush=True,
        )
        if update.step >= update.total:
            print(file=sys.stderr)

    return show


def write_pngs(result: GenerationResult, out_dir: Path) -> list[Path]:
    """Save each image with its settings embedded; returns the paths."""
    from ui.recording import png_bytes_with_metadata

    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        write_new_file(out_dir / output_name(result.prompts[index], seed), data)
        for index, seed in enumerate(result.seeds)
        for data in [png_bytes_with_metadata(result, index)]
    ]


def write_new_file(path: Path, data: bytes) -> Path:
    """Write `data` to `path`, or to `name-2.png`, `name-3.png`, ... when taken: an earlier
    file is never overwritten (exclusive create, so two runs at once cannot clash either)."""
    for number in range(1, 10_000):
        candidate = path if number == 1 else path.with_name(f"{path.stem}-{number}{path.suffix}")
        try:
            with open(candidate, "xb") as handle:
                handle.write(data)
        except FileExistsError:
            continue
        return candidate
    raise OSError(f"Too many files named like {path.name} already.")


def _record(result: GenerationResult, data_dir: Path) -> None:
    """Record the images in the gallery; a failure is a warning line, the PNGs stay written."""
    from sqlalchemy.exc import SQLAlchemyError

    from gallery.errors import GalleryError
    from gallery.owners import LOCAL_OWNER
    from gallery.store import GalleryStore
    from ui.recording import record_result
    from ui.settings import gallery_dir

    try:
        with GalleryStore.open(gallery_dir(data_dir)) as store:
            ids = record_result(store.for_owner(LOCAL_OWNER), result)
    except (GalleryError, OSError, SQLAlchemyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"warning: the images were not recorded in the gallery: {reason}", file=sys.stderr)
        return
    print(f"recorded in the gallery as {', '.join(f'#{i}' for i in ids)}", file=sys.stderr)


def read_form(args: argparse.Namespace) -> GenerateForm:
    """The flags as the form the page and the API read too; `CommandError` on a bad value."""
    try:
        return GenerateForm.read(
            {
                "prompt": args.prompt,
                "negative_prompt": args.negative,
                "seed": args.seed,
                "num_images": args.batch,
                "model": args.model,
                "clip_skip": args.clip_skip,
                **model_values(args, models_dir(resolve_data_dir(args.data_dir))),
            }
        )
    except FormError as exc:
        raise CommandError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Generate, write PNGs, record them in the gallery, print where they went."""
    from ui.hosting.hosted_engine import HostedEngine
    from ui.runtime import build_engine

    data_dir = resolve_data_dir(args.data_dir)
    form = read_form(args)
    try:
        engine = HostedEngine(build_engine(data_dir, args.device, args.dtype))
        result = engine.generate(
            form.request,
            model=form.model,
            on_progress=_progress_printer(args.quiet),
            single_file_config=args.config,
        )
    except EngineError as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:  # device or dtype flags
        raise CommandError(str(exc)) from None
    if result.provenance["is_demo"]:
        print("note: demo model (random weights): the images are noise.", file=sys.stderr)
    for note in result.provenance["notes"]:
        print(f"note: {note}", file=sys.stderr)
    paths = write_pngs(result, Path(args.out))  # the images are safe on disk first
    if not args.no_gallery:
        _record(result, data_dir)
    for path, seed in zip(paths, result.seeds, strict=True):
        print(f"{path}  seed={seed}")
    return 0
