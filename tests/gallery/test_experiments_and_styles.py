"""Experiments with variants (for the compare view) and the user's saved styles."""

from __future__ import annotations

import pytest

from gallery import GalleryError, NotFoundError, UserStyle, VariantSpec
from prompts.styles import Style


def test_create_an_experiment_with_variants_in_order(store):
    experiment = store.for_owner("ada").create_experiment(
        "Which sampler?",
        [
            VariantSpec("euler", {"scheduler": "Euler"}),
            VariantSpec("dpm", {"scheduler": "DPM++ 2M"}),
        ],
        description="same seed, two samplers",
    )
    assert experiment.name == "Which sampler?"
    assert experiment.description == "same seed, two samplers"
    assert experiment.user_id == "ada"
    assert [v.name for v in experiment.variants] == ["euler", "dpm"]
    assert [v.position for v in experiment.variants] == [0, 1]
    assert experiment.variants[1].recipe == {"scheduler": "DPM++ 2M"}
    assert experiment.winner is None
    assert store.for_owner("ada").get_experiment(experiment.id) == experiment


def test_generations_are_added_to_variants_and_a_winner_is_chosen(local, make_generation):
    experiment = local.create_experiment("steps", ["20", "40"])
    first, second = experiment.variants
    a, b, c = (local.record_generation(make_generation()) for _ in range(3))
    local.add_to_variant(first.id, a)
    local.add_to_variant(first.id, b)
    local.add_to_variant(first.id, b)  # twice is harmless
    local.add_to_variant(second.id, c)
    local.set_winner(experiment.id, second.id)

    loaded = local.get_experiment(experiment.id)
    assert loaded.variants[0].generation_ids == (a, b)
    assert loaded.variants[1].generation_ids == (c,)
    assert loaded.winner is not None and loaded.winner.id == second.id

    local.set_winner(experiment.id, first.id)
    assert local.get_experiment(experiment.id).winner.id == first.id
    local.set_winner(experiment.id, None)
    assert local.get_experiment(experiment.id).winner is None

    local.delete(a)
    assert local.get_experiment(experiment.id).variants[0].generation_ids == (b,)


def test_experiment_errors(local, make_generation):
    with pytest.raises(GalleryError, match="needs a name"):
        local.create_experiment("  ", ["a"])
    with pytest.raises(GalleryError, match="at least one variant"):
        local.create_experiment("x", [])
    with pytest.raises(GalleryError, match="must differ"):
        local.create_experiment("x", ["a", " a "])
    experiment = local.create_experiment("x", ["a"])
    other = local.create_experiment("y", ["b"])
    with pytest.raises(NotFoundError, match="has no variant"):
        local.set_winner(experiment.id, other.variants[0].id)
    with pytest.raises(NotFoundError, match="no experiment variant"):
        local.add_to_variant(9999, local.record_generation(make_generation()))
    with pytest.raises(NotFoundError, match="no generation"):
        local.add_to_variant(experiment.variants[0].id, 9999)
    with pytest.raises(NotFoundError):
        local.get_experiment(9999)


def test_list_and_delete_experiments_keeps_generations(local, make_generation):
    first = local.create_experiment("first", ["a"])
    second = local.create_experiment("second", ["b"])
    generation_id = local.record_generation(make_generation())
    local.add_to_variant(first.variants[0].id, generation_id)
    assert [e.name for e in local.list_experiments()] == ["second", "first"]
    local.delete_experiment(first.id)
    assert [e.id for e in local.list_experiments()] == [second.id]
    assert local.get(generation_id).id == generation_id
    with pytest.raises(NotFoundError):
        local.delete_experiment(first.id)


def test_user_styles_are_saved_listed_replaced_and_deleted(local):
    assert local.list_user_styles() == []
    local.save_user_style(UserStyle("Noir", "Film", "{prompt}, film noir", "colour"))
    local.save_user_style(UserStyle("Pastel", "Colour", "pastel {prompt}", ""))
    local.save_user_style(UserStyle("noir", "Film", "{prompt}, noir, grain", "colour, blur"))
    assert local.list_user_styles() == [
        UserStyle("noir", "Film", "{prompt}, noir, grain", "colour, blur"),
        UserStyle("Pastel", "Colour", "pastel {prompt}", ""),
    ]
    local.delete_user_style("NOIR")
    assert [s.name for s in local.list_user_styles()] == ["Pastel"]
    with pytest.raises(NotFoundError, match="no user style called 'Noir'"):
        local.delete_user_style("Noir")


def test_the_prompts_style_type_can_be_saved_directly(local):
    local.save_user_style(Style(name="Ink", category="Art", prompt="ink drawing of {prompt}"))
    (saved,) = local.list_user_styles()
    assert Style(**vars(saved)) == Style("Ink", "Art", "ink drawing of {prompt}", "")


def test_bad_styles_are_refused(local):
    with pytest.raises(GalleryError, match="needs a name"):
        local.save_user_style(UserStyle("  "))
    with pytest.raises(GalleryError, match="prompt must be text"):
        local.save_user_style(UserStyle("x", prompt=None))
