"""Weighting syntax, as AUTOMATIC1111 reads it, with strict errors."""

import pytest

from prompts.weighting import (
    PromptSyntaxError,
    WeightedSegment,
    has_weights,
    parse_weighted,
    strip_weights,
)


def weights(text: str) -> list[tuple[str, float]]:
    return [(s.text, round(s.weight, 4)) for s in parse_weighted(text)]


def test_plain_text_is_one_segment_of_weight_one():
    assert parse_weighted("a red fox") == [WeightedSegment("a red fox", 1.0)]


def test_round_brackets_multiply_by_1_1_per_level():
    assert weights("a (red) fox") == [("a ", 1.0), ("red", 1.1), (" fox", 1.0)]
    assert weights("((red))") == [("red", 1.21)]


def test_square_brackets_divide_by_1_1():
    assert weights("[blurry]") == [("blurry", round(1 / 1.1, 4))]


def test_explicit_weight_and_nesting_multiply():
    assert weights("(red:1.5) apple") == [("red", 1.5), (" apple", 1.0)]
    assert weights("((red:1.5) fox)") == [("red", 1.65), (" fox", 1.1)]
    assert weights("(red : 0.5)") == [("red ", 0.5)]


def test_escaped_brackets_are_literal_text():
    assert weights(r"a \(red\) fox") == [("a (red) fox", 1.0)]
    assert weights(r"\[x\]") == [("[x]", 1.0)]


def test_colon_that_is_not_a_weight_stays_text():
    assert weights("style: oil") == [("style: oil", 1.0)]


def test_break_splits_segments():
    segments = parse_weighted("a fox BREAK (a hat)")
    assert [s.is_break for s in segments] == [False, True, False]
    assert segments[0].text == "a fox" and segments[2] == WeightedSegment("a hat", 1.1)


def test_break_must_be_a_whole_word():
    assert weights("BREAKFAST") == [("BREAKFAST", 1.0)]


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("a (red fox", 2, "never closed"),
        ("a red) fox", 5, "no matching"),
        ("[dim", 0, "never closed"),
        ("dim]", 3, "no matching"),
        ("(red:1.2.3)", 5, "not a number"),
        ("red:1.2)", 7, "no matching"),
    ],
)
def test_errors_name_the_position(text, position, words):
    with pytest.raises(PromptSyntaxError) as caught:
        parse_weighted(text)
    assert caught.value.position == position
    assert words in str(caught.value)


def test_strip_weights_gives_plain_text():
    assert (
        strip_weights("(red:1.5) apple, ((shiny)) [dull] BREAK leaf")
        == "red apple, shiny dull leaf"
    )
    assert strip_weights(r"\(literal\)") == "(literal)"


def test_has_weights():
    assert has_weights("(red) apple")
    assert has_weights("a BREAK b")
    assert not has_weights("red apple, leaf")


@pytest.mark.parametrize(
    "prompt", ["(word:1e309)", "(word:-1e309)", "(word:11)", "(word:-10.5)", "(a (b:1e400))"]
)
def test_infinite_and_absurd_weights_are_one_sentence(prompt):
    with pytest.raises(PromptSyntaxError, match=r"outside -10 to 10|is not a number") as caught:
        parse_weighted(prompt)
    assert "\n" not in str(caught.value)


def test_nested_weights_that_multiply_past_the_limit_are_refused():
    assert parse_weighted("((word:10):9.9)")[0].weight == pytest.approx(99.0)
    with pytest.raises(PromptSyntaxError, match="beyond"):
        parse_weighted("(((word:10):10):10)")
