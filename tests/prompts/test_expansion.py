"""Prompt expansion, text half: vocabulary, few-shot prefix, filtering and joining."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prompts.expansion import (
    ExpansionDataError,
    ExpansionExample,
    ExpansionResult,
    build_fewshot_prefix,
    filter_to_vocabulary,
    join_expansion,
    load_expansion_examples,
    load_expansion_vocabulary,
    normalize_term,
    terms_in_text,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
VOCAB = ("golden hour", "golden", "dramatic lighting", "moody", "oil painting", "bird's-eye view")


# --- the shipped assets ------------------------------------------------------------------------


def test_shipped_vocabulary_has_a_few_hundred_canonical_unique_terms():
    vocabulary = load_expansion_vocabulary()
    assert 200 <= len(vocabulary) <= 2000
    assert len(set(vocabulary)) == len(vocabulary)
    assert all(normalize_term(term) == term for term in vocabulary)
    assert {"golden hour", "volumetric lighting", "oil painting", "highly detailed"} <= set(
        vocabulary
    )


def test_shipped_examples_only_use_vocabulary_terms():
    vocabulary = load_expansion_vocabulary()
    examples = load_expansion_examples(vocabulary=vocabulary)
    assert len(examples) >= 3
    for example in examples:
        assert example.prompt and example.terms
        assert set(example.terms) <= set(vocabulary)


def test_vocabulary_file_skips_comments_and_blank_lines(tmp_path):
    path = tmp_path / "vocabulary.txt"
    path.write_text("# lighting\n\ngolden hour\nrim light  # a comment\n", encoding="utf-8")
    assert load_expansion_vocabulary(path) == ("golden hour", "rim light")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("golden hour\nGolden Hour\n", "line 2"),
        ("moody\nmoody\n", "listed twice"),
        ("soft,  light\n", "line 1"),
        ("# only a comment\n", "no terms"),
    ],
)
def test_malformed_vocabulary_is_refused_with_the_line(tmp_path, content, fragment):
    path = tmp_path / "vocabulary.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ExpansionDataError, match=fragment):
        load_expansion_vocabulary(path)


def test_missing_vocabulary_file_is_one_clear_error(tmp_path):
    with pytest.raises(ExpansionDataError, match="Cannot read the expansion vocabulary"):
        load_expansion_vocabulary(tmp_path / "absent.txt")


def test_example_with_a_term_outside_the_vocabulary_is_refused(tmp_path):
    path = tmp_path / "examples.json"
    path.write_text(
        json.dumps({"examples": [{"prompt": "a fox", "terms": ["moody", "sparkly prose"]}]}),
        encoding="utf-8",
    )
    with pytest.raises(ExpansionDataError, match="'sparkly prose', which is not in"):
        load_expansion_examples(path, vocabulary=VOCAB)


def test_example_without_terms_is_refused(tmp_path):
    path = tmp_path / "examples.json"
    path.write_text(json.dumps({"examples": [{"prompt": "a fox", "terms": []}]}), "utf-8")
    with pytest.raises(ExpansionDataError, match="example 1"):
        load_expansion_examples(path)


# --- few-shot prefix ---------------------------------------------------------------------------


def test_fewshot_prefix_shows_examples_then_ends_with_the_prompt_and_a_comma():
    examples = [
        ExpansionExample("a lighthouse", ("moody", "oil painting")),
        ExpansionExample("a cottage,", ("golden hour",)),
    ]
    prefix = build_fewshot_prefix(examples, "  a red fox, ")
    assert prefix.splitlines() == [
        "a lighthouse, moody, oil painting",
        "a cottage, golden hour",
        "a red fox,",
    ]


def test_fewshot_prefix_without_examples_is_the_prompt_and_a_comma():
    assert build_fewshot_prefix([], "a red fox") == "a red fox,"


# --- filtering to the vocabulary ---------------------------------------------------------------


def test_filter_keeps_whole_terms_and_drops_prose():
    text = " moody, and then the fox ran away into Dramatic  Lighting. oil paintings, golden"
    assert filter_to_vocabulary(text, VOCAB, "a red fox") == [
        "moody",
        "dramatic lighting",
        "golden",
    ]


def test_filter_matches_whole_words_only():
    # "golden hourglass" holds the word "golden" but not the term "golden hour".
    assert filter_to_vocabulary("golden hourglass, moodyish", VOCAB, "a fox") == ["golden"]


def test_filter_prefers_the_longest_term():
    assert filter_to_vocabulary("golden hour", VOCAB, "a fox") == ["golden hour"]


def test_filter_drops_terms_already_in_the_prompt_case_insensitively():
    kept = filter_to_vocabulary("moody, golden hour, oil painting", VOCAB, "A MOODY fox")
    assert kept == ["golden hour", "oil painting"]


def test_filter_drops_repeats_and_parts_of_kept_terms():
    kept = filter_to_vocabulary("golden hour, moody, golden, moody, golden hour", VOCAB, "x")
    assert kept == ["golden hour", "moody"]


def test_filter_drops_a_term_whose_words_are_in_the_prompt():
    assert filter_to_vocabulary("golden, moody", VOCAB, "golden hour portrait") == ["moody"]


def test_filter_bounds_the_number_of_terms():
    text = "moody, golden hour, oil painting, dramatic lighting"
    assert filter_to_vocabulary(text, VOCAB, "x", max_terms=2) == ["moody", "golden hour"]
    assert filter_to_vocabulary(text, VOCAB, "x", max_terms=0) == []
    with pytest.raises(ValueError, match="max_terms"):
        filter_to_vocabulary(text, VOCAB, "x", max_terms=-1)


def test_filter_handles_apostrophes_and_hyphens():
    assert filter_to_vocabulary("a Bird’s-Eye View!", VOCAB, "x") == ["bird's-eye view"]


def test_terms_in_text_finds_every_term_including_overlaps():
    assert terms_in_text("Golden hour, oil painting", VOCAB) == {
        "golden hour",
        "golden",
        "oil painting",
    }


# --- joining -----------------------------------------------------------------------------------


def test_join_appends_the_terms_as_their_own_segment():
    assert join_expansion("a red fox", ["moody", "golden hour"]) == "a red fox, moody, golden hour"


def test_join_cleans_trailing_commas_and_spaces():
    assert join_expansion("a red fox , ,  ", ["moody"]) == "a red fox, moody"


def test_join_keeps_weighted_syntax_untouched():
    assert join_expansion("(a red fox:1.2)", ["moody"]) == "(a red fox:1.2), moody"


def test_join_without_terms_returns_the_prompt_unchanged():
    assert join_expansion("a red fox, ", []) == "a red fox, "


def test_join_onto_an_empty_prompt_is_just_the_terms():
    assert join_expansion("  ", ["moody", "golden"]) == "moody, golden"


def test_join_refuses_a_term_with_a_comma():
    with pytest.raises(ValueError, match="cannot contain a comma"):
        join_expansion("a fox", ["moody, dark"])


def test_result_shows_the_added_segment_and_serialises():
    result = ExpansionResult(
        original="a red fox",
        added_terms=["moody", "golden hour"],
        final="a red fox, moody, golden hour",
        seed=3,
        model="demo",
    )
    assert result.added_text == "moody, golden hour"
    assert result.final.endswith(result.added_text)
    assert json.loads(json.dumps(result.to_dict()))["added_terms"] == ["moody", "golden hour"]


# --- layering ----------------------------------------------------------------------------------


def test_prompts_expansion_imports_no_torch_or_transformers():
    code = (
        "import sys, prompts.expansion as e; e.load_expansion_vocabulary(); "
        "bad = [m for m in ('torch', 'transformers', 'diffusers', 'gradio') if m in sys.modules]; "
        "assert not bad, bad"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
