"""What one owner may keep in a public app's gallery: images, bytes on disk, and imports a
minute. Each refusal is one sentence (`GalleryError`), checked before anything is written."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gallery.errors import GalleryError
from ui.hosting.mode import Limits

MIB = 1024 * 1024
WINDOW_S = 60.0


def check_room(usage: tuple[int, int], images: int, size: int, limits: Limits) -> None:
    """`GalleryError` when `images` more images of `size` bytes would pass the owner's quota
    (`usage` is what they keep now: images, bytes)."""
    kept, used = usage
    if kept + images > limits.max_images_per_owner:
        raise GalleryError(
            f"Your gallery is full ({limits.max_images_per_owner} images here); "
            "delete some to make room."
        )
    if used + size > limits.max_bytes_per_owner:
        raise GalleryError(
            f"Your gallery is full ({limits.max_bytes_per_owner // MIB} MB here); "
            "delete some to make room."
        )


def folder_bytes(folder: str | Path, *, recursive: bool) -> tuple[int, int]:
    """(files, bytes) of the regular files in `folder` (an import's upper bound)."""
    root = Path(folder)
    found = root.rglob("*") if recursive else root.glob("*")
    sizes = [path.stat().st_size for path in found if path.is_file()]
    return len(sizes), sum(sizes)


class ImportRate:
    """At most `per_minute` imports by each visitor in any minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def count(self, visitor: str) -> None:
        """Count one import of `visitor`; `GalleryError` when over the rate."""
        now = self._clock()
        with self._lock:
            seen = self._seen[visitor]
            while seen and now - seen[0] >= WINDOW_S:
                seen.popleft()
            if len(seen) >= self.per_minute:
                wait = int(WINDOW_S - (now - seen[0])) + 1
                raise GalleryError(
                    f"You can import {self.per_minute} times a minute here; try again in {wait} s."
                )
            seen.append(now)
