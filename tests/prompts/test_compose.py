"""Composing a recipe: fixed field order, styles through {prompt}, tidy de-duplicated terms."""

import pytest

from prompts.compose import (
    POSITIVE_FIELD_ORDER,
    clean_prompt,
    compose_prompt,
    split_terms,
)
from prompts.recipe import Recipe
from prompts.styles import Style, StyleLibrary, UnknownStyleError, apply_style_template

STYLES = [
    Style("Oil", "Painting", "oil painting of {prompt}, impasto", "photo, blurry"),
    Style("Frame", "Test", "ornate frame around {prompt}", "blurry, cropped"),
    Style("Booster", "Test", "sharp focus, intricate detail", "lowres"),
    Style("Twice", "Test", "{prompt} and again {prompt}", ""),
]


@pytest.fixture
def library() -> StyleLibrary:
    return StyleLibrary(builtin=STYLES)


def test_fields_are_joined_in_the_documented_order(library):
    recipe = Recipe(
        quality=["highly detailed"],
        free_text="free",
        colour=["teal"],
        mood=["serene"],
        composition=["rule of thirds"],
        camera=["35mm lens"],
        lighting=["golden hour"],
        medium=["watercolor"],
        details=["red stripes"],
        subject="a lighthouse",
    )
    composed = compose_prompt(recipe, library)
    assert composed.positive == (
        "a lighthouse, red stripes, watercolor, golden hour, 35mm lens, rule of thirds, "
        "serene, teal, free, highly detailed"
    )
    assert POSITIVE_FIELD_ORDER[0] == "subject" and POSITIVE_FIELD_ORDER[-1] == "quality"


def test_list_fields_keep_the_artists_order():
    composed = compose_prompt(Recipe(subject="x", lighting=["rim light", "backlit", "fog"]))
    assert composed.positive == "x, rim light, backlit, fog"


def test_repeated_terms_are_removed_case_and_space_insensitively_keeping_the_first():
    recipe = Recipe(
        subject="a cat",
        lighting=["Golden Hour", "golden  hour"],
        mood=["A CAT", "calm"],
        negative=["blurry", " Blurry "],
    )
    composed = compose_prompt(recipe)
    assert composed.positive == "a cat, Golden Hour, calm"
    assert composed.negative == "blurry"
    assert composed.removed_duplicates == ("golden hour", "A CAT", "Blurry")


def test_commas_and_spaces_are_cleaned():
    recipe = Recipe(subject="  a   lighthouse ,, ", details=[" ,stormy sea,", ""], free_text=",\n")
    assert compose_prompt(recipe).positive == "a lighthouse, stormy sea"
    assert clean_prompt(" a ,b,,  c  d , ") == "a, b, c d"


def test_style_template_wraps_the_prompt_at_its_placeholder(library):
    composed = compose_prompt(Recipe(subject="a fox", styles=["Oil"]), library)
    assert composed.positive == "oil painting of a fox, impasto"
    assert composed.styles == ("Oil",)


def test_style_without_placeholder_joins_after_the_prompt(library):
    composed = compose_prompt(Recipe(subject="a fox", styles=["Booster"]), library)
    assert composed.positive == "a fox, sharp focus, intricate detail"
    assert apply_style_template("x, y", "") == "x, y"


def test_every_placeholder_is_filled_as_in_a1111():
    assert apply_style_template("{prompt} and again {prompt}", "cat") == "cat and again cat"


def test_several_styles_apply_in_the_order_chosen(library):
    first = compose_prompt(Recipe(subject="a fox", styles=["Oil", "Frame"]), library)
    second = compose_prompt(Recipe(subject="a fox", styles=["Frame", "Oil"]), library)
    assert first.positive == "ornate frame around oil painting of a fox, impasto"
    assert second.positive == "oil painting of ornate frame around a fox, impasto"


def test_style_negatives_follow_the_recipe_negatives_without_repeats(library):
    recipe = Recipe(subject="a fox", styles=["Oil", "Frame"], negative=["text", "blurry"])
    assert compose_prompt(recipe, library).negative == "text, blurry, photo, cropped"


def test_style_names_are_case_insensitive_and_a_repeat_applies_once(library):
    composed = compose_prompt(Recipe(subject="a fox", styles=["oil", "OIL"]), library)
    assert composed.positive == "oil painting of a fox, impasto"
    assert composed.styles == ("Oil",)


def test_unknown_style_is_a_clear_error(library):
    with pytest.raises(UnknownStyleError, match=r"Unknown style 'Oli'\. Did you mean 'Oil'"):
        compose_prompt(Recipe(subject="a fox", styles=["Oli"]), library)


def test_weighted_terms_wildcards_and_break_pass_through_untouched(library):
    recipe = Recipe(
        subject="(red:1.3) fox",
        details=["((fluffy tail))", "[background:0.8]", "(snow, ice:1.2)"],
        free_text="{dawn|dusk}, __weather__ BREAK a forest, BREAK",
        styles=["Oil"],
    )
    composed = compose_prompt(recipe, library)
    assert composed.positive == (
        "oil painting of (red:1.3) fox, ((fluffy tail)), [background:0.8], (snow, ice:1.2), "
        "{dawn|dusk}, __weather__ BREAK a forest, BREAK, impasto"
    )


def test_commas_inside_brackets_do_not_split_terms():
    assert split_terms("a, (b, c:1.2), {d, e|f}, [g, h]") == [
        "a",
        " (b, c:1.2)",
        " {d, e|f}",
        " [g, h]",
    ]
    assert split_terms(r"a \(b, c") == [r"a \(b", " c"]
    assert split_terms("a (b, c") == ["a (b", " c"]  # a bracket never closed protects nothing


def test_composition_is_pure_same_recipe_same_text(library):
    recipe = Recipe(subject="a fox", styles=["Oil", "Frame"], lighting=["dusk", "Dusk"])
    before = recipe.to_dict()
    assert compose_prompt(recipe, library) == compose_prompt(recipe, library)
    assert recipe.to_dict() == before


def test_builtin_oil_painting_style_composes_the_cli_example():
    recipe = Recipe(
        subject="a lighthouse",
        styles=["Oil Painting"],
        lighting=["golden hour"],
        negative=["blurry"],
    )
    composed = compose_prompt(recipe, StyleLibrary())
    assert composed.positive.startswith("oil painting of a lighthouse, golden hour, ")
    assert composed.negative.startswith("blurry, ")
    assert composed.negative.count("blurry") == 1
