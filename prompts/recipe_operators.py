"""Seeded edits of a recipe, the moves of refinement: add, drop or replace a facet's term,
re-weight a term by ±0.1 to ±0.3, swap a style.

Pure and reproducible: the same recipe, facets, guide and random generator give the same
variants. A `Guide` says where to look first: how likely each term of a facet is (for an image
target, its interrogation) and how often to touch each facet; without one every term and facet
is equally likely. A term the guide is sure of (its favourite, over `SURE_SHARE` of the
facet's weight) is only re-weighted, never replaced or dropped. A variant is one to
`max_edits` edits of its parent, each on another facet, never the parent itself nor a recipe
seen before; toward a target (`greedy`), the edits that set the guide's sure terms come on top.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from prompts.compose import POSITIVE_FIELD_ORDER
from prompts.facets import Facet
from prompts.recipe import Recipe
from prompts.recipe_terms import (
    FoundTerm,
    clamp_weight,
    drop_term,
    find_term,
    reweight_term,
    says,
    set_term,
)

Operation = Literal["add", "drop", "replace", "reweight", "swap"]
WEIGHT_STEPS: tuple[float, ...] = (-0.3, -0.2, -0.1, 0.1, 0.2, 0.3)
OPERATION_WEIGHTS: dict[str, float] = {
    "add": 1.0,
    "replace": 1.0,
    "swap": 1.0,
    "drop": 0.3,
    "reweight": 0.4,
}
MAX_TRIES_PER_VARIANT = 40
SURE_SHARE = 0.5  # a guide whose favourite holds more of a facet's weight than this is sure of it


@dataclass(frozen=True)
class Edit:
    """One operator applied: what it did to which facet."""

    operation: Operation
    facet: str
    old: str | None = None
    new: str | None = None
    old_weight: float = 1.0
    new_weight: float = 1.0

    def describe(self) -> str:
        """A short line for the page: '+ night', '- moonlight', 'red -> blue', 'red x1.2'."""
        if self.operation == "add":
            return f"+ {self.new}"
        if self.operation == "drop":
            return f"- {self.old}"
        if self.operation == "reweight":
            return f"{self.old} {self.old_weight:g} -> {self.new_weight:g}"
        return f"{self.old} -> {self.new}"

    def to_dict(self) -> dict[str, object]:
        return {
            "operation": self.operation,
            "facet": self.facet,
            "old": self.old,
            "new": self.new,
            "old_weight": self.old_weight,
            "new_weight": self.new_weight,
        }


@dataclass(frozen=True)
class Guide:
    """Where proposals look first: per facet, weights of its terms, and how often to touch it.

    Missing facets or terms fall back to `default_term` and `default_facet`."""

    terms: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    facets: Mapping[str, float] = field(default_factory=dict)
    default_term: float = 1.0
    default_facet: float = 1.0

    def term_weight(self, facet: str, term: str) -> float:
        return max(0.0, float(self.terms.get(facet, {}).get(term, self.default_term)))

    def facet_weight(self, facet: str) -> float:
        return max(0.0, float(self.facets.get(facet, self.default_facet)))


@dataclass(frozen=True)
class Variant:
    """A proposed recipe and the edits that made it from its parent."""

    recipe: Recipe
    edits: tuple[Edit, ...]

    def describe(self) -> str:
        return "; ".join(edit.describe() for edit in self.edits)


def recipe_key(recipe: Recipe) -> str:
    """What makes two recipes the same variant (their JSON, compact)."""
    return recipe.to_json(indent=None)


def propose_variants(
    parent: Recipe,
    facets: Sequence[Facet],
    rng: random.Random,
    count: int,
    *,
    guide: Guide | None = None,
    max_edits: int = 2,
    seen: Iterable[str] = (),
    greedy: bool = False,
) -> list[Variant]:
    """Up to `count` distinct variants of `parent` (fewer when the moves run out). With
    `greedy`, the first is the guide's best guess (`guided_variant`), and the others are drawn
    on top of the terms the guide is sure of (`settled`): what a confident reading of the
    target says is in every proposal, and the drawn edits explore the rest."""
    guide = guide or Guide()
    taken = {recipe_key(parent), *seen}
    variants: list[Variant] = []
    base = Variant(parent, ())
    if greedy and count > 0:
        best_guess = guided_variant(parent, facets, guide, max_edits)
        if best_guess is not None and recipe_key(best_guess.recipe) not in taken:
            taken.add(recipe_key(best_guess.recipe))
            variants.append(best_guess)
        base = settled(parent, facets, guide)
    tries = 0
    while len(variants) < count and tries < count * MAX_TRIES_PER_VARIANT:
        tries += 1
        recipe, edits = base.recipe, list(base.edits)
        for _ in range(rng.randint(1, max(1, max_edits))):
            touched = {edit.facet for edit in edits[len(base.edits) :]}
            step = apply_random_edit(recipe, facets, rng, guide, skip=touched)
            if step is None:
                break
            recipe, edit = step
            edits.append(edit)
        key = recipe_key(recipe)
        if len(edits) > len(base.edits) and key not in taken:
            taken.add(key)
            variants.append(Variant(recipe, tuple(edits)))
    return variants


def guided_variant(
    parent: Recipe, facets: Sequence[Facet], guide: Guide, max_edits: int
) -> Variant | None:
    """The parent moved toward the guide's favourite terms, in the facets where the parent
    holds another term: in every facet where the guide is sure (its favourite holds more than
    half the facet's weight; an interrogated picture's guide is sure of each term it chose,
    so the first proposal toward a picture is its whole reading), else in the `max_edits`
    facets where it is surest. None when the parent holds them all already."""
    picks = sorted(_toward(parent, facets, guide), key=lambda pick: -pick[0])
    sure = [pick for pick in picks if pick[0] > SURE_SHARE]
    chosen = sure if len(sure) > max_edits else picks[: max(1, max_edits)]
    moved = _set_terms(parent, facets, [(facet, term) for _, facet, term in chosen])
    return moved if moved.edits else None


def settled(parent: Recipe, facets: Sequence[Facet], guide: Guide) -> Variant:
    """`parent` holding every term the guide is sure of (its favourite holds more than
    `SURE_SHARE` of the facet's weight), with the edits that took it there (none when it
    holds them all)."""
    moves = [(facet, term) for share, facet, term in _toward(parent, facets, guide)
             if share > SURE_SHARE]  # fmt: skip
    return _set_terms(parent, facets, moves)


def _toward(
    parent: Recipe, facets: Sequence[Facet], guide: Guide
) -> list[tuple[float, Facet, str]]:
    """(share, facet, favourite) for each facet whose favourite `parent` does not hold and
    the rest of it does not say already, in the facets' order."""
    picks = []
    for facet in facets:
        if guide.facet_weight(facet.name) <= 0 or (best := favourite(guide, facet)) is None:
            continue
        term, share = best
        found = find_term(parent, facet)
        if (found is None or found.term != term) and not said_elsewhere(parent, facet, term):
            picks.append((share, facet, term))
    return picks


def _set_terms(
    parent: Recipe, facets: Sequence[Facet], moves: Sequence[tuple[Facet, str]]
) -> Variant:
    """`parent` with each (facet, term) of `moves` set in turn, keeping the weight a replaced
    term had; a term that what was set before it already says is left out."""
    recipe, edits = parent, []
    for facet, term in moves:
        if said_elsewhere(recipe, facet, term):
            continue
        found = find_term(recipe, facet)
        weight = found.weight if found is not None else 1.0
        operation: Operation = (
            "add" if found is None else ("swap" if facet.field == "styles" else "replace")
        )
        recipe = set_term(recipe, facet, term, weight, facets)
        edits.append(Edit(operation, facet.name, found.term if found else None, term, weight,
                          weight))  # fmt: skip
    return Variant(recipe, tuple(edits))


def favourite(guide: Guide, facet: Facet) -> tuple[str, float] | None:
    """The guide's likeliest term of `facet` (the first listed on a tie) and its share of the
    facet's weight; None when the guide gives the facet's terms no weight."""
    weights = {term: guide.term_weight(facet.name, term) for term in facet.terms}
    total = sum(weights.values())
    if total <= 0:
        return None
    term = max(weights, key=lambda t: (weights[t], -facet.terms.index(t)))
    return term, weights[term] / total


def is_sure_of(guide: Guide, facet: Facet, term: str) -> bool:
    """Whether `term` is the guide's favourite of `facet` with over `SURE_SHARE` of its weight."""
    best = favourite(guide, facet)
    return best is not None and best[0] == term and best[1] > SURE_SHARE


def apply_random_edit(
    recipe: Recipe,
    facets: Sequence[Facet],
    rng: random.Random,
    guide: Guide,
    skip: Collection[str] = (),
) -> tuple[Recipe, Edit] | None:
    """One operator, drawn among those that apply (not to the facets named in `skip`),
    applied; None when none applies."""
    moves = [m for m in available_moves(recipe, facets, guide) if m[1].name not in skip]
    if not moves:
        return None
    weights = [weight for _, _, _, weight in moves]
    operation, facet, found, _ = rng.choices(moves, weights=weights)[0]
    if operation == "drop":
        assert found is not None
        return drop_term(recipe, facet, found), Edit("drop", facet.name, found.term, None,
                                                     found.weight, 1.0)  # fmt: skip
    if operation == "reweight":
        assert found is not None
        weight = clamp_weight(found.weight + rng.choice(WEIGHT_STEPS))
        if weight == round(found.weight, 2):  # at a bound already
            return None
        new = reweight_term(recipe, facet, found, weight)
        return new, Edit("reweight", facet.name, found.term, found.term, found.weight, weight)
    rest = None if facet.slot is not None else _rest_of(recipe, facet, found)
    term = draw_term(facet, rng, guide, exclude=found.term if found else None, said_in=rest)
    if term is None:
        return None
    weight = found.weight if found is not None else 1.0
    new = set_term(recipe, facet, term, weight, facets)
    return new, Edit(operation, facet.name, found.term if found else None, term, weight, weight)


def available_moves(
    recipe: Recipe, facets: Sequence[Facet], guide: Guide
) -> list[tuple[Operation, Facet, FoundTerm | None, float]]:
    """Every (operation, facet, term it acts on, weight) that applies to `recipe`. A term the
    guide is sure of is neither replaced nor dropped, only re-weighted: a random move away
    from a confident reading of the target is noise the seeds' scores cannot tell apart."""
    moves: list[tuple[Operation, Facet, FoundTerm | None, float]] = []
    for facet in facets:
        touch = guide.facet_weight(facet.name)
        if touch <= 0:
            continue
        found = find_term(recipe, facet)
        change: Operation = "swap" if facet.field == "styles" else "replace"
        if found is None:
            moves.append(("add", facet, None, OPERATION_WEIGHTS["add"] * touch))
            continue
        kept = is_sure_of(guide, facet, found.term)  # a term the guide is sure of stays
        if len(facet.terms) > 1 and not kept:
            moves.append((change, facet, found, OPERATION_WEIGHTS[change] * touch))
        if facet.slot != "thing" and not kept:  # a subject keeps its thing
            moves.append(("drop", facet, found, OPERATION_WEIGHTS["drop"]))
        if facet.field != "styles":
            moves.append(("reweight", facet, found, OPERATION_WEIGHTS["reweight"] * touch))
    return moves


def draw_term(
    facet: Facet,
    rng: random.Random,
    guide: Guide,
    exclude: str | None = None,
    said_in: str | None = None,
) -> str | None:
    """A term of `facet` drawn by the guide's weights (never `exclude`, nor a term whose words
    `said_in` has already: "Watercolor" on a recipe whose medium is "watercolor")."""
    terms = [
        t
        for t in facet.terms
        if (exclude is None or t.casefold() != exclude.casefold())
        and (said_in is None or not says(said_in, t))
    ]
    weights = [guide.term_weight(facet.name, t) for t in terms]
    if not terms or sum(weights) <= 0:
        return None
    return rng.choices(terms, weights=weights)[0]


def own_words(recipe: Recipe) -> str:
    """The recipe's own words: its positive fields and its styles' names (not their
    templates, which are the library's)."""
    parts: list[str] = []
    for name in POSITIVE_FIELD_ORDER:
        value = getattr(recipe, name)
        parts.extend([value] if isinstance(value, str) else value)
    return ", ".join([*parts, *recipe.styles])


def said_elsewhere(recipe: Recipe, facet: Facet, term: str) -> bool:
    """Whether, outside the subject, the rest of `recipe` (all but `facet`'s term) already says
    `term`: no move adds it then, as interrogation does not."""
    return facet.slot is None and says(_rest_of(recipe, facet, find_term(recipe, facet)), term)


def _rest_of(recipe: Recipe, facet: Facet, found: FoundTerm | None) -> str:
    return own_words(drop_term(recipe, facet, found) if found is not None else recipe)
