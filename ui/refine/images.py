"""Pictures a visitor hands in (an upload, an API file): images only, bounded, one sentence."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

FORMATS = ("PNG", "JPEG", "WEBP")
MAX_PIXELS = 4096 * 4096


class ImageInputError(ValueError):
    """A file that is not a picture this app reads (one sentence, no server path)."""


def open_picture(path: str | Path | None) -> Image.Image:
    """The RGB picture in `path` (PNG, JPEG or WebP, at most `MAX_PIXELS`)."""
    if not path:
        raise ImageInputError("Choose a picture (PNG, JPEG or WebP) first.")
    try:
        with Image.open(path) as image:
            if image.format not in FORMATS:
                raise ImageInputError("Only PNG, JPEG and WebP pictures can be read.")
            if image.width * image.height > MAX_PIXELS:
                raise ImageInputError(
                    f"That picture has {image.width}×{image.height} pixels; "
                    f"at most {MAX_PIXELS:,} are read."
                )
            return image.convert("RGB")
    except ImageInputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ImageInputError("That file is not a picture this app can read.") from None
