"""The one scanner of prompt text, and the grammars that read it: one escape rule, A1111's
bracket pairing, tags and wildcard names, in linear time."""

import contextlib
import gc
import time

import pytest

from prompts.compose import split_terms
from prompts.scanner import Kind, scan_prompt
from prompts.weighting import PromptSyntaxError, parse_weighted
from prompts.wildcards import WildcardLists, has_wildcards, resolve_wildcards


def kinds(text: str) -> list[tuple[str, str]]:
    scan = scan_prompt(text)
    return [(token.kind.name, scan.source(token)) for token in scan.tokens]


def test_tokens_cover_the_text_in_order():
    text = "a (red:1.2), {x|y} <lora:toy:0.5> __animal__ \\(q\\) end\\"
    scan = scan_prompt(text)
    assert "".join(scan.source(t) for t in scan.tokens) == text
    assert all(a.end == b.start for a, b in zip(scan.tokens, scan.tokens[1:], strict=False))
    assert ("WILDCARD", "__animal__") in kinds(text)
    assert kinds("\\(q\\) end\\")[0] == ("ESCAPE", "\\(")
    assert kinds("end\\")[-1] == ("ESCAPE", "\\")  # a final backslash escapes nothing


@pytest.mark.parametrize("char", list("()[]{}<>:,|_\\"))
def test_an_escaped_character_is_text_to_every_grammar(char):
    text = f"a\\{char}b"
    assert kinds(text) == [("TEXT", "a"), ("ESCAPE", f"\\{char}"), ("TEXT", "b")]
    assert split_terms(f"x\\{char}, y") == [f"x\\{char}", " y"]
    assert not has_wildcards(f"{{a\\{char}b}}")
    assert resolve_wildcards(f"{{a\\{char}b}}", 1, WildcardLists([])).choices == ()
    segments = parse_weighted(f"(a\\{char}b)")
    assert [(s.text, s.weight) for s in segments] == [(f"a{char}b", 1.1)]


def test_brackets_pair_each_kind_on_its_own_as_a1111_does():
    scan = scan_prompt("(a [b) c]")
    opener_round, opener_square = scan.tokens[0], scan.tokens[2]
    assert scan.source(scan.tokens[opener_round.partner]) == ")"
    assert scan.source(scan.tokens[opener_square.partner]) == "]"
    stray = scan_prompt("a) (b")
    assert [t.partner for t in stray.tokens if t.kind in (Kind.OPEN, Kind.CLOSE)] == [None, None]


def test_owners_are_the_innermost_matched_bracket():
    scan = scan_prompt("x, (a, {b|c}), [d")
    separators = {scan.text[t.start] + str(t.start): t.owner for t in scan.tokens}
    assert separators[",1"] is None  # top level
    assert scan.source(scan.tokens[separators[",5"]]) == "("
    assert scan.source(scan.tokens[separators["|9"]]) == "{"
    assert separators[",13"] is None
    assert scan.tokens[-1].owner is None  # '[' never closes: it encloses nothing


def test_tags_pair_their_angle_brackets_and_other_angles_are_text():
    assert kinds("<lora:a,b:0.5>")[0] == ("OPEN", "<")
    assert kinds("<lora:a,b:0.5>")[-1] == ("CLOSE", ">")
    assert kinds("a < b, c > d")[1] == ("TEXT", "<")  # no name and colon: not a tag
    assert kinds("\\<lora:x:1>")[0] == ("ESCAPE", "\\<")
    # commas inside a tag do not split terms (before, the tag came out as two terms)
    assert split_terms("a, <lora:a,b:0.5>, c") == ["a", " <lora:a,b:0.5>", " c"]


def test_one_pairing_rule_for_terms_and_wildcards():
    # Changed: a bracket left open inside a matched group no longer hides the group's own
    # closing bracket (the old scanners used one stack for all kinds and skipped a mismatch).
    assert split_terms("{a (b, c}, d") == ["{a (b, c}", " d"]  # was ['{a (b', ' c}', ' d']
    resolved = {resolve_wildcards("{a (b|c}", seed, WildcardLists([])).text for seed in range(20)}
    assert resolved == {"a (b", "c"}  # was left as written


def test_has_wildcards_and_resolution_agree_on_escapes():
    # Changed: has_wildcards used to ignore escapes (True for an escaped name, False for a
    # group after an escaped backslash), so it disagreed with resolution.
    lists = WildcardLists([])
    assert not has_wildcards(r"\__animal__")
    assert resolve_wildcards(r"\__animal__", 1, lists).text == r"\__animal__"
    assert has_wildcards(r"\\{a|b}")
    assert resolve_wildcards(r"\\{a|b}", 1, lists).text in {r"\\a", r"\\b"}


# --- Linear time ----------------------------------------------------------------------------


def shapes(n: int) -> dict[str, str]:
    """Texts of n brackets."""
    return {
        "nested": "([a," * (n // 2) + "])" * (n // 2),  # n pieces, n deep; weights cancel out
        "unbalanced": "(({|" * (n // 4) + "]",  # nothing ever closes
        "crossing": "(a[)]{|}," * (n // 6),  # crossing pairs, wildcard groups, commas
        "braces": "{" * (n // 2) + "a|b" + "}" * (n // 2),
    }


def weigh(text: str) -> None:
    with contextlib.suppress(PromptSyntaxError):
        parse_weighted(text)


def resolve(text: str) -> None:
    has_wildcards(text)
    resolve_wildcards(text, 1, WildcardLists([]))


def best_time(read, text: str, repeats: int) -> float:
    """The fastest of some runs, without the garbage collector (whose full passes grow with
    everything the process holds, not with the parser's work)."""
    times = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            read(text)
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return min(times)


@pytest.mark.parametrize("shape", list(shapes(8)))
@pytest.mark.parametrize("read", [weigh, split_terms, resolve])
def test_reading_100k_brackets_takes_about_ten_times_10k(read, shape):
    small, large = shapes(10_000)[shape], shapes(100_000)[shape]
    ratio = best_time(read, large, 2) / best_time(read, small, 5)
    assert ratio < 30, f"10x the brackets took {ratio:.0f}x the time"
