"""Textual-inversion embeddings by file name, as A1111 uses them: a file `toystyle.safetensors`
(or `.pt`, `.bin`) in the `embeddings/` folder is the word `toystyle` in a prompt. A file is
loaded into a pipeline (diffusers' `load_textual_inversion`) the first time a prompt names it.
SD 1.x and SD 2.x pipelines (kind "sd1") only: SDXL embeddings carry two tensors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from engine.errors import InvalidRequestError

SUFFIXES = (".safetensors", ".pt", ".bin")


class EmbeddingFolder:
    """The embeddings of one folder, loaded into pipelines on demand."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None

    def files(self) -> dict[str, Path]:
        """Name (the file name without its suffix) -> file."""
        if self.folder is None or not self.folder.is_dir():
            return {}
        return {
            path.stem: path
            for path in sorted(self.folder.iterdir())
            if path.suffix.lower() in SUFFIXES and path.is_file()
        }

    def load_named(self, pipe: Any, kind: str, texts: list[str]) -> list[str]:
        """Load the embeddings the texts name that `pipe` lacks; the names newly loaded."""
        files = self.files()
        if not files:
            return []
        joined = "\n".join(texts)
        named = [n for n in files if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", joined)]
        if not named:
            return []
        if kind != "sd1" or not hasattr(pipe, "load_textual_inversion"):
            raise InvalidRequestError(
                f"Embedding {named[0]!r} works with SD 1.x and SD 2.x models only."
            )
        vocabulary = pipe.tokenizer.get_vocab()
        loaded = []
        for name in named:
            if name in vocabulary:
                continue
            try:
                pipe.load_textual_inversion(str(files[name]), token=name)
            except (ValueError, KeyError, RuntimeError, OSError) as exc:
                raise InvalidRequestError(
                    f"Embedding {name!r} does not fit this model ({type(exc).__name__})."
                ) from exc
            loaded.append(name)
        return loaded
