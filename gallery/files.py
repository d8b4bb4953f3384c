"""Image files in a local folder: atomic writes, write intents, the default `ImageStorage`.

Layout under the gallery folder (see `gallery.prepared` for the names):

    images/ab/cd/<sha256>.png        the PNG exactly as stored (metadata embedded)
    thumbnails/ab/cd/<sha256>.webp   at most 256 px on the long side
    tmp/                             files being written (renamed into place when complete)
    pending/                         write intents: files that may not have their row yet

Same content, same file: two image rows can share one file, and a file is removed only when
no row references its hash. Every write goes to `tmp/`, is fsynced, renamed into place and its
folder fsynced. Before a write (or a delete) an *intent* naming the hashes is written to
`pending/`; it is removed once the database commit is done and files were cleaned up. The
start-up sweep (`gallery.sweep`) finishes intents left by a process that stopped abruptly.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from gallery.image_storage import ImageStorage, Intent, IntentInfo
from gallery.prepared import (
    IMAGES_DIR,
    THUMBNAILS_DIR,
    PreparedImage,
    content_hash,
    image_rel_path,
    make_thumbnail,
    prepare_png,
    thumbnail_rel_path,
)

__all__ = [
    "HASH_LOCKS",
    "HOSTNAME",
    "ImageFiles",
    "Intent",
    "IntentInfo",
    "PreparedImage",
    "content_hash",
    "image_rel_path",
    "make_thumbnail",
    "prepare_png",
    "thumbnail_rel_path",
]

TMP_DIR = "tmp"
PENDING_DIR = "pending"
HOSTNAME = socket.gethostname()


def intent_name() -> str:
    """A new intent's name: `<host>-<pid>-<uuid>.json`, so the sweep knows its writer."""
    return f"{HOSTNAME}-{os.getpid()}-{uuid.uuid4().hex}.json"


def intent_document(hashes: Iterable[str]) -> str:
    """The JSON an intent holds."""
    return json.dumps({"host": HOSTNAME, "pid": os.getpid(), "hashes": sorted(set(hashes))})


def read_intent(name: str, text: str, age_s: float) -> IntentInfo:
    """An intent read back; one that cannot be parsed names no hashes and counts as old."""
    try:
        document = json.loads(text)
        hashes = tuple(str(h) for h in document.get("hashes", []))
        host, pid = str(document.get("host", "")), int(document.get("pid", 0))
    except (ValueError, TypeError, AttributeError):
        return IntentInfo(name, "", 0, (), float("inf"))
    return IntentInfo(name, host, pid, hashes, age_s)


def fsync_dir(path: Path) -> None:
    # Makes a rename durable; some filesystems cannot open folders, which is fine to skip.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class ImageFiles(ImageStorage):
    """The gallery's files in its local folder (the default)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in (IMAGES_DIR, THUMBNAILS_DIR, TMP_DIR, PENDING_DIR):
            (root / name).mkdir(parents=True, exist_ok=True)

    def absolute(self, rel_path: str) -> Path:
        """The absolute path of a path stored in the database."""
        return self.root / rel_path

    def location(self, rel_path: str) -> str:
        return str(self.absolute(rel_path))

    def write(self, rel_path: str, data: bytes) -> bool:
        target = self.absolute(rel_path)
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = self.root / TMP_DIR / f"{HOSTNAME}-{os.getpid()}-{uuid.uuid4().hex}.part"
        try:
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        fsync_dir(target.parent)
        return True

    def read(self, rel_path: str) -> bytes:
        return self.absolute(rel_path).read_bytes()

    def exists(self, rel_path: str) -> bool:
        return self.absolute(rel_path).exists()

    def delete(self, rel_path: str) -> bool:
        try:
            self.absolute(rel_path).unlink()
        except FileNotFoundError:
            return False
        return True

    # --- intents ---------------------------------------------------------------------------

    def begin_intent(self, hashes: Iterable[str]) -> Intent:
        name = intent_name()
        temp = self.root / TMP_DIR / f"{name}.part"
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(intent_document(hashes))
            handle.flush()
            os.fsync(handle.fileno())
        path = self.root / PENDING_DIR / name
        os.replace(temp, path)
        fsync_dir(path.parent)
        return Intent(name, self.forget_intent)

    def intents(self) -> list[IntentInfo]:
        now = time.time()
        found = []
        for path in sorted((self.root / PENDING_DIR).glob("*.json")):
            try:
                age = now - path.stat().st_mtime
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            except (OSError, ValueError):
                found.append(IntentInfo(path.name, "", 0, (), float("inf")))
                continue
            found.append(read_intent(path.name, text, age))
        return found

    def forget_intent(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / PENDING_DIR / name).unlink()

    def temp_files(self) -> list[tuple[Path, float]]:
        now = time.time()
        found = []
        for path in (self.root / TMP_DIR).iterdir():
            with contextlib.suppress(FileNotFoundError):
                found.append((path, now - path.stat().st_mtime))
        return found

    # --- listing ---------------------------------------------------------------------------

    def served_folders(self) -> tuple[Path, Path]:
        folders = (self.root / IMAGES_DIR, self.root / THUMBNAILS_DIR)
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        return folders

    def image_hashes(self) -> Iterable[str]:
        for path in sorted((self.root / IMAGES_DIR).glob("*/*/*.png")):
            yield path.stem

    def stored_hashes(self) -> Iterable[tuple[str, float]]:
        now = time.time()
        ages: dict[str, float] = {}
        for folder, suffix in ((IMAGES_DIR, ".png"), (THUMBNAILS_DIR, ".webp")):
            for path in (self.root / folder).glob(f"*/*/*{suffix}"):
                with contextlib.suppress(FileNotFoundError):
                    age = now - path.stat().st_mtime
                    ages[path.stem] = min(age, ages.get(path.stem, age))
        return ages.items()


def owner_alive(host: str, pid: int) -> bool | None:
    """Whether the process that wrote a temp file or intent still runs; None if unknowable."""
    if host != HOSTNAME or pid <= 0:
        return None
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parse_owner(name: str) -> tuple[str, int]:
    """(host, pid) from a temp or intent file name `<host>-<pid>-<uuid>...`."""
    stem = name
    for suffix in (".part", ".json"):
        stem = stem.removesuffix(suffix)
    host, _, _uuid = stem.rpartition("-")
    host, _, pid = host.rpartition("-")
    try:
        return host, int(pid)
    except ValueError:
        return "", 0


class HashLocks:
    """Locks by content hash, so recording and deleting the same image file take turns.

    Without them a delete can check "is this file still referenced?" between another thread
    storing the byte-identical file and inserting its row, and remove the new row's file. The
    hashes map onto a fixed set of locks (memory stays bounded); several are taken in one order,
    so two holders never wait on each other. The locks are per process: one app, many threads.
    """

    def __init__(self, stripes: int = 64) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    @contextlib.contextmanager
    def hold(self, hashes: Iterable[str]) -> Iterator[None]:
        """Hold the locks of every hash in `hashes` for the `with` block."""
        indexes = sorted({int(sha[:8], 16) % len(self._locks) for sha in hashes})
        with contextlib.ExitStack() as stack:
            for index in indexes:
                stack.enter_context(self._locks[index])
            yield


HASH_LOCKS = HashLocks()
