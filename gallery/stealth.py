"""A1111 "stealth PNG info": settings hidden in the lowest bits of the pixels.

Written by the `sd_webui_stealth_pnginfo` extension (and by NovelAI in the alpha channel).
The bits are read column by column (x outer, y inner), one per pixel from the alpha channel
or three per pixel from R, G, B:

    signature  15 bytes   stealth_pnginfo / stealth_pngcomp  (alpha)
                          stealth_rgbinfo / stealth_rgbcomp  (RGB)
    length     32 bits    the number of data bits that follow, big-endian
    data       UTF-8 text, gzip-compressed in the `comp` variants

The text is A1111 infotext, or for NovelAI a JSON object of its PNG text chunks.
"""

from __future__ import annotations

import zlib

import numpy as np
from PIL import Image

from gallery.bounds import MAX_TEXT_CHARS, Deadline
from gallery.image_container import open_image

SIGNATURES = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
_SIGNATURE_BITS = 15 * 8
_LENGTH_BITS = 32
_MAX_DATA_BITS = 4 * MAX_TEXT_CHARS * 8


def read_stealth_text(data: bytes, deadline: Deadline | None = None) -> str | None:
    """The hidden text of a PNG or WebP, or None when it carries none (or it is unreadable)."""
    image = open_image(data)
    if image.format not in ("PNG", "WEBP"):
        return None
    try:
        image.load()
    except (OSError, ValueError, SyntaxError):
        return None
    if deadline:
        deadline.check()
    header = _SIGNATURE_BITS + _LENGTH_BITS
    for mode in ("alpha", "rgb"):
        bits = _bit_stream(image, mode, header)
        if bits is None or len(bits) < header:
            continue
        found = SIGNATURES.get(np.packbits(bits[:_SIGNATURE_BITS]).tobytes())
        if found is None or found[0] != mode:
            continue
        length_bits = bits[_SIGNATURE_BITS:header]
        length = min(int.from_bytes(np.packbits(length_bits).tobytes(), "big"), _MAX_DATA_BITS)
        bits = _bit_stream(image, mode, header + length)
        payload = np.packbits(bits[header : header + length]).tobytes()
        return _decode(payload, compressed=found[1])
    return None


def _bit_stream(image: Image.Image, mode: str, count: int) -> np.ndarray | None:
    """At least the first `count` low bits in reading order (column-major; only the columns
    needed are converted), or None when the image has no such channel."""
    per_pixel = 1 if mode == "alpha" else 3
    if mode == "alpha" and "A" not in image.getbands():
        return None
    width, height = image.size
    columns = min(width, -(-count // (height * per_pixel)))
    part = image.crop((0, 0, columns, height))
    if mode == "alpha":
        pixels = np.asarray(part.convert("RGBA"))[:, :, 3]
        return (pixels.T & 1).reshape(-1)
    pixels = np.asarray(part.convert("RGB"))
    return (pixels.transpose(1, 0, 2) & 1).reshape(-1)


def _decode(payload: bytes, *, compressed: bool) -> str | None:
    try:
        if compressed:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip, bounded
            payload = inflater.decompress(payload, 4 * MAX_TEXT_CHARS)
        text = payload.decode("utf-8", errors="ignore")
    except (OSError, zlib.error, EOFError):
        return None
    return text[:MAX_TEXT_CHARS] or None
