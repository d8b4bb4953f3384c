"""`python app.py interrogate IMAGE [--json]`: read a picture into a Builder recipe with the
scores' CLIP and print its prompt and how sure each part is (`--json`: the recipe as Builder
fields with each term's score)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image

from ui.cli.errors import CommandError
from ui.refine.images import ImageInputError, open_picture
from ui.settings import resolve_data_dir


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `interrogate` sub-command."""
    parser = sub.add_parser(
        "interrogate",
        help="read a picture into a Builder recipe (CLIP-ranked terms per part)",
        description="Rank each Builder part's vocabulary against a picture with the scores' "
        "CLIP and print the recipe's prompt and how sure each part is.",
    )
    parser.add_argument("image", help="a PNG, JPEG or WebP picture")
    parser.add_argument("--json", action="store_true", help="print the recipe as JSON")
    parser.set_defaults(handler=run)


def read_picture(path: str) -> Image.Image:
    """The picture at `path`; `CommandError` with one line when it is missing or not one."""
    if Path(path).is_dir():
        raise CommandError(f"{path!r} is a folder; give one PNG, JPEG or WebP picture.")
    if not Path(path).is_file():
        raise CommandError(f"There is no file {path!r}.")
    try:
        return open_picture(path)
    except ImageInputError as exc:
        raise CommandError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Read the picture, print the recipe."""
    from ui.refine.readout import summary_lines
    from ui.refine.runner import interrogate, shared_interrogator

    picture = read_picture(args.image)
    interrogation = interrogate(shared_interrogator(resolve_data_dir(args.data_dir)), picture)
    if args.json:
        print(json.dumps(interrogation.to_dict(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(summary_lines(interrogation)))
    return 0
