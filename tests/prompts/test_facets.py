"""Facets: the recipe slots interrogation ranks and refinement edits, and their vocabularies."""

from __future__ import annotations

import json

import pytest

from prompts.facets import (
    FacetError,
    compose_subject,
    facet_named,
    load_facets,
    load_subject_facets,
    style_text,
    with_article,
)
from prompts.recipe import Recipe
from prompts.styles import load_builtin_styles


@pytest.fixture(scope="module")
def facets():
    return load_facets(load_builtin_styles())


def test_every_facet_fills_a_recipe_field_and_has_one_text_per_term(facets):
    names = [f.name for f in facets]
    assert names[:3] == ["subject.size", "subject.colour", "subject.thing"]
    assert {"medium", "lighting", "camera", "composition", "mood", "colour", "styles"} <= set(names)
    for facet in facets:
        assert facet.field == "subject" or facet.field in Recipe.LIST_FIELDS
        assert len(facet.terms) == len(facet.texts) > 0
        assert len({t.casefold() for t in facet.terms}) == len(facet.terms), facet.name


def test_a_facets_content_key_changes_with_its_terms(facets):
    lighting = facet_named(facets, "lighting")
    again = facet_named(load_facets(), "lighting")
    assert lighting.content_key == again.content_key
    shorter = type(lighting)(
        lighting.name, lighting.field, lighting.label, lighting.terms[1:], lighting.texts[1:]
    )
    assert shorter.content_key != lighting.content_key


def test_a_style_is_read_as_its_template_without_the_prompt():
    pixel = next(s for s in load_builtin_styles() if s.name == "Pixel Art")
    assert style_text(pixel) == (
        "pixel art, limited 16 color palette, crisp square pixels, retro game sprite"
    )


def test_subjects_compose_in_slot_order_with_the_right_article():
    assert compose_subject({"thing": "circle", "colour": "red", "size": "small"}) == (
        "a small red circle"
    )
    assert compose_subject({"thing": "apple", "colour": "orange"}) == "an orange apple"
    assert compose_subject({"thing": "(owl:1.2)"}) == "an (owl:1.2)"
    assert with_article("star") == "a star"


def test_a_malformed_subject_file_is_one_clear_error(tmp_path):
    path = tmp_path / "subject.json"
    path.write_text(json.dumps({"slots": {"thing": {"terms": ["cat"]}}}))
    with pytest.raises(FacetError, match="must have 'slots' size, colour, thing"):
        load_subject_facets(path)
    path.write_text("{")
    with pytest.raises(FacetError, match="cannot be read"):
        load_subject_facets(path)
