"""Image files on disk: a content-addressed layout, atomic writes, thumbnails and write intents.

Layout under the gallery folder (two levels of 256 shards keep folders small at millions):

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
import hashlib
import io
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from gallery.errors import GalleryError

IMAGES_DIR = "images"
THUMBNAILS_DIR = "thumbnails"
TMP_DIR = "tmp"
PENDING_DIR = "pending"
THUMBNAIL_SIZE = 256
THUMBNAIL_QUALITY = 80
HOSTNAME = socket.gethostname()


def content_hash(data: bytes) -> str:
    """The SHA-256 hex digest that names a stored file."""
    return hashlib.sha256(data).hexdigest()


def image_rel_path(sha: str) -> str:
    """Where the image with this hash lives, relative to the gallery folder."""
    return f"{IMAGES_DIR}/{sha[:2]}/{sha[2:4]}/{sha}.png"


def thumbnail_rel_path(sha: str) -> str:
    """Where the thumbnail of the image with this hash lives."""
    return f"{THUMBNAILS_DIR}/{sha[:2]}/{sha[2:4]}/{sha}.webp"


def make_thumbnail(image: Image.Image) -> bytes:
    """A WebP at most `THUMBNAIL_SIZE` px on the long side, aspect kept."""
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA" if "A" in thumb.getbands() else "RGB")
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=THUMBNAIL_QUALITY, method=4)
    return out.getvalue()


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


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to store: its bytes, hash, size and thumbnail."""

    data: bytes
    sha: str
    width: int
    height: int
    thumbnail: bytes

    @property
    def rel_path(self) -> str:
        return image_rel_path(self.sha)

    @property
    def thumbnail_rel_path(self) -> str:
        return thumbnail_rel_path(self.sha)


def prepare_png(data: bytes, image: Image.Image | None = None) -> PreparedImage:
    """Hash, measure and thumbnail PNG bytes; `GalleryError` if they are not a readable PNG.

    Pass the decoded `image` when you have it (a fresh generation) to skip decoding again.
    """
    if image is not None:
        return PreparedImage(data, content_hash(data), *image.size, make_thumbnail(image))
    try:
        with Image.open(io.BytesIO(data)) as decoded:
            if decoded.format != "PNG":
                raise GalleryError("The image is not a PNG file.")
            decoded.load()
            thumbnail = make_thumbnail(decoded)
            width, height = decoded.size
    except GalleryError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise GalleryError(f"The image could not be read: {exc}.") from None
    return PreparedImage(data, content_hash(data), width, height, thumbnail)


class Intent:
    """A write intent on disk: hashes whose files may exist without rows until `finish()`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def finish(self) -> None:
        """The commit (or the clean-up after a failure) is done: forget the intent."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True)
class IntentInfo:
    """An intent file as read back by the sweep."""

    path: Path
    host: str
    pid: int
    hashes: tuple[str, ...]
    age_s: float


class ImageFiles:
    """The file side of the gallery, rooted at the gallery folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in (IMAGES_DIR, THUMBNAILS_DIR, TMP_DIR, PENDING_DIR):
            (root / name).mkdir(parents=True, exist_ok=True)

    def absolute(self, rel_path: str) -> Path:
        """The absolute path of a path stored in the database."""
        return self.root / rel_path

    def write(self, rel_path: str, data: bytes) -> bool:
        """Write `data` at `rel_path` atomically; False (nothing written) if it already exists."""
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

    def store(self, image: PreparedImage) -> list[str]:
        """Write an image and its thumbnail; return the paths this call created."""
        created: list[str] = []
        try:
            for rel_path, data in (
                (image.rel_path, image.data),
                (image.thumbnail_rel_path, image.thumbnail),
            ):
                if self.write(rel_path, data):
                    created.append(rel_path)
        except BaseException:
            self.remove(created)
            raise
        return created

    def remove(self, rel_paths: Iterable[str]) -> None:
        """Delete files, ignoring those already gone."""
        for rel_path in rel_paths:
            with contextlib.suppress(FileNotFoundError):
                self.absolute(rel_path).unlink()

    def remove_hash(self, sha: str) -> list[str]:
        """Delete the image and thumbnail of `sha`; return the paths that existed."""
        removed = []
        for rel_path in (image_rel_path(sha), thumbnail_rel_path(sha)):
            try:
                self.absolute(rel_path).unlink()
            except FileNotFoundError:
                continue
            removed.append(rel_path)
        return removed

    # --- intents ---------------------------------------------------------------------------

    def begin_intent(self, hashes: Iterable[str]) -> Intent:
        """Durably record that files of `hashes` may be about to lose or gain their rows."""
        name = f"{HOSTNAME}-{os.getpid()}-{uuid.uuid4().hex}.json"
        document = {"host": HOSTNAME, "pid": os.getpid(), "hashes": sorted(set(hashes))}
        temp = self.root / TMP_DIR / f"{name}.part"
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        path = self.root / PENDING_DIR / name
        os.replace(temp, path)
        fsync_dir(path.parent)
        return Intent(path)

    def intents(self) -> list[IntentInfo]:
        """Every intent on disk (unreadable ones are reported with no hashes)."""
        now = time.time()
        found = []
        for path in sorted((self.root / PENDING_DIR).glob("*.json")):
            try:
                age = now - path.stat().st_mtime
                document = json.loads(path.read_text(encoding="utf-8"))
                hashes = tuple(str(h) for h in document.get("hashes", []))
                host, pid = str(document.get("host", "")), int(document.get("pid", 0))
            except FileNotFoundError:
                continue
            except (OSError, ValueError, TypeError, AttributeError):
                host, pid, hashes, age = "", 0, (), float("inf")
            found.append(IntentInfo(path, host, pid, hashes, age))
        return found

    def temp_files(self) -> list[tuple[Path, float]]:
        """Files in `tmp/` with their age in seconds."""
        now = time.time()
        found = []
        for path in (self.root / TMP_DIR).iterdir():
            with contextlib.suppress(FileNotFoundError):
                found.append((path, now - path.stat().st_mtime))
        return found

    def served_folders(self) -> tuple[Path, Path]:
        """The image and thumbnail folders (created): all a web server may serve."""
        folders = (self.root / IMAGES_DIR, self.root / THUMBNAILS_DIR)
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        return folders

    def any_settled_image(self, waiting: Iterable[str] = ()) -> bool:
        """Whether a stored image exists that no write intent names (not a write in flight)
        and that is not among `waiting` (rows waiting for the database)."""
        in_flight = {sha for intent in self.intents() for sha in intent.hashes} | set(waiting)
        return any(
            path.stem not in in_flight for path in (self.root / IMAGES_DIR).glob("*/*/*.png")
        )

    def image_paths(self) -> Iterable[tuple[str, Path]]:
        """(hash, path) of every stored image file."""
        for path in sorted((self.root / IMAGES_DIR).glob("*/*/*.png")):
            yield path.stem, path

    def stored_hashes(self) -> Iterable[tuple[str, float]]:
        """Every hash with an image or thumbnail file on disk, with the newest file's age."""
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
