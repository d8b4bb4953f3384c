"""Variant generators for the Compare tab: each turns one prompt into labelled variants.

- `prompt_search_replace`: A1111's Prompt S/R — `"red, blue, green"` swaps every `red` in the
  prompt for each value in turn (the first variant is the prompt as written).
- `prompt_matrix`: A1111's prompt matrix — `base | opt1 | opt2` gives every subset of the
  optional parts, joined to the base with `, `.
- `style_sweep`: one subject through several styles.
- `ablation_variants`: the full prompt, then one variant per term with that term removed (the
  terms of `prompts.ablation_terms`: comma phrases, or the words and phrases of a comma-free
  prompt).

Labels default to a short form of the prompt (`default_label`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prompts.ablation_terms import split_for_ablation
from prompts.compose import split_terms
from prompts.styles import Style

MIN_VARIANTS, MAX_VARIANTS = 2, 8
LABEL_CHARS = 40


class VariantError(ValueError):
    """A generator cannot make variants from what it was given; the message says why."""


@dataclass(frozen=True)
class PromptVariant:
    """One arm of a comparison: a short label and the prompts it uses."""

    label: str
    prompt: str
    negative_prompt: str = ""
    removed_term: str | None = None  # set for ablation variants


def default_label(prompt: str) -> str:
    """A variant's label when none is typed: the prompt, shortened to `LABEL_CHARS`."""
    text = " ".join(prompt.split()) or "(empty prompt)"
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


MAX_LABEL_CHARS = 190  # the gallery keeps 200: room for a number such as " (12)"


def unique_labels(labels: Iterable[str]) -> list[str]:
    """The labels, cut to `MAX_LABEL_CHARS`, with repeats numbered (`fox`, `fox (2)`), since
    variant names must differ (also as the gallery stores them, at most 200 characters)."""
    seen: dict[str, int] = {}
    result = []
    for label in labels:
        label = label.strip()[:MAX_LABEL_CHARS].strip() or "variant"
        count = seen.get(label.casefold(), 0) + 1
        seen[label.casefold()] = count
        result.append(label if count == 1 else f"{label} ({count})")
    return result


def check_count(variants: Sequence[PromptVariant]) -> None:
    """Raise VariantError unless there are 2 to 8 variants."""
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        raise VariantError(
            f"A comparison takes {MIN_VARIANTS} to {MAX_VARIANTS} variants; "
            f"this gives {len(variants)}."
        )


def parse_value_list(text: str) -> list[str]:
    """A comma-separated list as A1111 reads it (CSV: quotes keep commas), stripped."""
    rows = list(csv.reader(io.StringIO(text.strip()), skipinitialspace=True))
    values = [value.strip() for row in rows for value in row]
    return [value for value in values if value]


def prompt_search_replace(
    prompt: str, values: str, negative_prompt: str = ""
) -> list[PromptVariant]:
    """A1111 Prompt S/R: the first value is searched for, each value replaces it in turn."""
    items = parse_value_list(values)
    if len(items) < 2:
        raise VariantError(
            "Prompt S/R needs a term and at least one replacement, e.g. 'red, blue'."
        )
    search = items[0]
    if search not in prompt:
        raise VariantError(f"The prompt does not contain '{search}', the first S/R value.")
    variants = [
        PromptVariant(value, prompt.replace(search, value), negative_prompt) for value in items
    ]
    check_count(variants)
    return variants


def prompt_matrix(prompt: str, negative_prompt: str = "") -> list[PromptVariant]:
    """A1111 prompt matrix: `base | a | b` gives base, base+a, base+b, base+a+b (in that order)."""
    parts = [part.strip().strip(",").strip() for part in prompt.split("|")]
    base, optional = parts[0], [part for part in parts[1:] if part]
    if not optional:
        raise VariantError("A prompt matrix needs optional parts after '|', e.g. 'a fox | snow'.")
    if 2 ** len(optional) > MAX_VARIANTS:
        raise VariantError(
            f"A prompt matrix of {len(optional)} optional parts makes {2 ** len(optional)} "
            f"variants; the limit is {MAX_VARIANTS} (3 optional parts)."
        )
    variants = []
    for combination in range(2 ** len(optional)):
        chosen = [term for bit, term in enumerate(optional) if combination & (1 << bit)]
        text = ", ".join(part for part in [base, *chosen] if part)
        label = " + ".join(["base", *chosen]) if chosen else "base"
        variants.append(PromptVariant(label, text, negative_prompt))
    return variants


def style_sweep(
    subject: str, styles: Sequence[Style], negative_prompt: str = ""
) -> list[PromptVariant]:
    """One subject through each style; the style's negative joins the given one."""
    if not subject.strip():
        raise VariantError("A style sweep needs a subject.")
    variants = []
    for style in styles:
        negative = ", ".join(
            p for p in (negative_prompt.strip(), style.negative_prompt.strip()) if p
        )
        variants.append(PromptVariant(style.name, style.apply(subject.strip()), negative))
    check_count(variants)
    return variants


def prompt_terms(prompt: str) -> list[str]:
    """The prompt's terms: comma phrases, a bracketed group (commas inside) counting as one."""
    return [t.strip() for t in split_terms(prompt) if t.strip() and t.strip() != "BREAK"]


def ablation_variants(
    prompt: str, negative_prompt: str = "", max_terms: int = 16
) -> list[PromptVariant]:
    """The full prompt first, then one variant per term with that term removed."""
    split = split_for_ablation(prompt)
    terms = split.terms
    if len(terms) < 2:
        raise VariantError(
            "Ablation needs a prompt of at least two terms (words or comma-separated phrases)."
        )
    if len(terms) > max_terms:
        raise VariantError(
            f"The prompt has {len(terms)} terms; ablation takes at most {max_terms}."
        )
    labels = unique_labels(["full prompt", *(f"− {term}" for term in terms)])
    variants = [PromptVariant(labels[0], split.full(), negative_prompt)]
    for index, term in enumerate(terms):
        variants.append(
            PromptVariant(labels[index + 1], split.without(index), negative_prompt, term)
        )
    return variants
