"""Prompt diff: added, removed, reweighted and changed terms, and a HighlightedText rendering."""

from prompts.diff import DIFF_COLOR_MAP, diff_prompts, highlight_diff


def kinds(diff):
    return [(change.kind, change.old, change.new) for change in diff.changes]


def test_identical_prompts_are_all_unchanged():
    diff = diff_prompts("a cat, (red:1.2), oil painting", "a cat,  (red:1.2),oil painting")
    assert diff.is_same
    assert diff.unchanged == ["a cat", "(red:1.2)", "oil painting"]


def test_added_and_removed_terms():
    diff = diff_prompts("a cat, blurry, oil painting", "a cat, oil painting, golden hour")
    assert diff.removed == ["blurry"]
    assert diff.added == ["golden hour"]
    assert kinds(diff) == [
        ("unchanged", "a cat", "a cat"),
        ("removed", "blurry", None),
        ("unchanged", "oil painting", "oil painting"),
        ("added", None, "golden hour"),
    ]


def test_a_new_weight_is_a_reweight_not_a_new_term():
    diff = diff_prompts("(red:1.2), sky, [fog], cloud", "(red:1.5), (sky), fog, CLOUD")
    assert diff.reweighted == ["(red:1.5)", "(sky)", "fog"]
    assert diff.unchanged == ["CLOUD"]
    red, sky, fog, _ = diff.changes
    assert (red.old_weight, red.new_weight) == (1.2, 1.5)
    assert (sky.old_weight, sky.new_weight) == (1.0, 1.1)
    assert round(fog.old_weight, 4) == round(1 / 1.1, 4) and fog.new_weight == 1.0


def test_weight_on_part_of_a_term_marks_just_those_words():
    (change,) = diff_prompts("a red car", "a (red:1.4) car").changes
    assert change.kind == "reweighted"
    assert change.new_weight is None  # mixed weights
    assert change.words == (("a", None), ("(red:1.4)", "~"), ("car", None))


def test_a_similar_term_gets_a_word_diff():
    (change,) = diff_prompts("a red sports car", "a blue sports car").changes
    assert change.kind == "changed"
    assert change.words == (
        ("a", None),
        ("red", "-"),
        ("blue", "+"),
        ("sports", None),
        ("car", None),
    )


def test_dissimilar_replacements_are_removed_and_added():
    diff = diff_prompts("a cat, watercolor", "a cat, cyberpunk city at night")
    assert diff.removed == ["watercolor"] and diff.added == ["cyberpunk city at night"]


def test_commas_inside_weights_do_not_split_terms():
    diff = diff_prompts("(snow, ice:1.2), fox", "(snow, ice:1.3), fox")
    assert diff.reweighted == ["(snow, ice:1.3)"] and diff.unchanged == ["fox"]


def test_half_typed_weighting_still_diffs_as_plain_words():
    diff = diff_prompts("a (red car", "a (red car, sky")
    assert diff.added == ["sky"] and diff.unchanged == ["a (red car"]


def test_highlighted_pairs_for_the_ui():
    pairs = highlight_diff("a red car, (sun:1.2), blurry", "a blue car, (sun:1.5), sharp")
    assert pairs == [
        ("a", None),
        (" ", None),
        ("red", "-"),
        (" ", None),
        ("blue", "+"),
        (" ", None),
        ("car", None),
        (", ", None),
        ("(sun:1.5)", "~"),
        (", ", None),
        ("blurry", "-"),
        (", ", None),
        ("sharp", "+"),
    ]
    assert set(DIFF_COLOR_MAP) == {"+", "-", "~"}


def test_empty_prompts():
    assert diff_prompts("", "").changes == ()
    assert diff_prompts("", "a cat").added == ["a cat"]
    assert diff_prompts("a cat, ", "").removed == ["a cat"]
