"""The Builder's named endpoint for `gradio_client`: `compose_prompt` (a recipe in, the
composed prompt and negative prompt with their CLIP token counts out)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import gradio as gr

from prompts.compose import compose_prompt as compose_recipe
from prompts.recipe import Recipe, RecipeError
from prompts.styles import StyleError, StyleLibrary
from prompts.token_budget import count_tokens
from prompts.weighting import PromptSyntaxError
from ui.endpoints import Param, keyword_endpoint
from ui.messages import shown

TERM_FIELDS = (
    "styles",
    "medium",
    "lighting",
    "camera",
    "composition",
    "mood",
    "colour",
    "details",
    "quality",
    "negative",
)
COMPOSE_PARAMS = (
    Param("subject", str, ""),
    *(Param(name, list[str] | None, None) for name in TERM_FIELDS),
    Param("free_text", str, ""),
)


def compose(
    library: StyleLibrary, tokenizer: Callable[[], Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """Compose a recipe (`COMPOSE_PARAMS` by name) into prompts with their CLIP token counts."""
    try:
        recipe = Recipe(
            subject=values.get("subject") or "",
            free_text=values.get("free_text") or "",
            **{name: _terms(values.get(name)) for name in TERM_FIELDS},
        )
        composed = compose_recipe(recipe, library)
        budget = count_tokens(composed.positive, tokenizer())
        negative_budget = count_tokens(composed.negative, tokenizer())
    except (RecipeError, StyleError, PromptSyntaxError) as exc:
        raise gr.Error(shown(exc)) from None
    return {
        "prompt": composed.positive,
        "negative_prompt": composed.negative,
        "styles": list(composed.styles),
        "removed_duplicates": list(composed.removed_duplicates),
        "tokens": budget.token_count,
        "chunks": len(budget.chunks),
        "negative_tokens": negative_budget.token_count,
        "recipe": recipe.to_dict(),
    }


def _terms(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(item) for item in value]


def register_compose_api(library: StyleLibrary, tokenizer: Callable[[], Any]) -> None:
    """Add the `compose_prompt` endpoint to the current Blocks."""
    endpoint = keyword_endpoint(
        "compose_prompt",
        COMPOSE_PARAMS,
        partial(compose, library, tokenizer),
        returns=dict[str, Any],
        doc="Compose a recipe into a prompt and negative prompt with their token counts.",
    )
    gr.api(endpoint, api_name="compose_prompt", concurrency_limit=None)
