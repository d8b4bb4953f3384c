"""`python app.py generate PROMPT ...`: headless generation for scripts."""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
import uuid
from pathlib import Path

from engine.errors import EngineError
from engine.request import validate_request
from engine.result import GenerationResult, ProgressUpdate
from ui.cli.errors import CommandError
from ui.cli.model_flags import add_model_flags, model_values
from ui.cli.paths import out_folder
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
    parser.add_argument(
        "--out", type=out_folder, default="outputs", help="folder for the PNGs (default: ./outputs)"
    )
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
    """Save each image with its settings embedded; returns the paths. `OutputError` when the
    folder cannot take them (the images written before stay, no partial file is left)."""
    from ui.recording import png_bytes_with_metadata

    paths: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for index, seed in enumerate(result.seeds):
            data = png_bytes_with_metadata(result, index)
            paths.append(write_new_file(out_dir / output_name(result.prompts[index], seed), data))
    except OSError as exc:
        raise OutputError(_write_failure(exc, out_dir), paths) from None
    return paths


class OutputError(Exception):
    """The `--out` folder could not take every image: one sentence, and the files written."""

    def __init__(self, message: str, written: list[Path]) -> None:
        super().__init__(message)
        self.written = written


def _write_failure(exc: OSError, out_dir: Path) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        from gallery.outages import free_megabytes

        left = free_megabytes(out_dir)
        have = f" ({left} MB left)" if left is not None else ""
        return f"The disk is full: the images do not fit in {out_dir}{have}; free some space."
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"Cannot write the images to {out_dir}: {reason}."


def write_new_file(path: Path, data: bytes) -> Path:
    """Write `data` to `path`, or to `name-2.png`, `name-3.png`, ... when taken: an earlier
    file is never overwritten. The bytes go to a temporary file first, fsynced, then get their
    name by a hard link, which fails when the name exists (so two runs at once cannot clash),
    so a full disk or a kill never leaves a truncated file under a final name."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        for number in range(1, 10_000):
            candidate = (
                path if number == 1 else path.with_name(f"{path.stem}-{number}{path.suffix}")
            )
            try:
                os.link(temporary, candidate)
            except FileExistsError:
                continue
            return candidate
        raise OSError(errno.EEXIST, f"Too many files named like {path.name} already")
    finally:
        temporary.unlink(missing_ok=True)


def _record(result: GenerationResult, data_dir: Path) -> list[int] | str:
    """Record the images in the gallery: their ids, or why they were not recorded (one line;
    the PNGs written stay written)."""
    from sqlalchemy.exc import SQLAlchemyError

    from gallery.errors import GalleryError
    from gallery.owners import LOCAL_OWNER
    from gallery.store import GalleryStore
    from ui.recording import record_result
    from ui.settings import gallery_dir

    try:
        with GalleryStore.open(gallery_dir(data_dir)) as store:
            return record_result(store.for_owner(LOCAL_OWNER), result)
    except (GalleryError, OSError, SQLAlchemyError) as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


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
        # Bad flags (size, steps, seed, clip skip) are answered before torch is imported.
        validate_request(form.request)
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
    try:
        paths = write_pngs(result, Path(args.out))  # the images are safe on disk first
    except OutputError as exc:
        for path, seed in zip(exc.written, result.seeds, strict=False):
            print(f"{path}  seed={seed}")
        # The gallery may be on another disk: keep the images there, in the same one line.
        recorded = _record(result, data_dir) if not args.no_gallery else "--no-gallery"
        kept = (
            f" They are in the gallery as {_ids(recorded)}." if isinstance(recorded, list) else ""
        )
        raise CommandError(f"{exc}{kept}") from None
    if not args.no_gallery:
        recorded = _record(result, data_dir)
        if isinstance(recorded, str):
            print(
                f"warning: the images were not recorded in the gallery: {recorded}", file=sys.stderr
            )
        else:
            print(f"recorded in the gallery as {_ids(recorded)}", file=sys.stderr)
    for path, seed in zip(paths, result.seeds, strict=True):
        print(f"{path}  seed={seed}")
    return 0
