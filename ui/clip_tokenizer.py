"""The CLIP tokenizer the page counts tokens with, loaded (and transformers with it) on its first
use: the page is built, and answers, without it; `serve` loads it behind the page."""

from __future__ import annotations

import threading

from prompts.token_budget import HFTokenizerAdapter, Token


class LazyClipTokenizer:
    """A `prompts.token_budget.PromptTokenizer` over `engine.tokenizer.load_clip_tokenizer()`,
    made when the first text is counted (or `load()` is called)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._adapter: HFTokenizerAdapter | None = None

    @property
    def loaded(self) -> bool:
        return self._adapter is not None

    def load(self) -> HFTokenizerAdapter:
        """The real tokenizer, made once."""
        with self._lock:
            if self._adapter is None:
                from engine.tokenizer import load_clip_tokenizer

                self._adapter = HFTokenizerAdapter(load_clip_tokenizer())
            return self._adapter

    def tokenize_with_spans(self, text: str) -> list[Token]:
        """Tokens of `text` with their spans (see `HFTokenizerAdapter`)."""
        return self.load().tokenize_with_spans(text)


_SHARED = LazyClipTokenizer()


def clip_tokenizer() -> LazyClipTokenizer:
    """The process's one lazily loaded CLIP tokenizer (the page's tokenizer function)."""
    return _SHARED
