"""A1111's <lora:name:weight> tags, parsed and removed from the prompt text."""

import pytest

from prompts.lora import LoraRef, LoraSyntaxError, extract_loras


@pytest.mark.parametrize(
    ("text", "clean", "refs"),
    [
        ("a fox <lora:toy:0.8>", "a fox", (LoraRef("toy", 0.8),)),
        ("a fox, <lora:toy>, snow", "a fox, snow", (LoraRef("toy", 1.0),)),
        ("<lora:a:1><lora:b:0.5:0.2> cat", "cat", (LoraRef("a", 1.0), LoraRef("b", 0.5))),
        ("x <LORA:toy:.5> y", "x y", (LoraRef("toy", 0.5),)),
        ("<lora:toy:0.2> a <lora:toy:0.9>", "a", (LoraRef("toy", 0.9),)),
        ("no tags, (here:1.2)", "no tags, (here:1.2)", ()),
    ],
)
def test_tags_are_read_and_removed(text, clean, refs):
    assert extract_loras(text) == (clean, refs)


def test_a_weight_that_is_not_a_number_is_one_sentence():
    with pytest.raises(LoraSyntaxError, match="must be a number"):
        extract_loras("<lora:toy:abc>")
    with pytest.raises(LoraSyntaxError, match="finite"):
        extract_loras("<lora:toy:inf>")
