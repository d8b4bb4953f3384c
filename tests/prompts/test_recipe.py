"""A recipe is an immutable record that survives a JSON round trip exactly."""

import json

import pytest

from prompts.recipe import RECIPE_VERSION, Recipe, RecipeError


def full_recipe() -> Recipe:
    return Recipe(
        subject="a lighthouse on a cliff",
        styles=["Oil Painting", "Ultra Detail"],
        details=["red and white stripes", "(glowing lantern:1.3)"],
        medium=["oil painting"],
        lighting=["golden hour", "rim light"],
        camera=["wide shot", "35mm lens"],
        composition=["rule of thirds"],
        mood=["serene"],
        colour=["warm tones"],
        quality=["highly detailed"],
        negative=["blurry", "text"],
        free_text="{dawn|dusk} over __weather__ BREAK seagulls",
    )


def test_lists_are_stored_as_tuples_so_a_recipe_is_immutable_and_hashable():
    recipe = Recipe(subject="a cat", lighting=["moonlight"])
    assert recipe.lighting == ("moonlight",)
    assert hash(recipe) == hash(Recipe(subject="a cat", lighting=("moonlight",)))
    with pytest.raises(AttributeError):
        recipe.subject = "a dog"  # type: ignore[misc]


def test_wrong_types_are_refused_with_the_field_name():
    with pytest.raises(RecipeError, match="'lighting' must be a list"):
        Recipe(lighting="golden hour")  # type: ignore[arg-type]
    with pytest.raises(RecipeError, match="'mood' must contain only text"):
        Recipe(mood=["calm", 3])  # type: ignore[list-item]
    with pytest.raises(RecipeError, match="'subject' must be text"):
        Recipe(subject=None)  # type: ignore[arg-type]


def test_json_round_trip_is_lossless():
    recipe = full_recipe()
    assert Recipe.from_json(recipe.to_json()) == recipe
    assert Recipe.from_dict(recipe.to_dict()) == recipe


def test_json_carries_a_version_and_every_field():
    data = json.loads(full_recipe().to_json())
    assert data["version"] == RECIPE_VERSION
    assert data["styles"] == ["Oil Painting", "Ultra Detail"]
    assert data["details"][1] == "(glowing lantern:1.3)"
    assert set(data) == {"version", *Recipe.TEXT_FIELDS, *Recipe.LIST_FIELDS}


def test_missing_fields_take_their_defaults():
    assert Recipe.from_json('{"subject": "a fox"}') == Recipe(subject="a fox")


def test_unknown_field_is_an_error_naming_it():
    with pytest.raises(RecipeError, match="unknown field 'sampler'"):
        Recipe.from_dict({"version": 1, "subject": "a fox", "sampler": "Euler"})


def test_newer_version_is_refused():
    with pytest.raises(RecipeError, match="version 99 is newer"):
        Recipe.from_dict({"version": 99})


def test_malformed_json_is_a_recipe_error():
    with pytest.raises(RecipeError, match="not valid JSON"):
        Recipe.from_json("{subject: a fox")
    with pytest.raises(RecipeError, match="must be a JSON object"):
        Recipe.from_json('["a fox"]')


def test_deeply_nested_json_is_a_recipe_error_not_a_recursion_error():
    with pytest.raises(RecipeError, match="nests too deeply"):
        Recipe.from_json("[" * 100_000)


def test_a_recipe_longer_than_a_prompt_can_be_is_one_sentence():
    from prompts.recipe import MAX_RECIPE_CHARS

    Recipe(subject="x" * MAX_RECIPE_CHARS)  # at the limit: fine
    with pytest.raises(RecipeError, match=f"the limit is {MAX_RECIPE_CHARS}"):
        Recipe(subject="fox", details=["x" * MAX_RECIPE_CHARS])
