"""An imported PNG keeps only the chunks a viewer or a tool reads: the image itself, colour and
animation chunks, and text (each text chunk at most `MAX_TEXT_CHUNK_BYTES`, all of them at
most `MAX_TEXT_BYTES`). Private and unknown
chunks, and anything after `IEND`, are dropped, so a file padded with a private chunk is not
kept byte for byte (the pixels and the settings are)."""

from __future__ import annotations

import struct

from gallery.bounds import MAX_TEXT_CHARS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
KEPT_CHUNKS = frozenset(
    {
        b"IHDR", b"PLTE", b"IDAT", b"IEND",  # the image
        b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCv", b"cLLi",
        b"bKGD", b"hIST", b"pHYs", b"sPLT", b"tIME", b"eXIf",
        b"acTL", b"fcTL", b"fdAT",  # APNG
    }
) | TEXT_CHUNKS  # fmt: skip
MAX_TEXT_CHUNK_BYTES = 4 * MAX_TEXT_CHARS  # what `gallery.image_container` reads of one
MAX_TEXT_BYTES = 2 * MAX_TEXT_CHUNK_BYTES


def strip_unknown_chunks(data: bytes) -> bytes:
    """`data` with only `KEPT_CHUNKS` (see the module docstring); `data` unchanged when it is
    not a PNG whose chunks can be walked to `IEND` (the reader reports such a file)."""
    if not data.startswith(PNG_SIGNATURE):
        return data
    kept = [PNG_SIGNATURE]
    position = len(PNG_SIGNATURE)
    text_bytes = 0
    while position + 12 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            return data
        if kind in TEXT_CHUNKS:
            too_long = length > MAX_TEXT_CHUNK_BYTES or text_bytes + length > MAX_TEXT_BYTES
            text_bytes += 0 if too_long else length
        else:
            too_long = False
        if kind in KEPT_CHUNKS and not too_long:
            kept.append(data[position:end])
        if kind == b"IEND":
            return b"".join(kept)
        position = end
    return data
