"""What each text encoder of a model reads of a prompt, in its own tokens.

SD 1.x reads CLIP in 75-token chunks; SDXL two CLIPs in chunks; SD3 CLIP-L and CLIP-G in
chunks and T5 whole up to its `max_sequence_length`; FLUX pools CLIP-L's first chunk only and
reads T5 whole up to its limit. A CLIP encoder's budget is `prompts.token_budget.TokenBudget`
(chunks, and what a 77-token model cuts); a T5 encoder's is a `SequenceBudget`: its tokens
counted against the limit (one place goes to `</s>`), and the words past it.

T5 reads the prompt's plain text whole (weighting syntax removed, each `BREAK` a space), as
the engine gives it (`engine.flow_encoding`). Tokenizers are passed in (this package imports
neither torch nor transformers): anything `prompts.token_budget.as_prompt_tokenizer` takes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from prompts.token_budget import Token, TokenBudget, as_prompt_tokenizer, count_tokens
from prompts.weighting import parse_weighted

EncoderRole = Literal["chunks", "pooled", "sequence"]
_WORD = re.compile(r"[^\s,]+")


def sequence_text(prompt: str) -> str:
    """The plain text a T5 encoder reads: weighting syntax removed, each BREAK one space."""
    runs, current = [], ""
    for segment in parse_weighted(prompt):
        if segment.is_break:
            runs.append(current)
            current = ""
        else:
            current += segment.text
    runs.append(current)
    return " ".join(runs)


@dataclass(frozen=True)
class SequenceBudget:
    """A prompt against a T5 encoder's limit: `limit` counts `</s>`, so `limit - 1` tokens
    of text fit."""

    prompt: str
    plain_text: str
    tokens: tuple[Token, ...]
    limit: int
    cut_words: tuple[str, ...]
    cut_text: str = ""

    @property
    def token_count(self) -> int:
        """The prompt's tokens, without `</s>`."""
        return len(self.tokens)

    @property
    def room(self) -> int:
        """Tokens of text the encoder reads: the limit less its `</s>`."""
        return max(self.limit - 1, 0)

    @property
    def fits(self) -> bool:
        return self.token_count <= self.room

    def describe(self) -> list[str]:
        """`412/511 tokens` and, when it does not fit, what is cut."""
        lines = [f"{self.token_count}/{self.room} tokens (limit {self.limit} with </s>)"]
        if not self.fits:
            lines.append(f"cut at the limit: {self.cut_text}")
        return lines


def count_sequence_tokens(prompt: str, tokenizer: Any, limit: int) -> SequenceBudget:
    """Count `prompt` in a T5 tokenizer's tokens against `limit` (its max_sequence_length)."""
    plain = sequence_text(prompt)
    tokens = tuple(as_prompt_tokenizer(tokenizer).tokenize_with_spans(plain))
    room = max(limit - 1, 0)
    cut_text = ""
    cut_words: tuple[str, ...] = ()
    if len(tokens) > room:
        start = tokens[room].start
        words = [(m.start(), m.end()) for m in _WORD.finditer(plain)]
        first = next((s for s, e in words if s <= start < e), start)
        cut_text = plain[first:].strip()
        cut_words = tuple(plain[s:e] for s, e in words if e > start)
    return SequenceBudget(prompt, plain, tokens, limit, cut_words, cut_text)


@dataclass(frozen=True)
class EncoderSpec:
    """One text encoder of a model: its name (`CLIP-L`, `CLIP-G`, `T5`), its tokenizer, how it
    reads (`chunks` of 75, the `pooled` first chunk only, or a `sequence` up to `limit`)."""

    name: str
    tokenizer: Any
    role: EncoderRole
    limit: int | None = None


@dataclass(frozen=True)
class EncoderBudget:
    """What one encoder reads of a prompt: a CLIP budget or a T5 sequence budget."""

    name: str
    role: EncoderRole
    clip: TokenBudget | None = None
    sequence: SequenceBudget | None = None

    @property
    def token_count(self) -> int:
        return self.clip.token_count if self.clip else self.sequence.token_count  # type: ignore[union-attr]

    def describe(self) -> list[str]:
        """One headline for the encoder, then its details."""
        if self.sequence is not None:
            return [f"{self.name}: {line}" for line in self.sequence.describe()]
        assert self.clip is not None
        chunks = len(self.clip.chunks)
        if self.role == "pooled":
            head = f"{self.name} (pooled): reads the first 75 of {self.clip.token_count} tokens"
            tail = [f"not pooled: {self.clip.cut_text}"] if self.clip.cut_words else []
            return [head, *tail]
        head = f"{self.name}: {self.clip.token_count} tokens in {chunks} chunk(s) of 75"
        return [head, *(f"  {line}" for line in self.clip.describe())]


def encoder_budgets(prompt: str, encoders: Sequence[EncoderSpec]) -> list[EncoderBudget]:
    """Each encoder's budget for `prompt`, in the order given. `PromptSyntaxError` (a
    `ValueError`) for malformed weighting."""
    budgets = []
    for spec in encoders:
        if spec.role == "sequence":
            if spec.limit is None:
                raise ValueError(f"{spec.name} reads a sequence: give its limit.")
            sequence = count_sequence_tokens(prompt, spec.tokenizer, spec.limit)
            budgets.append(EncoderBudget(spec.name, spec.role, sequence=sequence))
        else:
            clip = count_tokens(prompt, spec.tokenizer)
            budgets.append(EncoderBudget(spec.name, spec.role, clip=clip))
    return budgets
