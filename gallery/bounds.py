"""Limits that keep reading other people's files cheap: every reader is linear in its input.

- Text read from a file (a PNG chunk, EXIF UserComment, XMP) is capped at `MAX_TEXT_CHARS`;
  what lies beyond is ignored, and the reading says so once (`gallery.image_reader`): a cut
  infotext keeps its (cut) prompt and never yields parameters, which A1111 writes last.
- JSON nested deeper than `MAX_JSON_DEPTH` is refused before `json.loads` sees it (a chunk of
  100,000 `[` would otherwise raise RecursionError).
- Images larger than `MAX_IMAGE_PIXELS` are refused from their header, before any pixel is
  decoded; Pillow's own decompression-bomb limit is lowered to the same figure.
- `Deadline` lets a long job (one file of an import) stop between steps once its time is up.
"""

from __future__ import annotations

import json
import time
from typing import Any

from PIL import Image

from gallery.errors import MetadataError

MAX_TEXT_CHARS = 256 * 1024
MAX_JSON_DEPTH = 64
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
MAX_FILE_BYTES = 128 * 1024 * 1024
FILE_TIME_LIMIT_S = 20.0

# Pillow warns above this and refuses above twice this; a gallery never needs more.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


class Deadline:
    """A point in time after which `check` raises `MetadataError`."""

    def __init__(self, seconds: float | None = FILE_TIME_LIMIT_S) -> None:
        self.seconds = seconds
        self._end = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        """Raise if the time is up."""
        if self._end is not None and time.monotonic() > self._end:
            raise MetadataError(f"Reading the file took longer than {self.seconds:g} s.")


def cap_text(text: str, cut: dict[str, str], what: str) -> str:
    """`text` cut to `MAX_TEXT_CHARS`; when cut, the whole `text` is kept in `cut[what]` (for
    the one note that says how long it really was)."""
    if len(text) <= MAX_TEXT_CHARS:
        return text
    cut[what] = text
    return text[:MAX_TEXT_CHARS]


def cut_note(what: str, length: int, *, complete: bool = True) -> str:
    """The sentence for a text of `length` characters of which `MAX_TEXT_CHARS` were read."""
    size = f"{length:,}" if complete else f"more than {length:,}"
    return f"The {what} is {size} characters long; only the first {MAX_TEXT_CHARS:,} were read."


def json_depth_ok(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the brackets of `text` (outside strings) nest at most `limit` deep; linear."""
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return False
        elif char in "]}":
            depth -= 1
    return True


def load_json(text: str) -> Any:
    """`json.loads` for text from a file: None when it is not JSON or nests too deep."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    if not json_depth_ok(stripped):
        return None
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        return None


def check_pixels(width: int, height: int) -> None:
    """`MetadataError` when an image is too large to decode safely."""
    if width * height > MAX_IMAGE_PIXELS:
        raise MetadataError(
            f"The image is {width}x{height} pixels, more than the "
            f"{MAX_IMAGE_PIXELS // (1024 * 1024)} megapixels a gallery image may have."
        )
