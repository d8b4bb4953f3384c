"""Refinement's moves on a recipe: add, drop, replace, re-weight a term, swap a style; always
valid A1111 text, seeded and reproducible."""

from __future__ import annotations

import random

import pytest

from prompts.compose import compose_prompt
from prompts.facets import facet_named, load_facets
from prompts.recipe import Recipe
from prompts.recipe_operators import (
    WEIGHT_STEPS,
    Guide,
    apply_random_edit,
    guided_variant,
    propose_variants,
    recipe_key,
)
from prompts.recipe_terms import (
    MAX_WEIGHT,
    drop_term,
    find_term,
    reweight_term,
    set_term,
    split_weight,
    weighted,
)
from prompts.styles import StyleLibrary
from prompts.weighting import parse_weighted

LIBRARY = StyleLibrary()
FACETS = load_facets(LIBRARY.all())
START = Recipe(subject="a small red circle", lighting=("moonlight",), styles=("Pixel Art",))


def facet(name: str):
    return facet_named(FACETS, name)


def plain_words(prompt: str) -> str:
    return " ".join("".join(s.text for s in parse_weighted(prompt) if not s.is_break).split())


def test_a_term_is_set_in_its_slot_order_and_the_article_follows():
    recipe = Recipe(subject="a circle")
    recipe = set_term(recipe, facet("subject.colour"), "orange", facets=FACETS)
    assert recipe.subject == "an orange circle"
    recipe = set_term(recipe, facet("subject.size"), "small", facets=FACETS)
    assert recipe.subject == "a small orange circle"
    recipe = set_term(recipe, facet("subject.colour"), "red", 1.2, facets=FACETS)
    assert recipe.subject == "a small (red:1.2) circle"
    recipe = set_term(recipe, facet("lighting"), "night")
    assert recipe.lighting == ("night",)


def test_terms_are_found_bare_or_weighted_and_dropped_or_reweighted():
    recipe = Recipe(subject="a small (red:1.3) circle", lighting=("(moonlight:0.8)", "rim light"))
    colour = find_term(recipe, facet("subject.colour"))
    assert (colour.term, colour.weight) == ("red", 1.3)
    assert drop_term(recipe, facet("subject.colour"), colour).subject == "a small circle"
    light = find_term(recipe, facet("lighting"))
    assert (light.term, light.weight, light.index) == ("moonlight", 0.8, 0)
    assert reweight_term(recipe, facet("lighting"), light, 1.0).lighting == (
        "moonlight",
        "rim light",
    )
    assert reweight_term(recipe, facet("lighting"), light, 9).lighting[0] == (
        f"(moonlight:{MAX_WEIGHT:g})"
    )
    size = find_term(recipe, facet("subject.size"))
    assert drop_term(recipe, facet("subject.size"), size).subject == "a (red:1.3) circle"


def test_weights_are_written_as_a1111_reads_them():
    for term in ("moonlight", "f/1.4", "a (tricky) term: yes"):
        for weight in (0.7, 1.0, 1.25):
            text = weighted(term, weight)
            assert split_weight(text) == (term, weight)


def test_every_variant_is_valid_a1111_text_that_round_trips():
    rng = random.Random(0)
    recipe, seen = START, set()
    for _ in range(30):
        variants = propose_variants(recipe, FACETS, rng, 6, max_edits=3, seen=seen)
        assert variants
        for variant in variants:
            prompt = compose_prompt(variant.recipe, LIBRARY).positive
            segments = parse_weighted(prompt)  # raises on malformed text
            assert all(0.2 <= s.weight <= MAX_WEIGHT for s in segments if not s.is_break)
            weights = {s.text.strip(" ,"): s.weight for s in segments}
            for edit in variant.edits:
                if edit.operation != "reweight" or edit.facet == "subject.thing":
                    continue
                if edit.new_weight == 1.0:  # back at 1.0: bare, its brackets gone
                    assert edit.new in prompt and f"({edit.new}" not in prompt
                else:
                    assert weights.get(edit.new) == edit.new_weight, (prompt, edit)
            assert Recipe.from_json(variant.recipe.to_json()) == variant.recipe
            seen.add(recipe_key(variant.recipe))
        recipe = variants[-1].recipe


def test_variants_are_seeded_distinct_and_never_the_parent():
    first = propose_variants(START, FACETS, random.Random(7), 10, max_edits=3)
    again = propose_variants(START, FACETS, random.Random(7), 10, max_edits=3)
    other = propose_variants(START, FACETS, random.Random(8), 10, max_edits=3)
    assert [v.recipe for v in first] == [v.recipe for v in again]
    assert [v.recipe for v in first] != [v.recipe for v in other]
    keys = [recipe_key(v.recipe) for v in first]
    assert len(set(keys)) == len(keys) and recipe_key(START) not in keys
    for variant in first:
        assert 1 <= len(variant.edits) <= 3
        assert len({e.facet for e in variant.edits}) == len(variant.edits)


def test_reweighting_moves_a_term_by_a_tenth_to_three_tenths():
    guide = Guide(facets={"lighting": 1.0}, default_facet=0.0)
    rng = random.Random(3)
    steps = set()
    for _ in range(60):
        step = apply_random_edit(START, FACETS, rng, guide)
        assert step is not None
        recipe, edit = step
        if edit.operation == "reweight":
            steps.add(round(edit.new_weight - edit.old_weight, 2))
            assert recipe.lighting[0] == f"(moonlight:{edit.new_weight:g})"
    assert steps and steps <= set(WEIGHT_STEPS)


def test_the_guide_decides_which_terms_and_facets_are_tried():
    guide = Guide(
        terms={"lighting": {"night": 1.0}},
        facets={"lighting": 1.0},
        default_term=0.0,
        default_facet=0.0,
    )
    recipe = Recipe(subject="a circle")
    for seed in range(20):
        variant = propose_variants(recipe, FACETS, random.Random(seed), 1, guide=guide)[0]
        assert variant.recipe.lighting == ("night",)
        assert variant.recipe.subject == "a circle"


def test_a_style_is_swapped_for_another_and_the_subject_keeps_its_thing():
    guide = Guide(facets={"styles": 1.0, "subject.thing": 1.0}, default_facet=0.0)
    swaps = 0
    for seed in range(40):
        for variant in propose_variants(START, FACETS, random.Random(seed), 3, guide=guide):
            assert find_term(variant.recipe, facet("subject.thing")) is not None
            for edit in variant.edits:
                if edit.facet == "styles":
                    assert edit.operation in ("swap", "drop")
                    if edit.operation == "swap":
                        swaps += 1
                        assert variant.recipe.styles == (edit.new,) and edit.new != "Pixel Art"
                        assert edit.new in LIBRARY
    assert swaps


@pytest.mark.parametrize("subject", ["a shape", "shape", "a (shape:0.9)"])
def test_a_vague_subject_gains_words_in_place(subject):
    recipe = Recipe(subject=subject)
    recipe = set_term(recipe, facet("subject.colour"), "red", facets=FACETS)
    recipe = set_term(recipe, facet("subject.thing"), "star", facets=FACETS)
    assert plain_words(recipe.subject).endswith("red star")


def test_the_guides_best_guess_comes_first_where_it_is_surest():
    guide = Guide(
        terms={
            "subject.thing": {"star": 0.5, "circle": 0.5},  # unsure
            "subject.colour": {"blue": 0.9, "red": 0.1},
            "lighting": {"night": 0.95, "moonlight": 0.05},
        },
        facets={"subject.thing": 1.0, "subject.colour": 1.0, "lighting": 1.0},
        default_term=0.0,
        default_facet=0.0,
    )
    parent = Recipe(subject="a shape")
    first = propose_variants(parent, FACETS, random.Random(0), 3, guide=guide, max_edits=2,
                             greedy=True)[0]  # fmt: skip
    assert first.recipe == Recipe(subject="a blue shape", lighting=("night",))
    assert [e.describe() for e in first.edits] == ["+ night", "+ blue"]
    whole = guided_variant(parent, FACETS, guide, max_edits=3)
    assert whole.recipe.subject == "a blue circle"  # the tie goes to the vocabulary's order
    assert guided_variant(whole.recipe, FACETS, guide, max_edits=3) is None


def test_where_the_guide_is_sure_of_more_facets_than_the_edit_limit_it_moves_them_all():
    guide = Guide(
        terms={
            "subject.thing": {"star": 0.8, "circle": 0.2},
            "subject.colour": {"blue": 0.9, "red": 0.1},
            "lighting": {"night": 0.95, "moonlight": 0.05},
            "composition": {"rule of thirds": 0.5, "centered composition": 0.5},  # unsure
        },
        facets=dict.fromkeys(("subject.thing", "subject.colour", "lighting", "composition"), 1.0),
        default_term=0.0,
        default_facet=0.0,
    )
    guess = guided_variant(Recipe(subject="a shape"), FACETS, guide, max_edits=2)
    assert guess.recipe == Recipe(subject="a blue star", lighting=("night",))
    assert len(guess.edits) == 3  # every sure facet, past the limit of 2; the unsure one left


def test_random_moves_keep_the_terms_the_guide_is_sure_of_and_may_reweight_them():
    guide = Guide(
        terms={
            "subject.colour": {"purple": 0.9, "pink": 0.1},  # sure
            "lighting": {"night": 0.5, "moonlight": 0.5},  # unsure
        },
        facets={"subject.colour": 1.0, "lighting": 1.0},
        default_term=0.0,
        default_facet=0.0,
    )
    parent = Recipe(subject="a purple star", lighting=("night",))
    colour = facet("subject.colour")
    colour_moves, lighting_moves = set(), set()
    for seed in range(60):
        for variant in propose_variants(parent, FACETS, random.Random(seed), 4, guide=guide):
            assert find_term(variant.recipe, colour).term == "purple"
            for edit in variant.edits:
                {"subject.colour": colour_moves, "lighting": lighting_moves}[edit.facet].add(
                    edit.operation
                )
    assert colour_moves == {"reweight"}
    assert lighting_moves >= {"replace", "drop"}
    unsure = Recipe(subject="a pink star")  # the parent holds a term the guide is not sure of
    replaced = {
        find_term(v.recipe, colour).term
        for seed in range(20)
        for v in propose_variants(unsure, FACETS, random.Random(seed), 2, guide=guide)
        if find_term(v.recipe, colour) is not None
    }
    assert "purple" in replaced


def test_toward_a_sure_guide_every_proposal_holds_its_sure_terms():
    guide = Guide(
        terms={
            "subject.thing": {"ring": 0.8, "square": 0.2},  # sure
            "subject.colour": {"green": 0.9, "red": 0.1},  # sure
            "lighting": {"night": 0.5, "moonlight": 0.5},  # unsure
            "composition": {"at the top": 0.5, "at the bottom": 0.5},  # unsure
        },
        facets=dict.fromkeys(("subject.thing", "subject.colour", "lighting", "composition"), 1.0),
        default_term=0.0,
        default_facet=0.0,
    )
    thing, colour = facet("subject.thing"), facet("subject.colour")
    explored = set()
    for seed in range(20):
        variants = propose_variants(Recipe(subject="a shape"), FACETS, random.Random(seed), 4,
                                    guide=guide, greedy=True)  # fmt: skip
        assert len(variants) == 4
        for variant in variants:
            assert find_term(variant.recipe, thing).term == "ring"
            assert find_term(variant.recipe, colour).term == "green"
            explored |= {edit.facet for edit in variant.edits}
    assert {"lighting", "composition"} <= explored  # the unsure facets are still explored
    drawn = propose_variants(Recipe(subject="a shape"), FACETS, random.Random(0), 4, guide=guide)
    assert any(find_term(v.recipe, colour) is None for v in drawn)  # not greedy: drawn freely


def test_a_move_never_adds_what_the_rest_of_the_recipe_already_says():
    """The interrogation's rule for refinement too: no style "Watercolor" on a watercolor
    medium, no medium "pixel art" under the style "Pixel Art"; the subject is exempt."""
    styles, medium = facet("styles"), facet("medium")
    assert {"Watercolor", "Pixel Art"} <= set(styles.terms)
    assert {"watercolor", "pixel art"} <= set(medium.terms)
    guide = Guide(
        terms={"styles": {"Watercolor": 0.6, "Line Art": 0.4}, "medium": {"pixel art": 1.0}},
        facets={"styles": 1.0, "medium": 1.0},
        default_term=0.0,
        default_facet=0.0,
    )
    recipe = Recipe(subject="a red circle", medium=("watercolor",), styles=("Pixel Art",))
    swapped = set()
    for seed in range(40):
        for variant in propose_variants(recipe, FACETS, random.Random(seed), 3, guide=guide):
            for style, term in (("Watercolor", "watercolor"), ("Pixel Art", "pixel art")):
                assert not (style in variant.recipe.styles and term in variant.recipe.medium)
            swapped |= set(variant.recipe.styles)
    assert "Line Art" in swapped  # what the recipe does not say is still proposed
    sure = Guide(terms={"styles": {"Watercolor": 0.9, "Line Art": 0.1}}, facets={"styles": 1.0},
                 default_term=0.0, default_facet=0.0)  # fmt: skip
    watercolor = Recipe(subject="a red circle", medium=("watercolor",))
    assert guided_variant(watercolor, FACETS, sure, max_edits=2) is None  # sure, yet said
    for seed in range(10):
        for variant in propose_variants(watercolor, FACETS, random.Random(seed), 3, guide=sure,
                                        greedy=True):  # fmt: skip
            assert "Watercolor" not in variant.recipe.styles or not variant.recipe.medium
