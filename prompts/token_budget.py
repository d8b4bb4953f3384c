"""How a prompt fills CLIP's 75-token chunks, counted the way AUTOMATIC1111 does (SD1.x, SDXL).

The weighting syntax is parsed first (`prompts.weighting`), so brackets and `:1.2` cost nothing,
and each weighted segment is tokenized on its own. Tokens then fill chunks of 75 (each later
framed by BOS/EOS to 77): `BREAK` closes the current chunk (padding it), and when a chunk is
full and a comma lies at most `comma_padding_backtrack` (20) tokens back, the tokens after that
comma move to the next chunk, like A1111's "Prompt word wrap length limit". The chunking is
`prompts.chunking.chunk_tokens`, the one the engine's text encoder uses, so the count shown is
what the model gets.

Models that do not chunk keep only the first 75 tokens (77 with BOS/EOS): `cut_words` lists
what they would drop.

The tokenizer is passed in (this package does not import transformers): a Hugging Face
tokenizer (`HFTokenizerAdapter` wraps it), anything with `tokenize_with_spans(text)`, or a
callable returning token strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from prompts.chunking import CHUNK_LENGTH, chunk_tokens
from prompts.chunking import COMMA_BACKTRACK as COMMA_PADDING_BACKTRACK
from prompts.weighting import parse_weighted

BREAK_TEXT = " BREAK "

ChunkEnd = Literal["full", "comma", "break", "end"]

_WORD = re.compile(r"[^\s,]+")
_PIECE_MARKERS = ("</w>", "Ġ", "▁", "##")


@dataclass(frozen=True)
class Token:
    """One token: its spelling in the vocabulary and its character span in the text."""

    piece: str
    start: int
    end: int

    @property
    def is_comma(self) -> bool:
        """Whether this is the single-comma token (CLIP's `,</w>`)."""
        return _bare(self.piece) == ","


@runtime_checkable
class PromptTokenizer(Protocol):
    """A tokenizer that reports where each token came from."""

    def tokenize_with_spans(self, text: str) -> list[Token]: ...


class HFTokenizerAdapter:
    """Wraps a Hugging Face tokenizer: offsets from a fast one, else aligned from its pieces."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def tokenize_with_spans(self, text: str) -> list[Token]:
        """Tokens of `text` without BOS/EOS, each with its character span in `text`."""
        try:  # verbose=False: no "longer than the maximum length" warning, we count on purpose
            encoded = self.tokenizer(
                text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
            )
            offsets = encoded["offset_mapping"]
        except (NotImplementedError, ValueError, TypeError, KeyError):
            encoded, offsets = self.tokenizer(text, add_special_tokens=False), None
        pieces = self.tokenizer.convert_ids_to_tokens(encoded["input_ids"])
        if offsets is None:
            return align_pieces(pieces, text)
        return [Token(p, s, e) for p, (s, e) in zip(pieces, offsets, strict=True)]


class _PieceFunctionAdapter:
    def __init__(self, function: Callable[[str], Sequence[str]]) -> None:
        self.function = function

    def tokenize_with_spans(self, text: str) -> list[Token]:
        return align_pieces(list(self.function(text)), text)


def as_prompt_tokenizer(tokenizer: Any) -> PromptTokenizer:
    """Adapt what was passed in: a `PromptTokenizer`, a Hugging Face tokenizer, an object
    with `tokenize(text) -> list[str]`, or a callable returning token strings."""
    if isinstance(tokenizer, PromptTokenizer):
        return tokenizer
    if hasattr(tokenizer, "convert_ids_to_tokens") and callable(tokenizer):
        return HFTokenizerAdapter(tokenizer)
    if hasattr(tokenizer, "tokenize"):
        return _PieceFunctionAdapter(tokenizer.tokenize)
    if callable(tokenizer):
        return _PieceFunctionAdapter(tokenizer)
    raise TypeError(f"Cannot count tokens with a {type(tokenizer).__name__}.")


def align_pieces(pieces: Sequence[str], text: str) -> list[Token]:
    """Give token strings (e.g. `house</w>`) spans in `text` by finding them in order."""
    lowered = text.casefold()
    tokens: list[Token] = []
    cursor = 0
    for piece in pieces:
        bare = _bare(piece).casefold()
        found = lowered.find(bare, cursor) if bare else -1
        if found < 0:
            tokens.append(Token(piece, cursor, cursor))
            continue
        tokens.append(Token(piece, found, found + len(bare)))
        cursor = found + len(bare)
    return tokens


@dataclass(frozen=True)
class TokenChunk:
    """One 75-token chunk: its tokens (without padding), where it starts and ends in the plain
    text, the words there, and why it ended."""

    index: int
    tokens: tuple[Token, ...]
    ended_by: ChunkEnd
    first_word: str
    last_word: str
    splits_word: bool
    """The last word of this chunk continues in the next one."""

    @property
    def token_count(self) -> int:
        """Real tokens in the chunk (padding excluded)."""
        return len(self.tokens)


@dataclass(frozen=True)
class TokenBudget:
    """How a prompt splits into chunks, and what a one-chunk model would cut."""

    prompt: str
    plain_text: str
    """The prompt without weighting syntax; token spans index into it."""
    chunks: tuple[TokenChunk, ...]
    cut_words: tuple[str, ...]
    """Words (some perhaps only in part) beyond the first 75 tokens."""
    cut_text: str = ""
    """The plain text from the first cut word on."""

    @property
    def token_count(self) -> int:
        """All real tokens of the prompt."""
        return sum(chunk.token_count for chunk in self.chunks)

    @property
    def fits_one_chunk(self) -> bool:
        """Whether a model that truncates at 77 tokens sees the whole prompt."""
        return not self.cut_words

    def describe(self) -> list[str]:
        """One line per chunk, e.g. `chunk 1: 75/75 tokens, "a" ... "lighthouse" (full)`."""
        lines = []
        for chunk in self.chunks:
            words = f'"{chunk.first_word}" ... "{chunk.last_word}"' if chunk.tokens else "empty"
            split = ", splits a word" if chunk.splits_word else ""
            lines.append(
                f"chunk {chunk.index + 1}: {chunk.token_count}/{CHUNK_LENGTH} tokens, {words} "
                f"(ends: {chunk.ended_by}{split})"
            )
        if self.cut_words:
            lines.append(f"cut by a 77-token model: {self.cut_text}")
        return lines


def count_tokens(
    prompt: str,
    tokenizer: Any,
    *,
    comma_padding_backtrack: int = COMMA_PADDING_BACKTRACK,
) -> TokenBudget:
    """Split `prompt` into A1111-style 75-token chunks using `tokenizer` (see module doc).

    Raises `prompts.weighting.PromptSyntaxError` (a `ValueError`) for malformed weighting.
    """
    adapter = as_prompt_tokenizer(tokenizer)
    plain = ""
    groups: list[list[Token] | None] = []  # None is a BREAK, as `chunk_tokens` expects
    breaks_at: set[int] = set()  # token offsets where a BREAK closed a chunk
    seen = 0
    for segment in parse_weighted(prompt):
        if segment.is_break:
            plain += BREAK_TEXT
            groups.append(None)
            breaks_at.add(seen)
            continue
        offset = len(plain)
        plain += segment.text
        tokens = [
            Token(t.piece, t.start + offset, t.end + offset)
            for t in adapter.tokenize_with_spans(segment.text)
        ]
        groups.append(tokens)
        seen += len(tokens)
    token_chunks = chunk_tokens(
        groups, is_comma=lambda t: t.is_comma, comma_backtrack=comma_padding_backtrack
    )
    closed = list(zip(token_chunks, _chunk_ends(token_chunks, breaks_at), strict=True))

    words = [(m.start(), m.end()) for m in _WORD.finditer(plain)]
    chunks = []
    for index, (tokens, reason) in enumerate(closed):
        following = closed[index + 1][0] if index + 1 < len(closed) else []
        last_span = _word_at(words, tokens[-1].start) if tokens else None
        splits = bool(following) and last_span is not None
        splits = splits and last_span == _word_at(words, following[0].start)
        chunks.append(
            TokenChunk(
                index=index,
                tokens=tuple(tokens),
                ended_by=reason,
                first_word=_edge_word(plain, words, tokens),
                last_word=_edge_word(plain, words, tokens[::-1]),
                splits_word=splits,
            )
        )
    every_token = [token for tokens, _ in closed for token in tokens]
    cut_spans = [_word_at(words, t.start) for t in every_token[CHUNK_LENGTH:]]
    cut_words = tuple(plain[s[0] : s[1]] for s in dict.fromkeys(cut_spans) if s is not None)
    cut_text = ""
    if len(every_token) > CHUNK_LENGTH:
        first = every_token[CHUNK_LENGTH]
        cut_text = plain[cut_spans[0][0] if cut_spans[0] else first.start :].strip()
    return TokenBudget(prompt, plain, tuple(chunks), cut_words, cut_text)


def _chunk_ends(chunks: list[list[Token]], breaks_at: set[int]) -> list[ChunkEnd]:
    """Why each chunk ended. A chunk ending where a BREAK stood was closed by it; otherwise a
    short chunk was cut at a comma (its rest moved on) and a 75-token one was simply full."""
    ends: list[ChunkEnd] = []
    offset = 0
    for index, chunk in enumerate(chunks):
        offset += len(chunk)
        if offset in breaks_at:
            ends.append("break")
        elif index == len(chunks) - 1:
            ends.append("end")
        else:
            ends.append("full" if len(chunk) == CHUNK_LENGTH else "comma")
    return ends


def _bare(piece: str) -> str:
    for marker in _PIECE_MARKERS:
        piece = piece.replace(marker, "")
    return piece


def _word_at(words: list[tuple[int, int]], position: int) -> tuple[int, int] | None:
    for start, end in words:
        if start <= position < end:
            return (start, end)
    return None


def _edge_word(plain: str, words: list[tuple[int, int]], tokens: Sequence[Token]) -> str:
    """The word of the first token in `tokens` that belongs to a word (commas do not)."""
    for token in tokens:
        span = _word_at(words, token.start)
        if span:
            return plain[span[0] : span[1]]
    return ""
