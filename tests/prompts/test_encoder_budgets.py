"""Each encoder's budget in its own tokens: CLIP-L, CLIP-G (which pads with `!`) and a
T5-framed tokenizer, as the tiny SD3 and FLUX models have them."""

import pytest

from engine.flow_encoding import plain_text, t5_tokens
from engine.t5_tokenizer import load_t5_tokenizer
from engine.tokenizer import load_clip_tokenizer
from prompts.encoder_budgets import (
    EncoderSpec,
    count_sequence_tokens,
    encoder_budgets,
    sequence_text,
)
from prompts.weighting import PromptSyntaxError


@pytest.fixture(scope="module")
def t5():
    return load_t5_tokenizer()


def test_t5_counts_the_plain_text_against_its_limit(t5):
    budget = count_sequence_tokens("a (red:1.4) fox BREAK in the snow", t5, 256)
    assert budget.plain_text == "a red fox in the snow" == plain_text(budget.prompt)
    framed = t5_tokens(t5, budget.prompt, 256)
    assert budget.token_count == framed.ids.index(t5.eos_token_id)  # what the engine sends
    assert budget.fits and budget.room == 255 and budget.cut_words == ()
    assert budget.describe() == ["6/255 tokens (limit 256 with </s>)"]


def test_a_long_prompt_is_cut_at_the_limit_with_the_words_named(t5):
    words = " ".join(f"word{i}" for i in range(200))
    budget = count_sequence_tokens(words, t5, 64)
    assert not budget.fits and budget.token_count > 63
    kept = t5.decode(t5_tokens(t5, words, 64).ids, skip_special_tokens=True)
    first_cut = budget.cut_words[0]
    assert first_cut not in kept.split() or kept.split()[-1] == first_cut  # cut mid-word at most
    assert budget.cut_text.startswith(first_cut) and budget.cut_text.endswith("word199")
    assert budget.describe()[1].startswith("cut at the limit: ")


def test_each_encoder_reads_in_its_own_tokens(t5):
    clip_l, clip_g = load_clip_tokenizer(), load_clip_tokenizer("!")
    long_prompt = ", ".join(f"a lighthouse number {i}" for i in range(30))
    budgets = encoder_budgets(
        long_prompt,
        [
            EncoderSpec("CLIP-L", clip_l, "chunks"),
            EncoderSpec("CLIP-G", clip_g, "chunks"),
            EncoderSpec("T5", t5, "sequence", 256),
        ],
    )
    assert [b.name for b in budgets] == ["CLIP-L", "CLIP-G", "T5"]
    assert len(budgets[0].clip.chunks) >= 2 and not budgets[0].clip.fits_one_chunk
    assert budgets[0].token_count == budgets[1].token_count  # same BPE, other padding
    assert budgets[2].token_count != budgets[0].token_count  # T5's own pieces
    assert (
        budgets[0].describe()[0].startswith("CLIP-L: ")
        and "chunk(s) of 75" in (budgets[0].describe()[0])
    )
    pooled = encoder_budgets(long_prompt, [EncoderSpec("CLIP-L", clip_l, "pooled")])[0]
    assert pooled.describe()[0].startswith("CLIP-L (pooled): reads the first 75 of ")
    assert pooled.describe()[1].startswith("not pooled: ")


def test_bad_weighting_is_a_syntax_error(t5):
    with pytest.raises(PromptSyntaxError):
        encoder_budgets("a (fox", [EncoderSpec("T5", t5, "sequence", 256)])
    assert sequence_text("a BREAK b") == "a b"
