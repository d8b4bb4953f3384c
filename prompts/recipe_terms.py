"""Finding and changing one facet's term in a recipe, keeping valid A1111 text.

A list field's terms are its items (`"(moonlight:1.2)"` is the term "moonlight" at 1.2). A
subject slot's term is a word or phrase of the subject text ("a small (red:1.2) circle": the
colour slot holds "red" at 1.2); inserting one puts it in slot order (size, colour, thing) and
fixes the article ("a red circle" -> "an orange circle"). Weights are written `(term:1.2)`,
and a term back at 1.0 loses its brackets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from prompts.facets import SUBJECT_SLOTS, Facet, with_article
from prompts.recipe import Recipe
from prompts.weighting import PromptSyntaxError, parse_weighted

MIN_WEIGHT = 0.2
MAX_WEIGHT = 2.0
_ARTICLE = re.compile(r"^(a|an)\s+", re.IGNORECASE)
_ESCAPE = re.compile(r"([\\()\[\]:])")
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class FoundTerm:
    """A facet's term in a recipe: its plain text, weight and where it is."""

    term: str
    weight: float
    index: int  # a list field's item index, or the start of the span in the subject
    end: int = 0  # the end of the span in the subject


def says(prompt: str, term: str) -> bool:
    """Whether `prompt` has `term`'s words, in order, as words of its own (any case)."""
    words = " ".join(_WORD.findall(term.casefold()))
    return bool(words) and f" {words} " in f" {' '.join(_WORD.findall(prompt.casefold()))} "


def clamp_weight(weight: float) -> float:
    """A weight rounded to 0.01 and kept within MIN_WEIGHT..MAX_WEIGHT."""
    return min(MAX_WEIGHT, max(MIN_WEIGHT, round(weight, 2)))


def escape_term(text: str) -> str:
    """`text` with A1111's brackets, backslash and colon escaped."""
    return _ESCAPE.sub(r"\\\1", text)


def weighted(term: str, weight: float) -> str:
    """`term` at `weight` in A1111 syntax: bare at 1.0, else `(term:1.2)`."""
    weight = round(weight, 2)
    text = escape_term(term)
    return text if weight == 1.0 else f"({text}:{weight:g})"


def split_weight(text: str) -> tuple[str, float] | None:
    """`"(moonlight:1.2)"` -> ("moonlight", 1.2); None when the text has several weights."""
    try:
        segments = [s for s in parse_weighted(text) if not s.is_break and s.text.strip()]
    except PromptSyntaxError:
        return None
    if len(segments) != 1:
        return None
    return segments[0].text.strip(), segments[0].weight


def find_term(recipe: Recipe, facet: Facet) -> FoundTerm | None:
    """The first of `facet`'s terms present in the recipe (longest phrase first)."""
    if facet.slot is not None:
        return _find_in_subject(recipe.subject, facet)
    keys = {term.casefold(): term for term in facet.terms}
    for index, item in enumerate(getattr(recipe, facet.field)):
        parsed = split_weight(item)
        if parsed and parsed[0].casefold() in keys:
            return FoundTerm(keys[parsed[0].casefold()], parsed[1], index)
    return None


def list_terms(recipe: Recipe, field: str) -> list[FoundTerm]:
    """Every single-weight item of a list field (vocabulary terms or not)."""
    found = []
    for index, item in enumerate(getattr(recipe, field)):
        parsed = split_weight(item)
        if parsed:
            found.append(FoundTerm(parsed[0], parsed[1], index))
    return found


def set_term(
    recipe: Recipe, facet: Facet, term: str, weight: float = 1.0, facets: Sequence[Facet] = ()
) -> Recipe:
    """The recipe with `facet`'s term replaced by (or, if absent, set to) `term`. A new subject
    word goes before the first word of a later slot among `facets` (size, colour, thing)."""
    found = find_term(recipe, facet)
    if facet.slot is not None:
        return _set_in_subject(recipe, facet, found, weighted(term, weight), facets)
    items = list(getattr(recipe, facet.field))
    if found is None:
        items.append(weighted(term, weight))
    else:
        items[found.index] = weighted(term, weight)
    return replace(recipe, **{facet.field: tuple(items)})


def drop_term(recipe: Recipe, facet: Facet, found: FoundTerm) -> Recipe:
    """The recipe without `found` (a term of `facet`'s field)."""
    if facet.slot is not None:
        subject = recipe.subject[: found.index] + recipe.subject[found.end :]
        return replace(recipe, subject=_tidy_subject(subject))
    items = list(getattr(recipe, facet.field))
    del items[found.index]
    return replace(recipe, **{facet.field: tuple(items)})


def reweight_term(recipe: Recipe, facet: Facet, found: FoundTerm, weight: float) -> Recipe:
    """The recipe with `found` at `weight` (see `clamp_weight`)."""
    text = weighted(found.term, clamp_weight(weight))
    if facet.slot is not None:
        subject = recipe.subject[: found.index] + text + recipe.subject[found.end :]
        return replace(recipe, subject=_tidy_subject(subject))
    items = list(getattr(recipe, facet.field))
    items[found.index] = text
    return replace(recipe, **{facet.field: tuple(items)})


def _term_pattern(term: str) -> re.Pattern[str]:
    """`term` bare, or wrapped in one weighted group: `(term)`, `(term:1.2)`, `[term]`."""
    words = r"\s+".join(re.escape(word) for word in term.split())
    return re.compile(
        rf"\(\s*(?P<a>{words})\s*(?::\s*(?P<w>[-+]?\d*\.?\d+)\s*)?\)"
        rf"|\[\s*(?P<b>{words})\s*\]"
        rf"|(?<![\w\\])(?P<c>{words})(?!\w)",
        re.IGNORECASE,
    )


def _find_in_subject(subject: str, facet: Facet) -> FoundTerm | None:
    """The earliest of the facet's terms in the subject (the longest where two start there)."""
    best: tuple[int, int, str, re.Match[str]] | None = None
    for term in facet.terms:
        match = _term_pattern(term).search(subject)
        if match is not None:
            key = (match.start(), -len(match.group(0)), term, match)
            if best is None or key[:2] < best[:2]:
                best = key
    if best is None:
        return None
    _, _, term, match = best
    if match.group("a") is not None:
        weight = float(match.group("w")) if match.group("w") else 1.1
    elif match.group("b") is not None:
        weight = round(1 / 1.1, 6)
    else:
        weight = 1.0
    return FoundTerm(term, weight, match.start(), match.end())


def _set_in_subject(
    recipe: Recipe, facet: Facet, found: FoundTerm | None, text: str, facets: Sequence[Facet]
) -> Recipe:
    subject = recipe.subject.strip()
    if found is not None:
        subject = recipe.subject[: found.index] + text + recipe.subject[found.end :]
    else:
        order = SUBJECT_SLOTS.index(facet.slot or "thing")
        later = [f for f in facets if f.slot and SUBJECT_SLOTS.index(f.slot) > order]
        positions = [hit.index for f in later if (hit := _find_in_subject(subject, f))]
        if positions:
            at = min(positions)
            subject = f"{subject[:at]}{text} {subject[at:]}"
        else:
            subject = f"{subject} {text}"
    return replace(recipe, subject=_tidy_subject(subject))


def _tidy_subject(subject: str) -> str:
    """Single spaces, and "a"/"an" agreeing with the next word when the subject has one."""
    subject = re.sub(r"\s+", " ", subject).strip(" ,")
    match = _ARTICLE.match(subject)
    if match is None:
        return subject
    rest = subject[match.end() :].strip()
    return with_article(rest) if rest else ""
