"""`python app.py expand "a red fox" --seed 3`: expand a prompt with descriptive terms.

Prints the prompt as given, the terms the language model added, and the final prompt. Without
`--model`, the default hub prompt model is used when it is cached or the hub answers; otherwise
the built-in demo LM, which the output names plainly.
"""

from __future__ import annotations

import argparse
import json
import random
import sys

from ui.cli.errors import CommandError

MAX_TERMS_LIMIT = 32


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `expand` sub-command."""
    parser = subparsers.add_parser(
        "expand",
        help="append descriptive terms to a prompt with a language model",
        description="Continue a prompt with descriptive terms from assets/expansion/"
        "vocabulary.txt, chosen by a causal language model. The same prompt, seed and model "
        "always give the same terms.",
    )
    parser.add_argument("prompt", help="the prompt to expand")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for the expansion (default: a random one)"
    )
    parser.add_argument(
        "--model",
        default=None,
        help="hub id or folder of a causal LM, or 'demo' (default: a GPT-2 prompt model from "
        "the hub when cached or reachable, else the demo LM)",
    )
    parser.add_argument(
        "--max-terms", type=int, default=6, help="at most this many added terms (default: 6)"
    )
    parser.add_argument(
        "--no-examples", action="store_true", help="do not show the model the few-shot examples"
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Expand the prompt and print original, added and final."""

    if not args.prompt.strip():
        raise CommandError("Enter a prompt to expand.")
    if not 0 <= args.max_terms <= MAX_TERMS_LIMIT:
        raise CommandError(f"--max-terms must be between 0 and {MAX_TERMS_LIMIT}.")
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    if seed < 0:
        raise CommandError("--seed must be 0 or more.")

    from transformers.utils import logging as transformers_logging

    from engine.prompt_expansion import (
        DEFAULT_EXPANSION_MODEL,
        DEMO_MODEL_NAME,
        ExpansionModelError,
        PromptExpander,
        resolve_expansion_model,
    )
    from ui.settings import models_dir, resolve_data_dir

    transformers_logging.disable_progress_bar()
    try:
        if args.model in (None, DEMO_MODEL_NAME):
            cache = models_dir(resolve_data_dir(args.data_dir))
            model_ref, is_demo = resolve_expansion_model(
                cache, args.model or DEFAULT_EXPANSION_MODEL
            )
        else:
            model_ref, is_demo = args.model, False
        expander = PromptExpander(model_ref, device=args.device)
        result = expander.expand(
            args.prompt, seed, max_terms=args.max_terms, use_examples=not args.no_examples
        )
        is_demo = is_demo or expander.is_demo
    except (ExpansionModelError, ValueError) as exc:
        raise CommandError(str(exc)) from exc

    if args.json:
        print(json.dumps({**result.to_dict(), "is_demo": is_demo}, ensure_ascii=False))
        return 0
    model_line = (
        f"demo LM (random weights, for trying the app offline) at {model_ref}"
        if is_demo
        else model_ref
    )
    if is_demo and args.model is None:
        print(
            f"note: {DEFAULT_EXPANSION_MODEL} is not cached and the hub is off or did not answer, "
            "so the demo LM wrote these terms.",
            file=sys.stderr,
        )
    print(f"model:    {model_line}")
    print(f"seed:     {seed}")
    print(f"original: {result.original}")
    print(f"added:    {result.added_text or '(nothing)'}")
    print(f"final:    {result.final}")
    return 0
