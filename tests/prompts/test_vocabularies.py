"""The builder's term pickers: curated lists of at least 20 terms each, tied to recipe fields."""

import json

import pytest

from prompts.recipe import Recipe
from prompts.vocabularies import VocabularyError, load_vocabularies, vocabulary_terms

REQUIRED = {
    "lighting": "lighting",
    "camera": "camera",
    "composition": "composition",
    "mood": "mood",
    "colour": "colour",
    "medium": "medium",
    "quality": "quality",
    "negative": "negative",
}


def test_every_required_vocabulary_exists_with_at_least_20_terms():
    vocabularies = load_vocabularies()
    assert set(REQUIRED) <= set(vocabularies)
    for name, field in REQUIRED.items():
        vocab = vocabularies[name]
        assert vocab.field == field
        assert len(vocab.terms) >= 20, name
        assert vocab.label


def test_terms_are_unique_tidy_and_free_of_commas():
    for name, terms in vocabulary_terms().items():
        assert len({t.casefold() for t in terms}) == len(terms), name
        assert all(t == t.strip() and "," not in t for t in terms), name


def test_every_vocabulary_feeds_a_recipe_list_field():
    assert {v.field for v in load_vocabularies().values()} <= set(Recipe.LIST_FIELDS)


def test_camera_covers_shots_lenses_and_cameras():
    camera = load_vocabularies()["camera"]
    assert "close-up portrait" in camera.group("shot")
    assert "85mm portrait lens" in camera.group("Lens")
    with pytest.raises(KeyError):
        camera.group("filters")


def test_negative_terms_come_in_ready_made_sets():
    negative = load_vocabularies()["negative"]
    assert len(negative.groups) >= 4
    assert "extra fingers" in negative.group("Anatomy")
    assert "watermark" in negative.group("Text and marks")


def test_malformed_vocabulary_files_are_clear_errors(tmp_path):
    path = tmp_path / "lighting.json"
    path.write_text("[1, 2")
    with pytest.raises(VocabularyError, match=r"lighting\.json is not valid JSON"):
        load_vocabularies(tmp_path)
    path.write_text(json.dumps({"groups": {"A": ["ok", 3]}}))
    with pytest.raises(VocabularyError, match="group 'A' must be a list of terms"):
        load_vocabularies(tmp_path)
    path.write_text(json.dumps({"field": "sampler", "groups": {}}))
    with pytest.raises(VocabularyError, match="'sampler', which is not a recipe list field"):
        load_vocabularies(tmp_path)
