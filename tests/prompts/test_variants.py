"""Variant generators: Prompt S/R (A1111), prompt matrix (A1111), style sweep, ablation."""

from __future__ import annotations

import pytest

from prompts.styles import Style
from prompts.variants import (
    VariantError,
    ablation_variants,
    default_label,
    prompt_matrix,
    prompt_search_replace,
    prompt_terms,
    style_sweep,
    unique_labels,
)


def test_prompt_search_replace_follows_a1111():
    variants = prompt_search_replace("a red fox, red scarf", "red, blue, 'deep green'")
    assert [v.label for v in variants] == ["red", "blue", "'deep green'"]
    assert variants[0].prompt == "a red fox, red scarf"  # the first value: the prompt as written
    assert variants[1].prompt == "a blue fox, blue scarf"  # every occurrence replaced
    quoted = prompt_search_replace("a red fox", 'red, "blue, teal"')
    assert quoted[1].prompt == "a blue, teal fox"  # CSV quotes keep commas, as in A1111
    with pytest.raises(VariantError, match="does not contain 'green'"):
        prompt_search_replace("a red fox", "green, blue")
    with pytest.raises(VariantError, match="at least one replacement"):
        prompt_search_replace("a red fox", "red")


def test_prompt_matrix_makes_every_subset_in_a1111_order():
    variants = prompt_matrix("a fox | in snow | oil painting", negative_prompt="blurry")
    assert [v.prompt for v in variants] == [
        "a fox",
        "a fox, in snow",
        "a fox, oil painting",
        "a fox, in snow, oil painting",
    ]
    assert variants[3].label == "base + in snow + oil painting"
    assert {v.negative_prompt for v in variants} == {"blurry"}
    with pytest.raises(VariantError, match="limit is 8"):
        prompt_matrix("a | b | c | d | e")
    with pytest.raises(VariantError, match="optional parts"):
        prompt_matrix("a fox")


def test_style_sweep_puts_the_subject_through_each_style():
    styles = [
        Style("Oil", "painting", "oil painting of {prompt}, impasto", "photo"),
        Style("Pixel", "retro", "{prompt}, pixel art"),
    ]
    variants = style_sweep("a lighthouse", styles, negative_prompt="blurry")
    assert [(v.label, v.prompt, v.negative_prompt) for v in variants] == [
        ("Oil", "oil painting of a lighthouse, impasto", "blurry, photo"),
        ("Pixel", "a lighthouse, pixel art", "blurry"),
    ]
    with pytest.raises(VariantError, match="2 to 8"):
        style_sweep("a lighthouse", styles[:1])


def test_ablation_removes_one_term_at_a_time_keeping_weighted_groups_whole():
    prompt = "a fox, (snow, ice:1.3), golden hour"
    assert prompt_terms(prompt) == ["a fox", "(snow, ice:1.3)", "golden hour"]
    variants = ablation_variants(prompt)
    assert [v.prompt for v in variants] == [
        "a fox, (snow, ice:1.3), golden hour",
        "(snow, ice:1.3), golden hour",
        "a fox, golden hour",
        "a fox, (snow, ice:1.3)",
    ]
    assert [v.removed_term for v in variants] == [None, "a fox", "(snow, ice:1.3)", "golden hour"]
    with pytest.raises(VariantError, match="at least two"):
        ablation_variants("a fox")


def test_labels_default_to_the_prompt_and_are_made_unique():
    assert default_label("  a   fox ") == "a fox"
    assert len(default_label("word " * 30)) == 40
    assert unique_labels(["fox", "Fox", "", "cat"]) == ["fox", "Fox (2)", "variant", "cat"]
