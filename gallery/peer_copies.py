"""JPEG and WebP copies of our PNGs that A1111, Forge, Civitai and friends read.

A1111 (modules/images.py `save_image_with_geninfo`) saves a JPEG or WebP, then inserts an EXIF
block whose Exif IFD holds `UserComment` = `piexif.helper.UserComment.dump(infotext,
encoding="unicode")`, that is b"UNICODE\\0" followed by the text in UTF-16 big-endian. RGBA is
flattened to RGB first, as A1111 does. The infotext is the PNG's own `parameters` chunk, so
every peer reads the same settings from either file.
"""

from __future__ import annotations

import io
import struct

from PIL import Image

from gallery.errors import GalleryError
from gallery.image_container import EXIF_IFD, USER_COMMENT, open_image
from gallery.metadata import PARAMETERS_KEY, read_text_chunks

PEER_FORMATS = {"jpeg": ("JPEG", ".jpg"), "webp": ("WEBP", ".webp")}
QUALITY = 90
_UNICODE_PREFIX = b"UNICODE\x00"
_UNDEFINED = 7  # the TIFF type of UserComment


def user_comment_bytes(text: str) -> bytes:
    """`piexif.helper.UserComment.dump(text, encoding="unicode")`."""
    return _UNICODE_PREFIX + text.encode("utf-16-be")


def exif_block(user_comment: bytes) -> bytes:
    """An EXIF block holding only ExifIFD UserComment, laid out as `piexif.dump` lays it out:
    big-endian TIFF header, IFD0 with the Exif IFD pointer, the Exif IFD with UserComment as
    type UNDEFINED (Pillow would write bytes as BYTE, which piexif, and so A1111, misreads)."""
    header = b"MM\x00\x2a" + struct.pack(">I", 8)
    ifd0_size = 2 + 12 + 4
    exif_ifd_offset = 8 + ifd0_size
    data_offset = exif_ifd_offset + 2 + 12 + 4
    ifd0 = struct.pack(">H", 1) + struct.pack(">HHII", EXIF_IFD, 4, 1, exif_ifd_offset)
    ifd0 += struct.pack(">I", 0)
    exif_ifd = struct.pack(">H", 1)
    exif_ifd += struct.pack(">HHII", USER_COMMENT, _UNDEFINED, len(user_comment), data_offset)
    exif_ifd += struct.pack(">I", 0)
    return b"Exif\x00\x00" + header + ifd0 + exif_ifd + user_comment


def encode_with_infotext(image: Image.Image, infotext: str | None, image_format: str) -> bytes:
    """`image` as JPEG or WebP bytes with `infotext` in EXIF UserComment (none when None)."""
    fmt, _suffix = _format(image_format)
    if image.mode != "RGB":
        image = image.convert("RGB")
    extra = {} if infotext is None else {"exif": exif_block(user_comment_bytes(infotext))}
    out = io.BytesIO()
    image.save(out, format=fmt, quality=QUALITY, **extra)
    return out.getvalue()


def peer_copy(png_bytes: bytes, image_format: str) -> bytes:
    """A stored PNG as JPEG or WebP carrying its `parameters` infotext in UserComment."""
    infotext = read_text_chunks(png_bytes).get(PARAMETERS_KEY)
    try:
        with open_image(png_bytes) as decoded:
            decoded.load()
            image = decoded.copy()
    except OSError as exc:
        raise GalleryError(f"The stored image could not be read: {exc}.") from None
    return encode_with_infotext(image, infotext, image_format)


def suffix_for(image_format: str) -> str:
    """The file suffix for a peer format (`.jpg`, `.webp`)."""
    return _format(image_format)[1]


def _format(image_format: str) -> tuple[str, str]:
    try:
        return PEER_FORMATS[image_format.strip().lower()]
    except KeyError:
        raise GalleryError(
            f"Images can be written as JPEG or WebP, not '{image_format}'."
        ) from None
