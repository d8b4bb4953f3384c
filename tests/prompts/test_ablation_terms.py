"""The terms "Which words matter?" removes one at a time: comma phrases as written, and a
comma-free prompt split into what it names."""

import pytest

from prompts.ablation_terms import known_phrases, split_for_ablation
from prompts.variants import VariantError, ablation_variants


def terms(prompt: str) -> list[str]:
    return split_for_ablation(prompt).terms


def test_a_comma_free_prompt_is_split_into_words_and_a_place():
    split = split_for_ablation("a large red star on the left")
    assert split.terms == ["large", "red", "star", "on the left"]
    assert [split.without(i) for i in range(4)] == [
        "a red star on the left",
        "a large star on the left",
        "a large red on the left",
        "a large red star",
    ]
    assert split.full() == "a large red star on the left"


def test_known_phrases_come_first_and_whole():
    assert "golden hour" in known_phrases() and "old man" in known_phrases()
    assert terms("an old man under golden hour, ") == ["old man", "under golden hour"]
    assert terms("oil painting of a lighthouse at night") == [
        "oil painting",
        "of a lighthouse",
        "at night",  # a lighting term of its own, not part of "of a lighthouse"
    ]
    assert terms("a fox in a snowy forest at night") == ["fox", "in a snowy forest", "at night"]


def test_weighting_brackets_tags_and_wildcards_stay_whole():
    assert terms("a large (red:1.4) (blue:0.7) circle") == [
        "large",
        "(red:1.4)",
        "(blue:0.7)",
        "circle",
    ]
    assert terms("<lora:toy:0.8> a __colour__ (circle, ring:1.2) [flat]") == [
        "<lora:toy:0.8>",
        "__colour__",
        "(circle, ring:1.2)",  # a comma inside a group is no comma of the prompt
        "[flat]",
    ]
    split = split_for_ablation("a (large:1.3) red star")
    assert split.without(0) == "a red star"


def test_the_known_words_can_be_given():
    assert terms_with("a deep sea diver", {"deep sea"}) == ["deep sea", "diver"]
    assert terms_with("a deep sea diver", set()) == ["deep", "sea", "diver"]


def terms_with(prompt: str, known: set[str]) -> list[str]:
    return split_for_ablation(prompt, known).terms


def test_punctuation_ends_a_phrase():
    assert terms("portrait of a woman. golden hour") == ["portrait", "of a woman", "golden hour"]
    assert terms("golden. hour") == ["golden", "hour"]


def test_comma_phrases_stay_as_written():
    split = split_for_ablation("a large red star on the left,  night, BREAK, (snow, ice:1.3)")
    assert split.terms == ["a large red star on the left", "night", "(snow, ice:1.3)"]
    assert split.without(1) == "a large red star on the left, (snow, ice:1.3)"
    assert split.full() == "a large red star on the left, night, (snow, ice:1.3)"


def test_the_ablation_uses_the_split():
    variants = ablation_variants("a large red star on the left")
    assert [v.removed_term for v in variants] == [None, "large", "red", "star", "on the left"]
    assert [v.label for v in variants][1] == "− large"
    assert variants[0].prompt == "a large red star on the left"
    assert variants[4].prompt == "a large red star"
    with pytest.raises(VariantError, match="at least two terms"):
        ablation_variants("a star")
    with pytest.raises(VariantError, match="at least two terms"):
        ablation_variants("the (star:1.2), ")
