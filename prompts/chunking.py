"""A1111's 75-token chunking for CLIP prompts, on any sequence of tokens.

A chunk holds 75 tokens (CLIP adds start and end to make 77). BREAK closes the chunk early. When
a chunk fills up and its last comma lies within `comma_backtrack` tokens of the end, the tokens
after that comma move to the next chunk, so phrases are not split across chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")

CHUNK_LENGTH = 75
COMMA_BACKTRACK = 20


def chunk_tokens(
    groups: Iterable[Sequence[T] | None],
    is_comma: Callable[[T], bool],
    chunk_length: int = CHUNK_LENGTH,
    comma_backtrack: int = COMMA_BACKTRACK,
) -> list[list[T]]:
    """Split token groups into chunks; a `None` group is a BREAK. Always returns one chunk at
    least (empty for an empty prompt). Chunks are unpadded."""
    chunks: list[list[T]] = []
    chunk: list[T] = []
    last_comma = -1

    for group in groups:
        if group is None:
            chunks.append(chunk)
            chunk, last_comma = [], -1
            continue
        for token in group:
            if is_comma(token):
                last_comma = len(chunk)
            elif (
                comma_backtrack
                and len(chunk) == chunk_length
                and last_comma != -1
                and len(chunk) - last_comma <= comma_backtrack
            ):
                moved = chunk[last_comma + 1 :]
                chunks.append(chunk[: last_comma + 1])
                chunk, last_comma = moved, -1
            if len(chunk) == chunk_length:
                chunks.append(chunk)
                chunk, last_comma = [], -1
            chunk.append(token)
    if chunk or not chunks:
        chunks.append(chunk)
    return chunks
