"""Token budget with the real SD1.x CLIP tokenizer, chunked exactly as AUTOMATIC1111 does."""

import pytest

from engine.tokenizer import load_clip_tokenizer
from prompts.token_budget import (
    CHUNK_LENGTH,
    HFTokenizerAdapter,
    as_prompt_tokenizer,
    count_tokens,
)
from prompts.weighting import PromptSyntaxError

# 125 CLIP tokens; the comma after "volumetric light rays" is token 74 of 75.
LONG_PROMPT = (
    "a weathered lighthouse on a rocky cliff above a stormy sea, golden hour light breaking "
    "through heavy clouds, crashing waves throwing white spray, seagulls circling the lantern "
    "room, a small red fishing boat heading home, wet black rocks glistening in the foreground, "
    "long dramatic shadows, thick oil paint with visible brushstrokes, warm amber and deep teal "
    "palette, volumetric light rays, soft sea mist, rule of thirds composition, highly detailed, "
    "sharp focus, moody romantic atmosphere, an old keeper waving from the gallery railing, "
    "a lone cormorant drying its wings on a buoy, distant snow capped mountains, "
    "award winning landscape painting"
)


@pytest.fixture(scope="module")
def tokenizer():
    return load_clip_tokenizer()


def counts(budget):
    return [chunk.token_count for chunk in budget.chunks]


def test_a_short_prompt_fits_one_chunk(tokenizer):
    budget = count_tokens("a lighthouse at golden hour", tokenizer)
    assert counts(budget) == [5]
    assert budget.fits_one_chunk and budget.cut_words == ()
    assert budget.chunks[0].first_word == "a" and budget.chunks[0].last_word == "hour"


def test_a_120_token_prompt_wraps_at_the_last_comma_before_75(tokenizer):
    budget = count_tokens(LONG_PROMPT, tokenizer)
    plain_ids = tokenizer(LONG_PROMPT, add_special_tokens=False)["input_ids"]
    assert budget.token_count == len(plain_ids) == 125
    assert counts(budget) == [74, 51]
    first, second = budget.chunks
    assert first.ended_by == "comma" and first.tokens[-1].piece == ",</w>"
    assert first.last_word == "rays" and second.first_word == "soft"
    assert not first.splits_word
    assert second.ended_by == "end" and second.last_word == "painting"


def test_without_comma_backtrack_chunks_split_at_exactly_75(tokenizer):
    budget = count_tokens(LONG_PROMPT, tokenizer, comma_padding_backtrack=0)
    assert counts(budget) == [75, 50]
    assert budget.chunks[0].ended_by == "full"
    assert budget.chunks[0].last_word == "soft" and budget.chunks[1].first_word == "sea"


def test_a_model_truncating_at_77_loses_everything_after_75_tokens(tokenizer):
    budget = count_tokens(LONG_PROMPT, tokenizer)
    assert not budget.fits_one_chunk
    assert budget.cut_words[:4] == ("sea", "mist", "rule", "of")
    assert budget.cut_words[-1] == "painting"
    assert budget.cut_text.startswith("sea mist, rule of thirds composition")


def test_comma_backtrack_moves_only_text_within_20_tokens(tokenizer):
    near = count_tokens("cat " * 70 + ", " + "dog " * 10, tokenizer)
    assert counts(near) == [71, 10]
    assert near.chunks[0].ended_by == "comma" and near.chunks[1].first_word == "dog"
    far = count_tokens("cat " * 50 + ", " + "dog " * 30, tokenizer)
    assert counts(far) == [75, 6] and far.chunks[0].ended_by == "full"


def test_break_starts_a_new_chunk_and_costs_no_tokens(tokenizer):
    budget = count_tokens("a cat BREAK a dog", tokenizer)
    assert counts(budget) == [2, 2]
    assert [c.ended_by for c in budget.chunks] == ["break", "end"]
    assert budget.plain_text == "a cat BREAK a dog"
    assert counts(count_tokens("a cat BREAK", tokenizer)) == [2]
    assert counts(count_tokens("cat " * 80 + "BREAK dog", tokenizer)) == [75, 5, 1]
    exact = count_tokens("cat " * 75 + "BREAK dog", tokenizer)
    assert counts(exact) == [75, 1]
    assert [c.ended_by for c in exact.chunks] == ["break", "end"]


def test_weighting_syntax_costs_no_tokens(tokenizer):
    plain = count_tokens("red car, blue sky", tokenizer).token_count
    assert count_tokens("(red:1.5) car, [blue] ((sky))", tokenizer).token_count == plain
    assert count_tokens("(red:1.5) car", tokenizer).plain_text == "red car"


def test_a_word_cut_by_a_chunk_boundary_is_reported(tokenizer):
    budget = count_tokens("cat " * 74 + "volumetric", tokenizer)
    assert counts(budget) == [75, 1]
    assert budget.chunks[0].splits_word
    assert budget.chunks[0].last_word == budget.chunks[1].first_word == "volumetric"


def test_an_empty_prompt_is_one_empty_chunk(tokenizer):
    budget = count_tokens("", tokenizer)
    assert counts(budget) == [0] and budget.token_count == 0


def test_malformed_weighting_is_reported_with_its_position(tokenizer):
    with pytest.raises(PromptSyntaxError, match="never closed"):
        count_tokens("a (red car", tokenizer)


def test_a_plain_token_function_counts_the_same_as_the_hf_tokenizer(tokenizer):
    from_pieces = count_tokens(LONG_PROMPT, tokenizer.tokenize)
    from_hf = count_tokens(LONG_PROMPT, HFTokenizerAdapter(tokenizer))
    assert counts(from_pieces) == counts(from_hf) == [74, 51]
    assert from_pieces.chunks[1].first_word == "soft"
    assert from_pieces.cut_words == from_hf.cut_words


def test_token_spans_point_into_the_plain_text(tokenizer):
    budget = count_tokens("A (Lighthouse:1.2), Zürich", tokenizer)
    spans = [budget.plain_text[t.start : t.end] for t in budget.chunks[0].tokens]
    assert "".join(spans) == "ALighthouse,Zürich"


def test_describe_gives_one_line_per_chunk_and_the_cut(tokenizer):
    lines = count_tokens(LONG_PROMPT, tokenizer).describe()
    assert lines[0] == f'chunk 1: 74/{CHUNK_LENGTH} tokens, "a" ... "rays" (ends: comma)'
    assert lines[1].startswith('chunk 2: 51/75 tokens, "soft"')
    assert lines[2].startswith("cut by a 77-token model: sea mist")


def test_unusable_tokenizers_are_refused():
    with pytest.raises(TypeError, match="Cannot count tokens with a int"):
        as_prompt_tokenizer(3)
