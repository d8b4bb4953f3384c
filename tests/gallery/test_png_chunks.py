"""An imported PNG keeps its pixels and settings but not private or unknown chunks: a file
padded with a private chunk is not stored byte for byte."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, PngImagePlugin

from gallery import LOCAL_OWNER
from gallery.png_chunks import MAX_TEXT_CHUNK_BYTES, strip_unknown_chunks

PARAMETERS = "a red fox\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, Seed: 5, Size: 64x48"


def chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_with(extra: bytes, seed: int = 3) -> bytes:
    """A 64×48 PNG with A1111 parameters, `extra` chunks inserted before IEND."""
    image = Image.new("RGB", (64, 48), (seed * 40 % 256, 90, 30))
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", PARAMETERS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    data = buffer.getvalue()
    return data[:-12] + extra + data[-12:]


def test_private_and_oversized_chunks_are_dropped_and_the_rest_kept():
    padding = chunk(b"prVt", b"\0" * 3_000_000) + chunk(
        b"tEXt", b"pad\0" + b"x" * (MAX_TEXT_CHUNK_BYTES + 1)
    )
    padded = png_with(padding)
    stripped = strip_unknown_chunks(padded + b"trailing junk")
    assert stripped == png_with(b"")
    with Image.open(io.BytesIO(stripped)) as image:
        assert image.text["parameters"] == PARAMETERS
    assert strip_unknown_chunks(b"not a png") == b"not a png"
    broken = padded[:-30]  # a chunk running past the end: left for the reader to report
    assert strip_unknown_chunks(broken) == broken


def test_an_imported_png_is_stored_without_its_padding(sqlite_store, tmp_path):
    local = sqlite_store.for_owner(LOCAL_OWNER)
    folder = tmp_path / "in"
    folder.mkdir()
    padded = png_with(chunk(b"prVt", b"\0" * 5_000_000))
    (folder / "fox.png").write_bytes(padded)
    report = local.import_folder(folder)
    (new_id,) = report.imported
    record = local.get(new_id)
    stored = record.image.path.read_bytes()
    assert len(stored) < 10_000 < len(padded)
    assert record.prompt == "a red fox" and record.seed == 5
    with Image.open(io.BytesIO(stored)) as kept, Image.open(io.BytesIO(padded)) as sent:
        assert kept.tobytes() == sent.tobytes()
