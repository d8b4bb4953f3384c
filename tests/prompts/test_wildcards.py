"""Wildcards resolve from the image seed: same seed, same words, on every machine."""

import hashlib
import random
import re

import pytest

from prompts.compose import compose_prompt
from prompts.recipe import Recipe
from prompts.styles import Style, StyleLibrary
from prompts.wildcards import (
    UnknownWildcardError,
    WildcardChoice,
    WildcardError,
    WildcardLists,
    has_wildcards,
    load_wildcard_lists,
    resolve_wildcards,
    user_wildcards_dir,
    wildcard_rng,
)

PROMPT = "a {red|green|blue|golden} __animal__ in {spring|summer|autumn|winter}"


@pytest.fixture
def lists(tmp_path) -> WildcardLists:
    folder = tmp_path / "wildcards"
    folder.mkdir()
    (folder / "fruit.txt").write_text("# fruit, one per line\napple\n\n  pear  \n# cherry\nplum\n")
    (folder / "bowl.txt").write_text("a bowl of __fruit__ and __fruit__\n")
    (folder / "loop.txt").write_text("again __loop__\n")
    (folder / "empty.txt").write_text("# nothing here\n")
    (folder / "food").mkdir()
    (folder / "food" / "soup.txt").write_text("{hot|cold} soup\n")
    return WildcardLists([folder])


def test_same_seed_gives_the_same_text_and_choices():
    first = resolve_wildcards(PROMPT, 1234)
    again = resolve_wildcards(PROMPT, 1234)
    assert first == again
    assert "{" not in first.text and "__" not in first.text


def test_different_seeds_vary():
    texts = {resolve_wildcards(PROMPT, seed).text for seed in range(8)}
    assert len(texts) >= 4


def test_the_result_is_the_same_on_every_machine(lists):
    # SHA-256 of (seed, text) seeds random.Random; only random() is used, whose sequence Python
    # guarantees. These literals must never change.
    digest = hashlib.sha256(b"42\x00a {cat|dog}").digest()
    assert wildcard_rng(42, "a {cat|dog}").random() == 0.47794494710871926
    assert random.Random(int.from_bytes(digest[:8], "big")).random() == 0.47794494710871926
    assert (
        resolve_wildcards("a {cat|dog|fox|owl} with __fruit__", 42, lists).text == "a cat with plum"
    )


def test_the_prompt_text_is_part_of_the_seed():
    results = {resolve_wildcards(f"{{a|b|c|d|e|f}} #{n}", 7).text[0] for n in range(12)}
    assert len(results) > 1


def test_choices_are_reported_in_order(lists):
    resolved = resolve_wildcards("{one|two} and __fruit__", 3, lists)
    assert [c.source for c in resolved.choices] == ["{one|two}", "__fruit__"]
    assert resolved.text == f"{resolved.choices[0].chosen} and {resolved.choices[1].chosen}"
    assert resolved.choices[1].chosen in {"apple", "pear", "plum"}


def test_list_files_skip_comments_and_blank_lines(lists):
    assert lists.options("fruit") == ["apple", "pear", "plum"]
    picked = {resolve_wildcards("__fruit__", seed, lists).text for seed in range(40)}
    assert picked == {"apple", "pear", "plum"}


def test_nested_options_and_lists_are_resolved(lists):
    resolved = resolve_wildcards("{a {big|small} __food/soup__|__bowl__}", 5, lists)
    assert "{" not in resolved.text and "__" not in resolved.text
    assert len(resolved.choices) >= 3
    seen = {resolve_wildcards("{x {1|2}|y}", seed, lists).text for seed in range(40)}
    assert seen == {"x 1", "x 2", "y"}


def test_unknown_list_is_an_error_naming_it(lists):
    with pytest.raises(UnknownWildcardError, match="Unknown wildcard __dragon__") as caught:
        resolve_wildcards("a __dragon__ sleeping", 1, lists)
    assert caught.value.name == "dragon"
    assert isinstance(caught.value, ValueError)
    for folder in lists.folders:  # a hosted page shows this: no server path in it
        assert str(folder) not in str(caught.value)
        assert folder.name not in str(caught.value).replace("wildcards folder", "")


def test_a_list_that_picks_itself_stops_at_the_depth_limit(lists):
    with pytest.raises(WildcardError, match=r"deeper than 10 levels \(__loop__"):
        resolve_wildcards("__loop__", 1, lists)
    assert resolve_wildcards("__bowl__", 0, lists, max_depth=2).text.startswith("a bowl of ")
    with pytest.raises(WildcardError, match=r"deeper than 1 levels \(__bowl__"):
        resolve_wildcards("__bowl__", 0, lists, max_depth=1)


def test_an_empty_list_is_an_error(lists):
    with pytest.raises(WildcardError, match="__empty__ has no options"):
        resolve_wildcards("__empty__", 1, lists)


def test_style_placeholder_and_braces_without_a_bar_are_not_wildcards(lists):
    text = 'oil painting of {prompt}, {single}, {}, json {"a": 1}'
    assert resolve_wildcards(text, 9, lists).text == text
    assert not has_wildcards(text)
    assert resolve_wildcards("{prompt}, {a|b}", 9, lists).text in {"{prompt}, a", "{prompt}, b"}


def test_a1111_alternation_weights_and_escapes_are_left_for_the_weighting_parser(lists):
    text = r"[cat|dog], (red:1.2), \(literal\), \{not|wild\}"
    assert (
        resolve_wildcards(text, 1, lists).text == r"[cat|dog], (red:1.2), \(literal\), {not|wild}"
    )
    assert resolve_wildcards("{(red:1.2)|[blue]}", 1, lists).text in {"(red:1.2)", "[blue]"}


def test_pick_several_with_counts_and_separators(lists):
    two = resolve_wildcards("{2$$a|b|c}", 4, lists).text.split(", ")
    assert len(two) == 2 and len(set(two)) == 2 and set(two) <= {"a", "b", "c"}
    joined = resolve_wildcards("{3$$ and $$a|b|c}", 4, lists).text
    assert sorted(joined.split(" and ")) == ["a", "b", "c"]
    counts = {len(resolve_wildcards("{1-3$$a|b|c}", s, lists).text.split(", ")) for s in range(40)}
    assert counts == {1, 2, 3}


def test_weighted_options_favour_heavier_ones(lists):
    picks = [resolve_wildcards("{9::often|1::rarely}", seed, lists).text for seed in range(200)]
    assert picks.count("often") > 150 and "rarely" in picks
    assert {resolve_wildcards("{0::never|always}", s, lists).text for s in range(30)} == {"always"}


def test_at_least_six_builtin_lists_with_real_options():
    lists = load_wildcard_lists()
    assert {"animal", "colour", "season", "style_word", "place", "weather"} <= set(lists.names())
    for name in lists.names():
        options = lists.options(name)
        assert len(options) >= 10, name
        assert len(set(options)) == len(options), name


def test_the_users_folder_adds_lists_and_overrides_builtin_ones(tmp_path):
    user = user_wildcards_dir(tmp_path)
    user.mkdir()
    (user / "animal.txt").write_text("unicorn\n")
    (user / "mine.txt").write_text("my own\n")
    lists = load_wildcard_lists(user)
    assert resolve_wildcards("__animal__, __mine__, __season__", 1, lists).text.startswith(
        "unicorn, my own, "
    )
    assert resolve_wildcards("__Animal__", 2, lists).text == "unicorn"


def test_wildcards_are_detected():
    assert has_wildcards("a {b|c}") and has_wildcards("a __animal__")
    assert not has_wildcards("a (b:1.2), [c|d], {prompt}")
    assert WildcardChoice("{a|b}", "a").chosen == "a"


def test_wildcards_resolve_on_the_composed_prompt_after_styles(lists):
    style = Style("Warmth", "Test", "painting of {prompt}, {warm|cold} light", "{dull|flat}")
    recipe = Recipe(subject="a {red|blue} fox", styles=["Warmth"])
    composed = compose_prompt(recipe, StyleLibrary(builtin=[style]))
    assert composed.positive == "painting of a {red|blue} fox, {warm|cold} light"
    resolved = resolve_wildcards(composed.positive, 11, lists)
    assert re.fullmatch(r"painting of a (red|blue) fox, (warm|cold) light", resolved.text)
    # the placeholder itself survives resolution, so resolving too early would still be safe
    assert resolve_wildcards(style.prompt, 11, lists).text.startswith("painting of {prompt}, ")
