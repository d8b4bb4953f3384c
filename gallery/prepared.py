"""Images ready to store: content-hash names, the layout of paths, thumbnails.

    images/ab/cd/<sha256>.png        the PNG exactly as stored (metadata embedded)
    thumbnails/ab/cd/<sha256>.webp   at most 256 px on the long side

Two levels of 256 shards keep folders (and object-store listings) small at millions. The same
layout is used in a local folder and under an S3 prefix.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image

from gallery.errors import GalleryError

IMAGES_DIR = "images"
THUMBNAILS_DIR = "thumbnails"
THUMBNAIL_SIZE = 256
THUMBNAIL_QUALITY = 80


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
