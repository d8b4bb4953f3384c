"""The text an image file carries, read without decoding its pixels: PNG, JPEG and WebP.

- PNG: every `tEXt`, `zTXt` and `iTXt` chunk, walked by hand so each is capped (zTXt/iTXt
  inflate no further than the cap) and a broken chunk stops the walk, not the reading.
- JPEG and WebP: EXIF `UserComment` (ExifIFD 0x9286) decoded as its 8-byte prefix says
  (`UNICODE\\0` UTF-16 in either byte order, `ASCII\\0\\0\\0`, or an undefined prefix as UTF-8),
  the other EXIF text tags of IFD0 (ComfyUI keeps its graph in `Make`/`Model` of WebP files),
  and XMP. PNGs may carry XMP too (iTXt `XML:com.adobe.xmp`).

Nothing here interprets the text; `gallery.image_reader` decides which tool wrote it.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from gallery.bounds import MAX_TEXT_CHARS, Deadline, cap_text, check_pixels
from gallery.errors import MetadataError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_PNG_KEY = "XML:com.adobe.xmp"
EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
# IFD0 tags that hold text: ImageDescription, Make, Model, Software, Artist.
IFD0_TEXT_TAGS = (0x010E, 0x010F, 0x0110, 0x0131, 0x013B)
MAKER_NOTE = 0x927C  # in IFD0, Fooocus and FooocusPlus name their metadata scheme there
_SCHEME_NAME_MAX = 32
FORMATS = ("PNG", "JPEG", "WEBP")
_UNICODE_PREFIX = b"UNICODE\x00"
_ASCII_PREFIX = b"ASCII\x00\x00\x00"
_JIS_PREFIX = b"JIS\x00\x00\x00\x00\x00"
_MAX_CHUNK_BYTES = 4 * MAX_TEXT_CHARS


@dataclass
class ImageTexts:
    """What an image file says in text, by where it says it."""

    format: str
    width: int
    height: int
    mode: str
    chunks: dict[str, str] = field(default_factory=dict)
    user_comment: str | None = None
    exif_text: dict[int, str] = field(default_factory=dict)
    xmp: str | None = None
    notes: list[str] = field(default_factory=list)


def open_image(data: bytes) -> Image.Image:
    """Open image bytes lazily (header only); `MetadataError` for anything but PNG/JPEG/WebP
    or an image too large to decode."""
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise MetadataError("The file is not a PNG, JPEG or WebP image.") from None
    except (OSError, ValueError, SyntaxError, struct.error) as exc:
        raise MetadataError(f"The image could not be read: {_reason(exc)}.") from None
    except Image.DecompressionBombError:
        raise MetadataError("The image is too large to read safely.") from None
    check_pixels(*image.size)
    return image


def read_image_texts(data: bytes, deadline: Deadline | None = None) -> ImageTexts:
    """The text of a PNG, JPEG or WebP file; `MetadataError` if it is none of these."""
    deadline = deadline or Deadline(None)
    if data.startswith(PNG_SIGNATURE):
        # Walked by hand: Pillow would inflate every text chunk while opening.
        texts = _png_header(data)
        texts.chunks, exif_block = _png_text_chunks(data, texts.notes, deadline)
        if XMP_PNG_KEY in texts.chunks:
            texts.xmp = texts.chunks.pop(XMP_PNG_KEY)
        exif = _png_exif(exif_block, texts.notes) if exif_block else None
        if exif is not None:
            texts.user_comment, texts.exif_text = _exif_texts(exif, texts.notes)
        return texts
    image = open_image(data)
    texts = ImageTexts(image.format or "", image.width, image.height, image.mode)
    exif = _exif(image, texts.notes)
    if exif is not None:
        texts.user_comment, texts.exif_text = _exif_texts(exif, texts.notes)
    if texts.xmp is None:
        xmp = image.info.get("xmp")
        if isinstance(xmp, bytes):
            texts.xmp = cap_text(xmp.decode("utf-8", errors="replace"), texts.notes, "XMP")
    image.close()
    return texts


_PNG_MODES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}


def _png_header(data: bytes) -> ImageTexts:
    """Size and mode from the IHDR chunk; `MetadataError` if there is none."""
    ihdr = data[len(PNG_SIGNATURE) : len(PNG_SIGNATURE) + 8 + 13]
    if len(ihdr) < 21 or ihdr[4:8] != b"IHDR":
        raise MetadataError("The PNG could not be read: it has no image header.")
    width, height, _depth, colour = struct.unpack(">IIBB", ihdr[8:18])
    if not width or not height:
        raise MetadataError("The PNG could not be read: its size is zero.")
    check_pixels(width, height)
    return ImageTexts("PNG", width, height, _PNG_MODES.get(colour, "?"))


def _png_text_chunks(
    data: bytes, notes: list[str], deadline: Deadline
) -> tuple[dict[str, str], bytes | None]:
    """Text chunks by keyword (the first of a repeated keyword wins), and the first `eXIf`
    chunk's bytes; capped, never raises."""
    chunks: dict[str, str] = {}
    exif: bytes | None = None
    position = len(PNG_SIGNATURE)
    size = len(data)
    while position + 8 <= size:
        deadline.check()
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body_start = position + 8
        body_end = body_start + length
        if body_end + 4 > size:
            notes.append("The PNG ends early (a chunk is cut short); what came before was read.")
            break
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            body = data[body_start : min(body_end, body_start + _MAX_CHUNK_BYTES)]
            try:
                keyword, text = _decode_text_chunk(kind, body, notes)
            except (ValueError, zlib.error):
                notes.append(f"A {kind.decode()} chunk could not be read and was skipped.")
            else:
                if length > _MAX_CHUNK_BYTES and kind == b"tEXt":
                    notes.append(
                        f"The '{keyword}' text was cut to its first {MAX_TEXT_CHARS:,} characters."
                    )
                if keyword not in chunks:
                    chunks[keyword] = cap_text(text, notes, f"'{keyword}'")
        elif kind == b"eXIf" and exif is None:
            if length > _MAX_CHUNK_BYTES:
                notes.append("The EXIF block is too large to read and was skipped.")
            else:
                exif = data[body_start:body_end]
        elif kind == b"IEND":
            break
        position = body_end + 4
    return chunks, exif


def _png_exif(block: bytes, notes: list[str]) -> Image.Exif | None:
    """A PNG `eXIf` chunk (a TIFF-layout EXIF block, as JPEG's without its `Exif` prefix)."""
    exif = Image.Exif()
    try:
        exif.load(block)
        exif.get_ifd(EXIF_IFD)
    except (OSError, ValueError, SyntaxError, struct.error, KeyError, IndexError):
        notes.append("The EXIF block could not be read and was skipped.")
        return None
    return exif


def _decode_text_chunk(kind: bytes, body: bytes, notes: list[str]) -> tuple[str, str]:
    keyword, separator, rest = body.partition(b"\x00")
    if not separator or not keyword:
        raise ValueError("no keyword")
    name = keyword.decode("latin-1")
    if kind == b"tEXt":
        return name, rest.decode("latin-1")
    if kind == b"zTXt":
        return name, _inflate(rest[1:], notes, name).decode("latin-1")
    # iTXt: compression flag, method, language tag \0, translated keyword \0, text.
    if len(rest) < 2:
        raise ValueError("short iTXt")
    compressed = rest[0] == 1
    _language, _, rest = rest[2:].partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if compressed:
        text = _inflate(text, notes, name)
    return name, text.decode("utf-8", errors="replace")


def _inflate(data: bytes, notes: list[str], name: str) -> bytes:
    """Inflate at most `_MAX_CHUNK_BYTES` (a zip bomb in a text chunk stops there)."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, _MAX_CHUNK_BYTES)
    if inflater.unconsumed_tail:
        notes.append(
            f"The '{name}' text inflates to more than {_MAX_CHUNK_BYTES:,} bytes; "
            "the rest was ignored."
        )
    return out


def _exif(image: Image.Image, notes: list[str]) -> Image.Exif | None:
    raw = image.info.get("exif")
    if not raw:
        return None
    if len(raw) > _MAX_CHUNK_BYTES:
        notes.append("The EXIF block is too large to read and was skipped.")
        return None
    try:
        return image.getexif()
    except (OSError, ValueError, SyntaxError, struct.error, KeyError, IndexError):
        notes.append("The EXIF block could not be read and was skipped.")
        return None


def _exif_texts(exif: Image.Exif, notes: list[str]) -> tuple[str | None, dict[int, str]]:
    texts: dict[int, str] = {}
    for tag in IFD0_TEXT_TAGS:
        value = exif.get(tag)
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if isinstance(value, str) and value.strip("\x00 "):
            texts[tag] = cap_text(value.rstrip("\x00"), notes, f"EXIF tag {tag:#06x}")
    scheme = exif.get(MAKER_NOTE)  # a short name ("fooocus", "a1111", "simple"), not a camera's
    if isinstance(scheme, bytes) and len(scheme) <= _SCHEME_NAME_MAX:
        scheme = scheme.decode("ascii", errors="replace")
    if isinstance(scheme, str) and 0 < len(scheme) <= _SCHEME_NAME_MAX:
        texts[MAKER_NOTE] = scheme.rstrip("\x00")
    try:
        comment: Any = exif.get_ifd(EXIF_IFD).get(USER_COMMENT)
    except (OSError, ValueError, SyntaxError, struct.error, KeyError, IndexError):
        comment = None
    if comment is None:
        comment = exif.get(USER_COMMENT)  # Fooocus puts it in IFD0
    if isinstance(comment, str):
        text: str | None = comment
    elif isinstance(comment, bytes):
        text = decode_user_comment(comment)
    else:
        text = None
    if text is not None:
        text = cap_text(text.rstrip("\x00"), notes, "EXIF UserComment") or None
    return text, texts


def decode_user_comment(raw: bytes) -> str:
    """EXIF UserComment bytes as text: the 8-byte prefix names the encoding.

    `UNICODE\\0` is UTF-16; A1111 (through piexif) writes big-endian, some tools little-endian
    without a byte-order mark, so the order is taken from a BOM, else from which byte of the
    pairs is zero more often. No known prefix: UTF-8.
    """
    prefix, body = raw[:8], raw[8:]
    if prefix == _UNICODE_PREFIX:
        return _decode_utf16(body)
    if prefix == _ASCII_PREFIX:
        return body.decode("ascii", errors="replace")
    if prefix == _JIS_PREFIX:
        return body.decode("shift_jis", errors="replace")
    if prefix == b"\x00" * 8:
        return body.decode("utf-8", errors="replace")
    return raw.decode("utf-8", errors="replace")


def _decode_utf16(body: bytes) -> str:
    if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
        return body.decode("utf-16", errors="replace")
    sample = body[:4096]
    zero_even = sample[0::2].count(0)
    zero_odd = sample[1::2].count(0)
    order = "utf-16-le" if zero_odd > zero_even else "utf-16-be"
    return body[: len(body) - len(body) % 2].decode(order, errors="replace")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    return text.splitlines()[0][:200]
