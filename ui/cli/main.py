"""Command line: `python app.py [--data-dir DIR] [SUB-COMMAND ...]`.

Each sub-command lives in `ui/cli/<name>.py` with `register(subparsers)`, which adds its
parser and sets `handler` to a function taking the parsed args and returning an exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ui.cli import (
    compare,
    compose,
    expand,
    gallery,
    generate,
    interrogate,
    refine,
    serve,
    styles,
)
from ui.cli.errors import CommandError

COMMAND_MODULES = (generate, compare, serve, expand, compose, gallery, styles, interrogate, refine)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description="Prompt Atelier: craft, generate, compare and keep text-to-image prompts. "
        "With no sub-command, starts the web app.",
    )
    parser.add_argument(
        "--data-dir",
        help="folder for the demo model cache and the gallery "
        "(default: ATELIER_DATA_DIR, /data on a Space, else the per-user data folder)",
    )
    sub = parser.add_subparsers(dest="command", metavar="SUB-COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    _data_dir_after_the_sub_command(parser, set())
    return parser


def _data_dir_after_the_sub_command(parser: argparse.ArgumentParser, seen: set[int]) -> None:
    """`--data-dir` is read after any sub-command too (`generate ... --data-dir DIR`), where it
    wins over one given before; its help stays on the top-level parser."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for child in action.choices.values():
            if id(child) in seen:  # an alias names the same parser
                continue
            seen.add(id(child))
            child.add_argument("--data-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            _data_dir_after_the_sub_command(child, seen)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse argv and run the chosen sub-command (or the web app); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        from ui.cli.main import serve

        handler = serve.run
    try:
        return int(handler(args) or 0)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head` stopped reading: stop quietly, as `ls | head` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        return 141
