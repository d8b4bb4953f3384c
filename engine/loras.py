"""LoRA files (`.safetensors` in a `loras/` folder) applied with diffusers' PEFT adapters.

A prompt names them in A1111's syntax (`<lora:name:weight>`, parsed in `prompts.lora`); each
file is loaded once per pipeline as an adapter named after the file, and every call activates
exactly the adapters its prompt names, with their weights (none named: all disabled). The
short hash is A1111's for safetensors LoRAs: SHA-256 of the file after its header, 12 digits.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.errors import InvalidRequestError
from prompts.lora import LoraRef, LoraSyntaxError, extract_loras

_ADAPTER_CHARS = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class ActiveLora:
    """A LoRA applied to one generation, as recorded with its images."""

    name: str
    weight: float
    short_hash: str


def strip_loras(
    prompts: list[str], negatives: list[str]
) -> tuple[list[str], list[str], tuple[LoraRef, ...]]:
    """The prompts without their `<lora:…>` tags and the LoRAs named (every row must name the
    same ones: one pipeline call has one set of adapters). InvalidRequestError otherwise."""
    try:
        parsed = [extract_loras(text) for text in prompts]
        negative_parsed = [extract_loras(text) for text in negatives]
    except LoraSyntaxError as exc:
        raise InvalidRequestError(str(exc)) from None
    if any(refs for _, refs in negative_parsed):
        raise InvalidRequestError("Name LoRAs in the prompt, not in the negative prompt.")
    sets = {refs for _, refs in parsed}
    if len(sets) > 1:
        raise InvalidRequestError("Every image of one run must name the same LoRAs.")
    refs = next(iter(sets)) if sets else ()
    return [text for text, _ in parsed], [text for text, _ in negative_parsed], refs


class LoraFolder:
    """The LoRA files of one folder, applied to pipelines on request."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None

    def names(self) -> list[str]:
        """The LoRA names (file names without `.safetensors`) available, sorted."""
        if self.folder is None or not self.folder.is_dir():
            return []
        return sorted(path.stem for path in self.folder.glob("*.safetensors"))

    def path(self, name: str) -> Path:
        """The file of a LoRA; InvalidRequestError naming what exists when it is missing."""
        if self.folder is not None and "/" not in name and "\\" not in name:
            candidate = self.folder / f"{name}.safetensors"
            if candidate.is_file():
                return candidate
        known = ", ".join(self.names()) or "none (put .safetensors files in the loras folder)"
        raise InvalidRequestError(f"Unknown LoRA {name!r}; available: {known}.")

    def apply(self, pipe: Any, refs: tuple[LoraRef, ...]) -> list[ActiveLora]:
        """Activate exactly `refs` on `pipe` (loading files not yet loaded); return them."""
        loaded = _loaded_adapters(pipe)
        if not refs:
            if loaded:
                pipe.disable_lora()
            return []
        active: list[ActiveLora] = []
        names: list[str] = []
        for ref in refs:
            path = self.path(ref.name)
            adapter = adapter_name(ref.name, path)
            if adapter not in loaded:
                try:
                    pipe.load_lora_weights(str(path), adapter_name=adapter)
                except (ValueError, KeyError, RuntimeError, OSError) as exc:
                    raise InvalidRequestError(
                        f"LoRA {ref.name!r} does not fit this model ({type(exc).__name__})."
                    ) from exc
                loaded.add(adapter)
            names.append(adapter)
            active.append(ActiveLora(ref.name, ref.weight, short_hash(path)))
        pipe.enable_lora()
        pipe.set_adapters(names, adapter_weights=[ref.weight for ref in refs])
        return active


def _loaded_adapters(pipe: Any) -> set[str]:
    try:
        listed = pipe.get_list_adapters()
    except (AttributeError, ValueError):
        return set()
    return {name for names in listed.values() for name in names}


def adapter_name(name: str, path: Path) -> str:
    """A PEFT-safe adapter name that changes when the file changes."""
    stat = path.stat()
    return f"{_ADAPTER_CHARS.sub('_', name)}_{stat.st_size}_{int(stat.st_mtime_ns)}"


def short_hash(path: Path) -> str:
    """A1111's short hash of a safetensors LoRA (its "addnet" hash: the bytes after the
    header), 12 hex digits."""
    stat = path.stat()
    return _short_hash(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _short_hash(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        header = handle.read(8)
        if len(header) == 8:
            (length,) = struct.unpack("<Q", header)
            handle.seek(8 + length)
        else:
            handle.seek(0)
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]
