"""Images written while the database could not be reached: kept on disk, recorded when it is back.

When the database does not answer at step 4 of recording (`gallery.services.recording`), the
image files stay where step 3 wrote them and the rows that were to be inserted are written
as one JSON document in `deferred/` (beside `pending/`, never served), fsynced; only then is
the write intent finished, since the document now accounts for the files. The rows are
inserted, with their owner, batch, tags, parent and original time, as soon as the database
answers again: after the next recording that succeeds, every few seconds while the server
runs (`DeferredRecorder`), when the gallery opens, and by `gallery check`. Until then every
sweep counts their hashes as referenced, so nothing deletes those files.

A replayer claims a document by renaming it to `<name>~<host>-<pid>-<uuid>.claim`, so two
processes sharing the folder never record it twice; a claim whose process is gone is handed
back by the sweep. A document whose batch id already has rows was recorded (the commit went
through before its acknowledgement was lost) and is dropped; one that cannot be recorded at
all is kept as `<name>.failed`, its files with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gallery.files import HOSTNAME, TMP_DIR, fsync_dir, parse_owner
from gallery.records import NewGeneration, json_safe

DEFERRED_DIR = "deferred"
RETRY_S = 5.0
_CLAIM_SUFFIX = ".claim"
_FAILED_SUFFIX = ".failed"
# NewGeneration fields written to a document (the picture itself is the stored file).
_FIELDS = (
    "prompt",
    "negative_prompt",
    "seed",
    "steps",
    "guidance_scale",
    "width",
    "height",
    "scheduler",
    "model_id",
    "model_revision",
    "model_hash",
    "recipe",
    "settings",
    "provenance",
    "source",
    "user_id",
    "parent_id",
    "tags",
)


@dataclass(frozen=True)
class DeferredBatch:
    """One document: a batch of rows to insert, and the hashes of the files they need."""

    path: Path
    batch_id: str
    created_at: datetime
    items: tuple[tuple[str, NewGeneration], ...]  # (hash of the stored PNG, the row; no image)

    @property
    def hashes(self) -> tuple[str, ...]:
        return tuple(sha for sha, _ in self.items)


class DeferredFolder:
    """The `deferred/` folder of a gallery: write, list, claim and drop documents."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / DEFERRED_DIR
        self.folder.mkdir(parents=True, exist_ok=True)

    def write(
        self, batch_id: str, created_at: datetime, items: Iterable[tuple[str, NewGeneration]]
    ) -> Path:
        """Durably write a document for rows that could not be inserted; return its path."""
        document = {
            "batch_id": batch_id,
            "created_at": created_at.isoformat(),
            "items": [
                {"sha": sha, **json_safe({k: getattr(i, k) for k in _FIELDS}, "row")}
                for sha, i in items
            ],
        }
        name = f"{HOSTNAME}-{os.getpid()}-{uuid.uuid4().hex}.json"
        temp = self.root / TMP_DIR / f"{name}.part"
        try:
            with open(temp, "w", encoding="utf-8") as handle:
                json.dump(document, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.folder / name)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        fsync_dir(self.folder)
        return self.folder / name

    def pending(self) -> bool:
        """Whether any document waits (claimed or not): a cheap look at the folder."""
        with os.scandir(self.folder) as entries:
            return any(entry.name.endswith((".json", _CLAIM_SUFFIX)) for entry in entries)

    def claim_all(self) -> list[Path]:
        """Claim every unclaimed document for this process; return the claimed paths."""
        claimed = []
        token = f"{HOSTNAME}-{os.getpid()}-{uuid.uuid4().hex}"
        for path in sorted(self.folder.glob("*.json")):
            target = path.with_name(f"{path.name}~{token}{_CLAIM_SUFFIX}")
            try:
                os.replace(path, target)  # whoever renames first has it
            except FileNotFoundError:
                continue
            claimed.append(target)
        return claimed

    def release(self, claimed: Path) -> None:
        """Hand a claimed document back (the database went away again)."""
        with contextlib.suppress(FileNotFoundError):
            os.replace(claimed, self.folder / _unclaimed_name(claimed.name))

    def set_aside(self, claimed: Path) -> None:
        """Keep a document that cannot be recorded as `<name>.failed` (its files stay)."""
        with contextlib.suppress(FileNotFoundError):
            os.replace(claimed, self.folder / f"{_unclaimed_name(claimed.name)}{_FAILED_SUFFIX}")

    def drop(self, path: Path) -> None:
        """Forget a document whose rows are in the database."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fsync_dir(self.folder)

    def read(self, path: Path) -> DeferredBatch:
        """The batch a (claimed) document holds; `ValueError` if it is not one."""
        document = json.loads(path.read_text(encoding="utf-8"))
        items = []
        for entry in document["items"]:
            fields = {k: entry.get(k) for k in _FIELDS if k in entry}
            fields["tags"] = tuple(fields.get("tags") or ())
            fields["png_bytes"] = b""  # filled from the stored file when recorded
            items.append((str(entry["sha"]), NewGeneration(**fields)))
        return DeferredBatch(
            path,
            str(document["batch_id"]),
            datetime.fromisoformat(document["created_at"]),
            tuple(items),
        )

    def hashes(self) -> set[str]:
        """Every hash a document names (claimed or not): files no sweep may delete."""
        found: set[str] = set()
        for path in self.folder.iterdir():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                document = json.loads(path.read_text(encoding="utf-8"))
                found.update(str(entry["sha"]) for entry in document["items"])
        return found

    def release_stale_claims(self, is_stale: Callable[[str, int, float], bool]) -> int:
        """Hand back claims whose process is gone (`is_stale(host, pid, age_s)`); how many."""
        released = 0
        now = time.time()
        for path in self.folder.glob(f"*{_CLAIM_SUFFIX}"):
            host, pid = parse_owner(path.name.removesuffix(_CLAIM_SUFFIX).rpartition("~")[2])
            try:
                age = now - path.stat().st_mtime
            except FileNotFoundError:
                continue
            if is_stale(host, pid, age):
                self.release(path)
                released += 1
        return released


def _unclaimed_name(name: str) -> str:
    """`x.json~<token>.claim` -> `x.json`."""
    return name.removesuffix(_CLAIM_SUFFIX).rpartition("~")[0]


class DeferredRecorder:
    """A thread that records deferred documents every `every_s` seconds while any wait
    (what the running server starts, so rows come back without a restart)."""

    def __init__(self, replay: Callable[[], Any], every_s: float = RETRY_S) -> None:
        self._replay = replay
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deferred-records", daemon=True)

    def start(self) -> DeferredRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            with contextlib.suppress(Exception):  # the database may still be away: next round
                self._replay()
