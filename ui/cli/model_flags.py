"""The flags `generate` and `compare` share for the model's own settings: steps, guidance, size
and scheduler default to the model's (FLUX.1 dev 28 steps and guidance 3.5, schnell 4 and 0,
SD3.5 Large 28 and CFG 4.5, ...), and SD3/FLUX take `--max-sequence-length`, `--true-cfg` and
`--shift`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.schedulers import scheduler_names


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """Add --steps, --guidance, --width, --height, --scheduler (default: the model's) and the
    SD3/FLUX flags."""
    own = "(default: the model's own)"
    parser.add_argument("--steps", type=int, help=f"denoising steps {own}")
    parser.add_argument(
        "--guidance", type=float, help=f"CFG scale; FLUX: its distilled guidance {own}"
    )
    parser.add_argument("--width", type=int, help=f"pixels {own}")
    parser.add_argument("--height", type=int, help=f"pixels {own}")
    parser.add_argument(
        "--scheduler",
        choices=scheduler_names(),
        metavar="NAME",
        help=f"one of: {', '.join(scheduler_names())} {own}",
    )
    parser.add_argument(
        "--max-sequence-length",
        type=int,
        metavar="TOKENS",
        help="SD3/FLUX: T5 tokens read, 8-512 (default: the model's, FLUX dev 512, others 256)",
    )
    parser.add_argument(
        "--true-cfg",
        type=float,
        default=1.0,
        metavar="SCALE",
        help="FLUX: real CFG with the negative prompt when above 1 (default 1: off)",
    )
    parser.add_argument(
        "--shift", type=float, help="SD3/FLUX: the flow schedule's shift (default: the model's)"
    )


def model_values(args: argparse.Namespace, models_dir: Path) -> dict[str, Any]:
    """The flags as form values, a missing one from the model's own settings (read from its
    tokenizers and name, never its weights)."""
    from engine.tokenizer import load_clip_tokenizer
    from ui.model_fit import model_profile

    given = {
        "steps": args.steps,
        "guidance_scale": args.guidance,
        "width": args.width,
        "height": args.height,
        "scheduler": args.scheduler,
    }
    if any(value is None for value in given.values()):
        start = model_profile(args.model, models_dir, load_clip_tokenizer).start_values()
        own = {
            "steps": start["steps"],
            "guidance_scale": start["guidance"],
            "width": start["width"],
            "height": start["height"],
            "scheduler": start["scheduler"],
        }
        given = {name: own[name] if value is None else value for name, value in given.items()}
    return given | {
        "max_sequence_length": args.max_sequence_length,
        "true_cfg_scale": args.true_cfg,
        "shift": args.shift,
    }
