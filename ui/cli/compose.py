"""`python app.py compose ...`: build a prompt from recipe fields and show how it tokenizes.

    python app.py compose --subject "a lighthouse" --style "Oil Painting" \\
        --lighting "golden hour" --negative "blurry"
    python app.py compose --list-styles paint
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from gallery.errors import GalleryError
from prompts.compose import ComposedPrompt, compose_prompt
from prompts.recipe import Recipe
from prompts.styles import StyleLibrary
from prompts.token_budget import CHUNK_LENGTH, TokenBudget, count_tokens
from prompts.wildcards import (
    WildcardChoice,
    has_wildcards,
    load_wildcard_lists,
    resolve_wildcards,
    user_wildcards_dir,
)
from ui.cli.errors import CommandError
from ui.cli.styles import style_library
from ui.settings import resolve_data_dir

# (flag, recipe field, help) for the repeatable list fields, in prompt order.
LIST_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("--style", "styles", "a style name (see --list-styles); repeat to apply several in order"),
    ("--detail", "details", "a detail of the subject"),
    ("--medium", "medium", "a medium, e.g. 'watercolor'"),
    ("--lighting", "lighting", "a lighting term, e.g. 'golden hour'"),
    ("--camera", "camera", "a camera, lens or shot term, e.g. '85mm lens'"),
    ("--composition", "composition", "a composition term, e.g. 'rule of thirds'"),
    ("--mood", "mood", "a mood, e.g. 'serene'"),
    ("--colour", "colour", "a colour palette term, e.g. 'teal and orange'"),
    ("--quality", "quality", "a quality term, e.g. 'highly detailed'"),
    ("--negative", "negative", "a negative term, e.g. 'blurry'"),
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `compose` sub-command."""
    parser = sub.add_parser(
        "compose",
        help="compose a prompt from recipe fields and styles; print it with its token count",
        description="Compose the final positive and negative prompts from recipe fields. "
        "List flags can be repeated; weights like (red:1.3) pass through untouched.",
    )
    parser.add_argument("--subject", metavar="TEXT", help="what the image shows")
    for flag, field, help_text in LIST_FLAGS:
        names = [flag, "--color"] if field == "colour" else [flag]
        metavar = "NAME" if field == "styles" else "TERM"
        parser.add_argument(
            *names, dest=field, action="append", default=[], metavar=metavar, help=help_text
        )
    parser.add_argument(
        "--text", dest="free_text", metavar="TEXT", help="free text added after the other fields"
    )
    parser.add_argument(
        "--recipe", metavar="FILE", help="start from this recipe JSON file; flags add to it"
    )
    parser.add_argument(
        "--seed", type=int, metavar="N", help="resolve wildcards ({a|b}, __name__) with this seed"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--list-styles",
        nargs="?",
        const="",
        metavar="QUERY",
        help="list the styles whose name or category contains QUERY (all without one)",
    )
    parser.add_argument("--category", metavar="NAME", help="with --list-styles: only this category")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Compose and print the prompts (or list styles)."""

    data_dir = resolve_data_dir(args.data_dir)
    try:
        with style_library(data_dir) as library:
            return _compose(args, library, data_dir)
    except GalleryError as exc:
        raise CommandError(str(exc)) from None


def _compose(args: argparse.Namespace, library: StyleLibrary, data_dir: Path) -> int:

    try:
        if args.list_styles is not None:
            return _list_styles(library, args.list_styles, args.category, as_json=args.json)
        recipe = build_recipe(args)
        composed = compose_prompt(recipe, library)
        if not (composed.positive.strip() or composed.negative.strip()):
            raise CommandError(
                "Nothing to compose: give a --subject, a --style or some terms (see --help)."
            )
        choices: tuple[WildcardChoice, ...] | None = None
        if args.seed is not None:
            composed, choices = _resolve_wildcards(composed, args.seed, data_dir)
        from engine.tokenizer import load_clip_tokenizer

        tokenizer = load_clip_tokenizer()
        budgets = {
            "positive": count_tokens(composed.positive, tokenizer),
            "negative": count_tokens(composed.negative, tokenizer),
        }
    except ValueError as exc:
        raise CommandError(str(exc)) from None

    if args.json:
        print(json.dumps(_as_document(recipe, composed, choices, budgets, args.seed), indent=2))
    else:
        _print_text(composed, choices, budgets, args.seed)
    return 0


def _resolve_wildcards(
    composed: ComposedPrompt, seed: int, data_dir: Path
) -> tuple[ComposedPrompt, tuple[WildcardChoice, ...]]:
    """Both prompts with wildcards resolved from `seed` (built-in and the user's lists)."""
    lists = load_wildcard_lists(user_wildcards_dir(data_dir))
    positive = resolve_wildcards(composed.positive, seed, lists)
    negative = resolve_wildcards(composed.negative, seed, lists)
    resolved = replace(composed, positive=positive.text, negative=negative.text)
    return resolved, positive.choices + negative.choices


def build_recipe(args: argparse.Namespace) -> Recipe:
    """The recipe from `--recipe` (if any) with the flags added: list flags append, text flags
    replace."""

    base = Recipe()
    if args.recipe:
        try:
            base = Recipe.from_json(Path(args.recipe).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"Cannot read recipe {args.recipe}: {exc.strerror}.") from None
    values = base.to_dict()
    values.pop("version")
    for _, field, _ in LIST_FLAGS:
        values[field] = values[field] + list(getattr(args, field))
    for field in ("subject", "free_text"):
        if getattr(args, field) is not None:
            values[field] = getattr(args, field)
    return Recipe.from_dict(values)


def _list_styles(library: StyleLibrary, query: str, category: str | None, *, as_json: bool) -> int:
    styles = library.search(query, category)
    if as_json:
        print(json.dumps([style.to_dict() for style in styles], indent=2, ensure_ascii=False))
        return 0
    if not styles:
        print(f"no styles match {query!r}", file=sys.stderr)
        return 1
    width = max(len(style.name) for style in styles)
    for style in styles:
        print(f"{style.name:<{width}}  {style.category}")
    return 0


def _print_text(
    composed: ComposedPrompt,
    choices: tuple[WildcardChoice, ...] | None,
    budgets: dict[str, TokenBudget],
    seed: int | None,
) -> None:
    print(f"positive: {composed.positive}")
    print(f"negative: {composed.negative}")
    if composed.styles:
        print(f"styles: {', '.join(composed.styles)}")
    if choices:
        print(f"wildcards (seed {seed}):")
        for choice in choices:
            print(f"  {choice.source} -> {choice.chosen}")
    elif choices is None and has_wildcards(composed.positive + composed.negative):
        print("wildcards: left as written; pass --seed to resolve them")
    for name, budget in budgets.items():
        chunks = len(budget.chunks)
        print(f"{name} tokens: {budget.token_count} in {chunks} chunk{'s' * (chunks != 1)}")
        for line in budget.describe():
            print(f"  {line}")


def _as_document(
    recipe: Recipe,
    composed: ComposedPrompt,
    choices: tuple[WildcardChoice, ...] | None,
    budgets: dict[str, TokenBudget],
    seed: int | None,
) -> dict[str, Any]:
    return {
        "recipe": recipe.to_dict(),
        "positive": composed.positive,
        "negative": composed.negative,
        "styles": list(composed.styles),
        "removed_duplicates": list(composed.removed_duplicates),
        "seed": seed,
        "wildcard_choices": [{"source": c.source, "chosen": c.chosen} for c in choices or ()],
        "tokens": {
            name: {
                "count": budget.token_count,
                "chunk_length": CHUNK_LENGTH,
                "chunks": [
                    {
                        "tokens": chunk.token_count,
                        "first_word": chunk.first_word,
                        "last_word": chunk.last_word,
                        "ended_by": chunk.ended_by,
                        "splits_word": chunk.splits_word,
                    }
                    for chunk in budget.chunks
                ],
                "cut_words": list(budget.cut_words),
            }
            for name, budget in budgets.items()
        },
    }
