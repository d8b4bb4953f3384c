"""Prompt text to SD3 and FLUX.1 conditioning, with A1111 weights on every encoder.

A plain prompt is encoded exactly as diffusers' `encode_prompt` encodes it:
- SD3: CLIP-L and CLIP-G each frame the prompt as `[start, tokens, end, pad...]` (77 tokens; the
  pad token read from each tokenizer: CLIP-L pads with its end token, CLIP-G with `!`) and give
  their penultimate hidden state side by side, zero-padded to T5's width; T5 frames it as
  `[tokens, </s>, <pad>...]` up to `max_sequence_length`; the sequence is CLIP's tokens, then
  T5's. The pooled vector is CLIP-L's and CLIP-G's projected end-of-text states side by side.
- FLUX: CLIP-L gives only its pooled vector; T5's hidden states are the sequence.

Longer prompts: CLIP reads 75 tokens per chunk, A1111's chunking (`BREAK`, comma backtrack),
SD3's chunks follow one another in the sequence and the pooled vector is the first chunk's
(as ComfyUI does); T5 sees the whole prompt, cut only at `max_sequence_length` (with `BREAK`
as a space). FLUX's CLIP pools the first chunk alone.

Weights, as ComfyUI's `ClipTokenWeightEncoder`: each encoder encodes the prompt and the empty
prompt framed the same way, and every token whose weight is not 1 is moved away from the empty
prompt's state at its position, `z = (z - z_empty) * w + z_empty`; pooled vectors are not
weighted. Weights never change which tokens an encoder sees: the plain text (the prompt without
its weighting syntax) is tokenized whole and each token takes the weight of the text it came
from (found by its character offsets), so weights of 1.0 give exactly the plain prompt.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from prompts.chunking import chunk_tokens
from prompts.weighting import parse_weighted

CLIP_LENGTH = 77


@dataclass(frozen=True)
class WeightedTokens:
    """One framed sequence for an encoder: token ids and each token's weight."""

    ids: list[int]
    weights: list[float]


@dataclass(frozen=True)
class FlowEmbedding:
    """One prompt's conditioning: `embeds` (1, seq, dim), `pooled` (1, dim); `clip_chunks` is
    how many 77-token CLIP chunks lead SD3's sequence (0 for FLUX)."""

    embeds: torch.Tensor
    pooled: torch.Tensor
    clip_chunks: int = 0


@dataclass(frozen=True)
class _Run:
    """Plain text between two BREAKs, with the weighted spans it is made of."""

    text: str
    starts: list[int]
    weights: list[float]

    def weight_at(self, position: int) -> float:
        index = bisect.bisect_right(self.starts, position) - 1
        return self.weights[max(index, 0)] if self.weights else 1.0


def _runs(text: str) -> list[_Run]:
    """The prompt's plain text, split at each BREAK, with where each weight starts."""
    runs: list[_Run] = []
    plain, starts, weights = "", [], []
    for segment in parse_weighted(text):
        if segment.is_break:
            runs.append(_Run(plain, starts, weights))
            plain, starts, weights = "", [], []
            continue
        starts.append(len(plain))
        weights.append(segment.weight)
        plain += segment.text
    runs.append(_Run(plain, starts, weights))
    return runs


def plain_text(text: str, separator: str = " ") -> str:
    """The prompt as an encoder reads it whole: weighting syntax removed, each BREAK a space."""
    return separator.join(run.text for run in _runs(text))


def _joined_run(text: str) -> _Run:
    """All runs as one (what T5 reads): BREAKs become single spaces."""
    plain, starts, weights = "", [], []
    for index, run in enumerate(_runs(text)):
        if index:
            plain += " "
        starts += [len(plain) + start for start in run.starts]
        weights += run.weights
        plain += run.text
    return _Run(plain, starts, weights)


def _weighted_ids(tokenizer: Any, run: _Run, **framing: Any) -> WeightedTokens:
    """Tokenize the run's text whole; each token weighs what the text at its start weighs."""
    encoded = tokenizer(
        run.text, return_offsets_mapping=True, return_special_tokens_mask=True, **framing
    )
    ids = list(encoded["input_ids"])
    weights = [
        1.0 if special else run.weight_at(start)
        for (start, _), special in zip(
            encoded["offset_mapping"], encoded["special_tokens_mask"], strict=True
        )
    ]
    return WeightedTokens(ids, weights)


def clip_chunks(tokenizer: Any, text: str) -> list[WeightedTokens]:
    """The prompt as CLIP chunks framed `[start, 75 tokens, end, pad...]` (pad read from the
    tokenizer), split as A1111 splits: each BREAK closes a chunk, a full chunk moves a phrase
    cut after its last comma (within 20 tokens) to the next."""
    length = int(tokenizer.model_max_length)
    groups: list[list[tuple[int, float]] | None] = []
    for index, run in enumerate(_runs(text)):
        if index:
            groups.append(None)  # BREAK
        tokens = _weighted_ids(tokenizer, run, add_special_tokens=False)
        groups.append(list(zip(tokens.ids, tokens.weights, strict=True)))
    comma = tokenizer.convert_tokens_to_ids(",</w>")
    chunks = chunk_tokens(groups, is_comma=lambda item: item[0] == comma, chunk_length=length - 2)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    framed = []
    for chunk in chunks:
        padding = length - 2 - len(chunk)
        ids = [tokenizer.bos_token_id, *(t for t, _ in chunk), tokenizer.eos_token_id]
        weights = [1.0, *(w for _, w in chunk), 1.0]
        framed.append(WeightedTokens([*ids, *[pad] * padding], [*weights, *[1.0] * padding]))
    return framed


def t5_tokens(tokenizer: Any, text: str, max_length: int) -> WeightedTokens:
    """The whole prompt framed for T5 exactly as diffusers frames it: `[tokens, </s>, <pad>...]`
    padded (or cut) to `max_length`."""
    return _weighted_ids(
        tokenizer,
        _joined_run(text),
        padding="max_length",
        max_length=max_length,
        truncation=True,
    )


def move_from_empty(
    hidden: torch.Tensor, empty: torch.Tensor, weights: list[float]
) -> torch.Tensor:
    """ComfyUI's token weights: `z = (z - z_empty) * w + z_empty` for each token whose weight
    is not 1 (the others are left exactly as they were)."""
    if all(w == 1.0 for w in weights):
        return hidden
    scale = torch.tensor(weights, dtype=hidden.dtype, device=hidden.device).reshape(1, -1, 1)
    moved = (hidden - empty) * scale + empty
    keep = (scale == 1.0).expand_as(hidden)
    return torch.where(keep, hidden, moved)


def _run(encoder: Any, ids: list[int]) -> Any:
    return encoder(torch.tensor([ids], device=encoder.device), output_hidden_states=True)


def _pad_chunks(chunks: list[WeightedTokens], count: int, tokenizer: Any) -> None:
    chunks.extend([clip_chunks(tokenizer, "")[0]] * (count - len(chunks)))


class EmptyStates:
    """The empty prompt's hidden states per encoder and setting, computed once per model."""

    def __init__(self) -> None:
        self._states: dict[tuple[Any, ...], torch.Tensor] = {}

    def get(self, key: tuple[Any, ...], compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        if key not in self._states:
            self._states[key] = compute()
        return self._states[key]

    def clear(self) -> None:
        self._states.clear()


def sd3_chunk_count(pipeline: Any, text: str) -> int:
    """How many CLIP chunks `text` needs on an SD3 pipeline (the longer of CLIP-L and CLIP-G)."""
    return max(
        len(clip_chunks(pipeline.tokenizer, text)), len(clip_chunks(pipeline.tokenizer_2, text))
    )


def _t5_states(
    encoder: Any, tokenizer: Any, text: str, max_length: int, empties: EmptyStates
) -> torch.Tensor:
    tokens = t5_tokens(tokenizer, text, max_length)
    hidden = encoder(torch.tensor([tokens.ids], device=encoder.device))[0]

    def empty() -> torch.Tensor:
        ids = t5_tokens(tokenizer, "", max_length).ids
        return encoder(torch.tensor([ids], device=encoder.device))[0]

    base = empties.get(("t5", id(encoder), max_length), empty)
    return move_from_empty(hidden, base, tokens.weights).to(encoder.dtype)


def encode_sd3(
    pipeline: Any,
    text: str,
    chunks: int,
    clip_skip: int,
    max_length: int,
    empties: EmptyStates,
) -> FlowEmbedding:
    """SD3's conditioning for `text` with at least `chunks` CLIP chunks (see module doc)."""
    layer = -(clip_skip + 1)  # the penultimate layer for clip skip 1, as diffusers
    encoders = (
        (pipeline.tokenizer, pipeline.text_encoder),
        (pipeline.tokenizer_2, pipeline.text_encoder_2),
    )
    pieces = [clip_chunks(tokenizer, text) for tokenizer, _ in encoders]
    count = max(chunks, *(len(p) for p in pieces))
    for (tokenizer, _), parts in zip(encoders, pieces, strict=True):
        _pad_chunks(parts, count, tokenizer)
    hidden, pooled = [], []
    for index in range(count):
        states = []
        for (tokenizer, encoder), parts in zip(encoders, pieces, strict=True):
            output = _run(encoder, parts[index].ids)
            if index == 0:
                pooled.append(output.text_embeds)

            def empty(tokenizer: Any = tokenizer, encoder: Any = encoder) -> torch.Tensor:
                return _run(encoder, clip_chunks(tokenizer, "")[0].ids).hidden_states[layer]

            base = empties.get(("clip", id(encoder), clip_skip), empty)
            state = move_from_empty(output.hidden_states[layer], base, parts[index].weights)
            states.append(state)
        hidden.append(torch.cat(states, dim=-1))
    clip = torch.cat(hidden, dim=1).to(pipeline.text_encoder.dtype)
    t5 = _t5_states(pipeline.text_encoder_3, pipeline.tokenizer_3, text, max_length, empties)
    clip = torch.nn.functional.pad(clip, (0, t5.shape[-1] - clip.shape[-1]))
    return FlowEmbedding(torch.cat([clip, t5], dim=-2), torch.cat(pooled, dim=-1), count)


def encode_flux(pipeline: Any, text: str, max_length: int, empties: EmptyStates) -> FlowEmbedding:
    """FLUX's conditioning for `text`: T5's weighted states and CLIP-L's pooled first chunk."""
    first = clip_chunks(pipeline.tokenizer, text)[0]
    pooled = _run(pipeline.text_encoder, first.ids).pooler_output.to(pipeline.text_encoder.dtype)
    t5 = _t5_states(pipeline.text_encoder_2, pipeline.tokenizer_2, text, max_length, empties)
    return FlowEmbedding(t5, pooled, 0)
