"""Text embeddings of vocabularies, kept on disk per CLIP so interrogation starts at once.

A block of texts (one facet's vocabulary) is stored as
`<cache folder>/<CLIP fingerprint>/<block key>.npz`, with the unit-length embeddings and the
texts themselves. The fingerprint names the CLIP's weights and configuration (a different or
retrained CLIP misses); the block key names the vocabulary's content (a term added, removed or
reordered misses). Files are written atomically; an unreadable or mismatched file is a miss and
is written again. Without a folder the cache lives in memory only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.clip_score import ClipChoice, ClipScorer

FINGERPRINT_CHARS = 16
KEY_CHARS = 24
_HUB_BLOB = re.compile(r"[0-9a-f]{64}")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_digests: dict[tuple[str, int, int], str] = {}
_digests_lock = threading.Lock()


def clip_fingerprint(choice: ClipChoice) -> str:
    """A hash of what the CLIP is: its config and weights files (for the tiny random CLIP,
    its name). Files in the Hugging Face cache are named by their hash already; others are
    hashed once per process (and again when their size or time changes)."""
    digest = hashlib.sha256()
    if choice.folder is None:
        digest.update(choice.name.encode("utf-8"))
        return digest.hexdigest()[:FINGERPRINT_CHARS]
    files = sorted(
        path
        for path in Path(choice.folder).iterdir()
        if path.name == "config.json" or path.name.endswith(_WEIGHT_SUFFIXES)
    )
    for path in files:
        digest.update(path.name.encode("utf-8"))
        digest.update(_file_digest(path).encode("ascii"))
    return digest.hexdigest()[:FINGERPRINT_CHARS]


def _file_digest(path: Path) -> str:
    target = path.resolve()
    if _HUB_BLOB.fullmatch(target.name):  # the hub cache names a blob by its sha256
        return target.name
    stat = target.stat()
    key = (str(target), stat.st_size, stat.st_mtime_ns)
    with _digests_lock:
        if key in _digests:
            return _digests[key]
    sha = hashlib.sha256()
    with target.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    with _digests_lock:
        _digests[key] = sha.hexdigest()
    return _digests[key]


def block_key(name: str, texts: Sequence[str]) -> str:
    """The content key of a block of texts: its name, texts and their order."""
    payload = json.dumps([name, list(texts)], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:KEY_CHARS]


class TextEmbeddingCache:
    """Unit-length text embeddings per (CLIP, block of texts), on disk and in memory."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.hits = 0
        self.misses = 0
        self._memory: dict[tuple[str, str], np.ndarray] = {}
        self._fingerprints: dict[ClipChoice, str] = {}
        self._lock = threading.Lock()

    def fingerprint(self, scorer: ClipScorer) -> str:
        with self._lock:
            if scorer.choice not in self._fingerprints:
                self._fingerprints[scorer.choice] = clip_fingerprint(scorer.choice)
            return self._fingerprints[scorer.choice]

    def path(self, scorer: ClipScorer, key: str) -> Path | None:
        """Where a block of `scorer`'s embeddings lives (None without a folder)."""
        if self.folder is None:
            return None
        return self.folder / self.fingerprint(scorer) / f"{key}.npz"

    def embeddings(self, scorer: ClipScorer, name: str, texts: Sequence[str]) -> np.ndarray:
        """The embeddings of `texts` (rows in order), from the cache or computed and kept."""
        key = block_key(name, texts)
        memory_key = (self.fingerprint(scorer), key)
        with self._lock:
            if memory_key in self._memory:
                self.hits += 1
                return self._memory[memory_key]
        path = self.path(scorer, key)
        stored = _read(path, texts) if path is not None else None
        if stored is None:
            stored = scorer.text_embeddings(list(texts)).numpy().astype(np.float32)
            if path is not None:
                _write(path, stored, texts)
            counted = "misses"
        else:
            counted = "hits"
        with self._lock:
            setattr(self, counted, getattr(self, counted) + 1)
            self._memory[memory_key] = stored
        return stored


def _read(path: Path, texts: Sequence[str]) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if list(data["texts"]) != list(texts):
                return None
            return np.asarray(data["embeddings"], dtype=np.float32)
    except (OSError, ValueError, KeyError):
        return None


def _write(path: Path, embeddings: np.ndarray, texts: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".write-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, embeddings=embeddings, texts=np.asarray(list(texts), dtype=str))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
