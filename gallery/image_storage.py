"""`ImageStorage`: where the gallery's image files live, behind one face.

Two implementations keep the same promises (see `gallery.files` for the layout and the order
of writes): `gallery.files.ImageFiles`, a folder on this machine (the default), and
`gallery.object_files.ObjectImageFiles`, an S3-compatible bucket through fsspec. Both name
files by content hash, write an image before its row and delete it after its row, record write
intents that the start-up sweep finishes, and expose only folders of images and thumbnails to a
web server.

A path here is always relative (`images/ab/cd/<sha>.png`), as the database stores it.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gallery.prepared import PreparedImage, image_rel_path, thumbnail_rel_path


class Intent:
    """A durable write intent: hashes whose files may exist without rows until `finish()`."""

    def __init__(self, name: str, forget: Callable[[str], None]) -> None:
        self.name = name
        self._forget = forget

    def finish(self) -> None:
        """The commit (or the clean-up after a failure) is done: forget the intent."""
        self._forget(self.name)


@dataclass(frozen=True)
class IntentInfo:
    """An intent as read back by the sweep (`name` as `forget_intent` takes it)."""

    name: str
    host: str
    pid: int
    hashes: tuple[str, ...]
    age_s: float


class ImageStorage(ABC):
    """The file side of the gallery: content-addressed images and thumbnails, and intents."""

    #: The local folder of the gallery: the database's default home and the served folders.
    root: Path

    # --- objects ---------------------------------------------------------------------------

    @abstractmethod
    def write(self, rel_path: str, data: bytes) -> bool:
        """Write `data` at `rel_path` whole or not at all; False (nothing written) if it is
        already there."""

    @abstractmethod
    def read(self, rel_path: str) -> bytes:
        """The bytes at `rel_path`; `FileNotFoundError` if there is none."""

    @abstractmethod
    def exists(self, rel_path: str) -> bool:
        """Whether a file is stored at `rel_path`."""

    @abstractmethod
    def delete(self, rel_path: str) -> bool:
        """Delete the file at `rel_path`; False if there was none."""

    @abstractmethod
    def location(self, rel_path: str) -> str:
        """Where `rel_path` lives, for messages (a path, or an `s3://` URL)."""

    @abstractmethod
    def stored_hashes(self) -> Iterable[tuple[str, float]]:
        """Every hash with an image or thumbnail stored, with the newest file's age in s."""

    @abstractmethod
    def image_hashes(self) -> Iterable[str]:
        """The hash of every stored image (thumbnails not counted), sorted."""

    # --- intents ---------------------------------------------------------------------------

    @abstractmethod
    def begin_intent(self, hashes: Iterable[str]) -> Intent:
        """Durably record that files of `hashes` may be about to lose or gain their rows."""

    @abstractmethod
    def intents(self) -> list[IntentInfo]:
        """Every intent stored (unreadable ones are reported with no hashes)."""

    @abstractmethod
    def forget_intent(self, name: str) -> None:
        """Remove the intent `name` (nothing if it is gone already)."""

    def temp_files(self) -> list[tuple[Path, float]]:
        """Local temp files with their age in seconds (none where writes are whole objects)."""
        return []

    # --- what a browser may see ------------------------------------------------------------

    @abstractmethod
    def served_folders(self) -> tuple[Path, Path]:
        """The local image and thumbnail folders (created): all a web server may serve."""

    def local_path(self, rel_path: str) -> Path:
        """Where a web server finds `rel_path` on this machine (see `localize`)."""
        return self.root / rel_path

    def localize(self, rel_paths: Iterable[str]) -> None:
        """Make sure the files at `rel_paths` can be served from `local_path` (a no-op for
        a local folder; a download into the local copy for a remote store). Missing files
        are skipped: the row says `missing` once a full sweep has looked."""
        return None

    # --- built on the above ----------------------------------------------------------------

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
            with contextlib.suppress(Exception):  # the sweep finishes what this cannot
                self.remove(created)
            raise
        return created

    def remove(self, rel_paths: Iterable[str]) -> None:
        """Delete files, ignoring those already gone."""
        for rel_path in rel_paths:
            self.delete(rel_path)

    def remove_hash(self, sha: str) -> list[str]:
        """Delete the image and thumbnail of `sha`; return the paths that existed."""
        return [
            rel_path
            for rel_path in (image_rel_path(sha), thumbnail_rel_path(sha))
            if self.delete(rel_path)
        ]

    def any_settled_image(self, waiting: Iterable[str] = ()) -> bool:
        """Whether a stored image exists that no write intent names (not a write in flight)
        and that is not among `waiting` (rows waiting for the database)."""
        in_flight = {sha for intent in self.intents() for sha in intent.hashes} | set(waiting)
        return any(sha not in in_flight for sha in self.image_hashes())
