"""Prompt text to CLIP embeddings, A1111-style: weights, BREAK, 75-token chunks concatenated.

Each chunk is `[start] + 75 tokens (padded) + [end]`, encoded on its own; token embeddings are
multiplied by their weights and the chunk is rescaled to keep its original mean, as A1111 does.
Results are cached per model and text, so a new seed does not encode the same prompt again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch

from prompts.chunking import CHUNK_LENGTH, chunk_tokens
from prompts.weighting import parse_weighted


@dataclass(frozen=True)
class PromptEmbedding:
    """Embeddings of one prompt: (1, 77*chunks, dim), plus the pooled vector for SDXL."""

    embeds: torch.Tensor
    pooled: torch.Tensor | None = None

    @property
    def chunks(self) -> int:
        return self.embeds.shape[1] // (CHUNK_LENGTH + 2)


def _token_chunks(tokenizer: Any, text: str) -> list[tuple[list[int], list[float]]]:
    """Tokenize weighted text into padded chunks of ids and weights, 77 each."""
    segments = parse_weighted(text)
    groups: list[list[tuple[int, float]] | None] = []
    for segment in segments:
        if segment.is_break:
            groups.append(None)
            continue
        ids = tokenizer(segment.text, add_special_tokens=False, truncation=False).input_ids
        groups.append([(token, segment.weight) for token in ids])
    comma = tokenizer.convert_tokens_to_ids(",</w>")
    chunks = chunk_tokens(groups, is_comma=lambda item: item[0] == comma)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    result = []
    for chunk in chunks:
        padding = CHUNK_LENGTH - len(chunk)
        ids = [tokenizer.bos_token_id] + [t for t, _ in chunk] + [pad] * padding
        weights = [1.0] + [w for _, w in chunk] + [1.0] * padding
        result.append(([*ids, tokenizer.eos_token_id], [*weights, 1.0]))
    return result


def _apply_weights(hidden: torch.Tensor, weights: list[float]) -> torch.Tensor:
    if all(w == 1.0 for w in weights):
        return hidden
    scale = torch.tensor(weights, dtype=hidden.dtype, device=hidden.device).reshape(1, -1, 1)
    original_mean = hidden.mean()
    weighted = hidden * scale
    return weighted * (original_mean / weighted.mean())


def _pad_chunks(chunks: list[tuple[list[int], list[float]]], count: int, tokenizer: Any) -> None:
    empty = _token_chunks(tokenizer, "")[0]
    chunks.extend([empty] * (count - len(chunks)))


class PromptEncoder:
    """Encodes prompts for SD1.x (one CLIP) and SDXL (two CLIPs) pipelines, with a cache."""

    def __init__(self, cache_size: int = 64) -> None:
        self._cache: OrderedDict[tuple, PromptEmbedding] = OrderedDict()
        self.cache_size = cache_size
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        """Forget every cached embedding (call when the model changes)."""
        self._cache.clear()

    def encode(
        self, pipeline: Any, kind: str, model_key: str, text: str, chunks: int = 0
    ) -> PromptEmbedding:
        """Embeddings for `text`, padded to at least `chunks` chunks."""
        key = (model_key, kind, text, chunks)
        if key in self._cache:
            self.hits += 1
            self._cache.move_to_end(key)
            return self._cache[key]
        self.misses += 1
        with torch.no_grad():
            if kind == "sdxl":
                result = self._encode_sdxl(pipeline, text, chunks)
            else:
                result = self._encode_sd1(pipeline, text, chunks)
        self._cache[key] = result
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def count_chunks(self, pipeline: Any, text: str) -> int:
        """How many 77-token chunks `text` needs with this pipeline's tokenizer."""
        return len(_token_chunks(pipeline.tokenizer, text))

    @staticmethod
    def _run(encoder: Any, ids: list[int], layer: str) -> Any:
        tensor = torch.tensor([ids], device=encoder.device)
        output = encoder(tensor, output_hidden_states=(layer == "penultimate"))
        return output

    def _encode_sd1(self, pipeline: Any, text: str, chunks: int) -> PromptEmbedding:
        tokenizer, encoder = pipeline.tokenizer, pipeline.text_encoder
        pieces = _token_chunks(tokenizer, text)
        _pad_chunks(pieces, chunks, tokenizer)
        hidden = [
            _apply_weights(self._run(encoder, ids, "last").last_hidden_state, weights)
            for ids, weights in pieces
        ]
        return PromptEmbedding(torch.cat(hidden, dim=1))

    def _encode_sdxl(self, pipeline: Any, text: str, chunks: int) -> PromptEmbedding:
        parts_1 = _token_chunks(pipeline.tokenizer, text)
        parts_2 = _token_chunks(pipeline.tokenizer_2, text)
        _pad_chunks(parts_1, chunks, pipeline.tokenizer)
        _pad_chunks(parts_2, chunks, pipeline.tokenizer_2)
        hidden, pooled = [], None
        for (ids_1, weights), (ids_2, _) in zip(parts_1, parts_2, strict=True):
            out_1 = self._run(pipeline.text_encoder, ids_1, "penultimate")
            out_2 = self._run(pipeline.text_encoder_2, ids_2, "penultimate")
            both = torch.cat([out_1.hidden_states[-2], out_2.hidden_states[-2]], dim=-1)
            hidden.append(_apply_weights(both, weights))
            if pooled is None:
                pooled = out_2.text_embeds
        return PromptEmbedding(torch.cat(hidden, dim=1), pooled)
