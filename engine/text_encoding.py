"""Prompt text to CLIP embeddings, A1111-style: weights, BREAK, 75-token chunks concatenated.

Each chunk is built as the model's own tokenizer frames a prompt: `[start] + tokens + [end]`,
then the tokenizer's pad token up to its `model_max_length` (77). The pad token and the length
are read from each tokenizer, never assumed: SD1.x pads with the end token, SD 2.x and SDXL's
second encoder pad with `!`. Each chunk is encoded on its own; token embeddings are multiplied
by their weights and the chunk rescaled to keep its original mean, as A1111 does (for SDXL,
each encoder's half on its own).

Clip skip N (A1111's "Clip skip", 1..12) takes the hidden state N layers from the end, as
diffusers' `clip_skip=N-1`: SD1.x/SD2.x apply the final layer norm to it; SDXL starts from the
penultimate layer (N=1) as it always does.

SD3 and FLUX (CLIP and T5) are encoded by `engine.flow_encoding`, with ComfyUI's weights.

Results are cached per loaded model instance, clip skip, text, chunk count and T5 length, so a
new seed does not encode the same prompt again; the cache is cleared whenever the model changes.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch

from engine.flow_encoding import (
    EmptyStates,
    FlowEmbedding,
    encode_flux,
    encode_sd3,
    sd3_chunk_count,
)
from prompts.chunking import chunk_tokens
from prompts.weighting import parse_weighted

MAX_CLIP_SKIP = 12
Chunk = tuple[list[int], list[float]]


@dataclass(frozen=True)
class PromptEmbedding:
    """Embeddings of one prompt: (1, 77*chunks, dim), plus the pooled vector for SDXL."""

    embeds: torch.Tensor
    chunk_length: int = 77
    pooled: torch.Tensor | None = None

    @property
    def chunks(self) -> int:
        return self.embeds.shape[1] // self.chunk_length


def _frame_length(tokenizer: Any) -> int:
    """Tokens per encoded chunk (77 for CLIP), from the tokenizer itself."""
    return int(tokenizer.model_max_length)


def _pad_id(tokenizer: Any) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def token_chunks(tokenizer: Any, text: str) -> list[Chunk]:
    """Weighted text as framed chunks of ids and weights: `[bos, tokens, eos, pad...]`."""
    length = _frame_length(tokenizer)
    groups: list[list[tuple[int, float]] | None] = []
    for segment in parse_weighted(text):
        if segment.is_break:
            groups.append(None)
            continue
        ids = tokenizer(segment.text, add_special_tokens=False, truncation=False).input_ids
        groups.append([(token, segment.weight) for token in ids])
    comma = tokenizer.convert_tokens_to_ids(",</w>")
    chunks = chunk_tokens(groups, is_comma=lambda item: item[0] == comma, chunk_length=length - 2)
    pad = _pad_id(tokenizer)
    result = []
    for chunk in chunks:
        padding = length - 2 - len(chunk)
        ids = [tokenizer.bos_token_id, *(t for t, _ in chunk), tokenizer.eos_token_id]
        weights = [1.0, *(w for _, w in chunk), 1.0]
        result.append(([*ids, *[pad] * padding], [*weights, *[1.0] * padding]))
    return result


def apply_weights(hidden: torch.Tensor, weights: list[float]) -> torch.Tensor:
    """A1111's emphasis: scale each token by its weight, then restore the chunk's mean."""
    if all(w == 1.0 for w in weights):
        return hidden
    scale = torch.tensor(weights, dtype=hidden.dtype, device=hidden.device).reshape(1, -1, 1)
    original_mean = hidden.mean()
    weighted = hidden * scale
    return weighted * (original_mean / weighted.mean())


def _pad_chunks(chunks: list[Chunk], count: int, tokenizer: Any) -> None:
    empty = token_chunks(tokenizer, "")[0]
    chunks.extend([empty] * (count - len(chunks)))


class PromptEncoder:
    """Encodes prompts for SD1.x/SD2.x (one CLIP), SDXL (two CLIPs), SD3 (two CLIPs and T5) and
    FLUX (CLIP and T5) pipelines, with a cache."""

    def __init__(self, cache_size: int = 64) -> None:
        self._cache: OrderedDict[tuple, PromptEmbedding | FlowEmbedding] = OrderedDict()
        self._empties = EmptyStates()
        self._model: weakref.ref | None = None
        self.cache_size = cache_size
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        """Forget every cached embedding (the model manager calls it on every load and unload)."""
        self._cache.clear()
        self._empties.clear()
        self._model = None

    def encode(
        self,
        pipeline: Any,
        kind: str,
        text: str,
        chunks: int = 0,
        clip_skip: int = 1,
        max_sequence_length: int = 0,
    ) -> Any:
        """Embeddings for `text`, padded to at least `chunks` CLIP chunks: a `PromptEmbedding`,
        or for `sd3` and `flux` a `FlowEmbedding` with T5 read to `max_sequence_length`."""
        if self._model is None or self._model() is not pipeline:
            self.clear()  # another model instance: nothing cached belongs to it
            self._model = weakref.ref(pipeline)
        key = (kind, clip_skip, text, chunks, max_sequence_length)
        if key in self._cache:
            self.hits += 1
            self._cache.move_to_end(key)
            return self._cache[key]
        self.misses += 1
        with torch.no_grad():
            if kind == "sd3":
                result = encode_sd3(
                    pipeline, text, chunks, clip_skip, max_sequence_length, self._empties
                )
            elif kind == "flux":
                result = encode_flux(pipeline, text, max_sequence_length, self._empties)
            elif kind == "sdxl":
                result = self._encode_sdxl(pipeline, text, chunks, clip_skip)
            else:
                result = self._encode_sd1(pipeline, text, chunks, clip_skip)
        self._cache[key] = result
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def count_chunks(self, pipeline: Any, text: str, kind: str = "") -> int:
        """How many chunks `text` needs with this pipeline's CLIP tokenizer(s)."""
        if kind == "sd3":
            return sd3_chunk_count(pipeline, text)
        tokenizers = [pipeline.tokenizer, getattr(pipeline, "tokenizer_2", None)]
        return max(len(token_chunks(t, text)) for t in tokenizers if t is not None)

    @staticmethod
    def _run(encoder: Any, ids: list[int]) -> Any:
        tensor = torch.tensor([ids], device=encoder.device)
        return encoder(tensor, output_hidden_states=True)

    def _encode_sd1(self, pipeline: Any, text: str, chunks: int, clip_skip: int) -> PromptEmbedding:
        tokenizer, encoder = pipeline.tokenizer, pipeline.text_encoder
        pieces = token_chunks(tokenizer, text)
        _pad_chunks(pieces, chunks, tokenizer)
        hidden = []
        for ids, weights in pieces:
            output = self._run(encoder, ids)
            if clip_skip == 1:
                state = output.last_hidden_state
            else:  # as diffusers' clip_skip=N-1: an earlier layer, then the final layer norm
                # (transformers 5 moved the norm from `text_model` onto CLIPTextModel itself)
                norm = getattr(encoder, "text_model", encoder).final_layer_norm
                state = norm(output.hidden_states[-clip_skip])
            hidden.append(apply_weights(state, weights))
        return PromptEmbedding(torch.cat(hidden, dim=1), _frame_length(tokenizer))

    def _encode_sdxl(
        self, pipeline: Any, text: str, chunks: int, clip_skip: int
    ) -> PromptEmbedding:
        parts_1 = token_chunks(pipeline.tokenizer, text)
        parts_2 = token_chunks(pipeline.tokenizer_2, text)
        count = max(chunks, len(parts_1), len(parts_2))
        _pad_chunks(parts_1, count, pipeline.tokenizer)
        _pad_chunks(parts_2, count, pipeline.tokenizer_2)
        hidden, pooled = [], None
        layer = -(clip_skip + 1)  # the penultimate layer for clip skip 1
        for (ids_1, weights_1), (ids_2, weights_2) in zip(parts_1, parts_2, strict=True):
            out_1 = self._run(pipeline.text_encoder, ids_1)
            out_2 = self._run(pipeline.text_encoder_2, ids_2)
            # A1111 weights and mean-restores each encoder's embeddings on its own.
            hidden.append(
                torch.cat(
                    [
                        apply_weights(out_1.hidden_states[layer], weights_1),
                        apply_weights(out_2.hidden_states[layer], weights_2),
                    ],
                    dim=-1,
                )
            )
            if pooled is None:
                pooled = out_2.text_embeds
        return PromptEmbedding(torch.cat(hidden, dim=1), _frame_length(pipeline.tokenizer), pooled)
