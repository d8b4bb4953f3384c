"""Hostile files cost bounded time and memory, and each is reported in one sentence."""

from __future__ import annotations

import json
import random
import re
import struct
import time
import zlib

import pytest
from PIL import Image
from sqlalchemy import text

from gallery import LOCAL_OWNER, NewGeneration
from gallery.a1111 import find_params, parse_infotext
from gallery.bounds import MAX_TEXT_CHARS, json_depth_ok, load_json
from gallery.errors import MetadataError
from gallery.image_reader import read_image_metadata
from gallery.importers import import_folder
from gallery.metadata import embed_metadata
from tests.gallery import peer_fixtures as fx

# A1111's own pattern (modules/infotext_utils.py), used here only as the reference.
A1111_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
MB = 1024 * 1024


def test_find_params_returns_exactly_what_a1111s_regex_finds():
    rng = random.Random(7)
    alphabet = ["a", "B", "_", "7", " ", "-", "/", ":", ",", '"', "\\", "\t", "é", ".", "x y"]
    for _ in range(30_000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        assert find_params(line) == A1111_PARAM.findall(line), line
    real = fx.A1111_TEXT.splitlines()[-1]
    assert find_params(real) == A1111_PARAM.findall(real)


@pytest.mark.parametrize("unit", ["a", ":a", 'k: "x\\'])
def test_parsing_a_20_mb_infotext_is_linear(unit):
    text = unit * (20 * MB // len(unit))
    start = time.perf_counter()
    parse_infotext("prompt\n" + text)
    elapsed = time.perf_counter() - start
    # A1111's regex needs 17 s for 64 KB of such text; linear parsing stays far under 1 s/MB
    # (the limit allows for a loaded machine).
    assert elapsed < 10.0, f"{elapsed:.1f} s for 20 MB"


def test_a_20_mb_parameters_chunk_is_capped_with_a_note():
    chunk = "a lighthouse\nSteps: 1, Sampler: Euler, Seed: 5, Note: " + "x" * (20 * MB)
    start = time.perf_counter()
    reading = read_image_metadata(fx.png({"parameters": chunk}))
    assert time.perf_counter() - start < 5.0
    assert reading.metadata.prompt == "a lighthouse"
    assert reading.metadata.settings == {"steps": 1, "scheduler": "Euler", "seed": 5}
    assert reading.notes == (
        f"The 'parameters' text is {len(chunk):,} characters long; only the "
        f"first {MAX_TEXT_CHARS:,} were read. Its settings were read up to there; the one cut "
        "in the middle was left out.",
    )


def test_deeply_nested_json_is_refused_not_a_recursion_error():
    text = "[" * 100_000
    assert not json_depth_ok(text)
    assert load_json(text) is None
    for key in ("prompt", "invokeai_metadata", "parameters", "sd-metadata"):
        reading = read_image_metadata(fx.png({key: text}))
        assert reading.metadata is None or reading.metadata.source == "a1111"
    assert read_image_metadata(fx.png({"prompt": text})).metadata is None


def test_a_compressed_text_chunk_bomb_inflates_no_further_than_the_cap():
    bomb = zlib.compress(b"a" * (16 * MB), 9)  # 16 MB of text in 16 KB
    chunk = b"parameters\x00\x00" + bomb
    data = _png_with_raw_chunk(b"zTXt", chunk)
    reading = read_image_metadata(data)
    assert len(reading.metadata.prompt) == MAX_TEXT_CHARS
    assert reading.notes == (
        f"The prompt is more than {4 * MAX_TEXT_CHARS:,} characters long; only the first "
        f"{MAX_TEXT_CHARS:,} were read. The settings written after it were not read.",
    )


def _png_with_raw_chunk(kind: bytes, body: bytes) -> bytes:
    plain = fx.png({})
    chunk = struct.pack(">I", len(body)) + kind + body
    chunk += struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return plain[:33] + chunk + plain[33:]  # after the signature and IHDR


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A 400-megapixel PNG of a few KB: its IHDR says so, its IDAT inflates to 400 MB of zeros."""
    raw = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # 1-bit greyscale
    idat = b"".join(raw.compress(row) for _ in range(height)) + raw.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_refused_from_its_header_in_one_sentence():
    with pytest.raises(MetadataError) as caught:
        read_image_metadata(bomb_png())
    message = str(caught.value)
    assert "20000x20000" in message and "megapixels" in message and "\n" not in message
    assert Image.MAX_IMAGE_PIXELS == 64 * MB


def test_a_truncated_file_is_read_as_far_as_it_goes():
    whole = fx.png({"parameters": fx.A1111_TEXT})
    cut = whole[: whole.index(b"IDAT") + 10]
    reading = read_image_metadata(cut)
    assert reading.metadata.prompt.startswith("a lighthouse")
    assert any("ends early" in note for note in reading.notes)
    jpeg = fx.a1111_exif_image("JPEG", fx.A1111_TEXT)
    with pytest.raises(MetadataError, match=r"^The image could not be read: [^\n]*\.$"):
        read_image_metadata(jpeg[: len(jpeg) // 2])


def test_folder_import_survives_bombs_truncations_and_junk(local, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "1-bomb.png").write_bytes(bomb_png())
    whole = fx.png({"parameters": fx.A1111_TEXT})
    (folder / "2-truncated.png").write_bytes(whole[: len(whole) - 200])
    (folder / "3-junk.jpg").write_bytes(b"definitely not a jpeg")
    (folder / "4-nested.png").write_bytes(fx.png({"prompt": "[" * 100_000}))
    (folder / "5-good.webp").write_bytes(fx.a1111_exif_image("WEBP", fx.A1111_TEXT))
    report = local.import_folder(folder)
    assert [path.name for path, _ in report.failed] == [
        "1-bomb.png",
        "2-truncated.png",
        "3-junk.jpg",
    ]
    for _path, reason in report.failed:
        assert "\n" not in reason and "Traceback" not in reason
    assert report.formats == {"PNG": 1, "WEBP": 1}
    assert [path.name for path in report.without_metadata] == ["4-nested.png"]


def test_the_per_file_time_limit_stops_a_slow_file(store, tmp_path):
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "a.png").write_bytes(fx.png({"parameters": fx.A1111_TEXT}))
    report = import_folder(store, folder, time_limit_s=0.0)
    assert report.imported == ()
    ((path, reason),) = report.failed
    assert path.name == "a.png" and reason == "Reading the file took longer than 0 s"


def test_json_payloads_are_parsed_only_when_shallow():
    assert load_json(json.dumps({"a": [[[1]]]})) == {"a": [[[1]]]}
    assert load_json('"[[[["') is None  # a JSON string, not an object
    assert load_json('{"a": "[[[[[[[[[["}') == {"a": "[[[[[[[[[["}


# A prompt over the cap whose words look like parameters (`style: anime, ...`): cut, it must
# stay a prompt, never become settings; and it ends in no space (infotext strips the ends).
LONG_PROMPT = ", ".join(f"style: anime {n}, mood: calm, light: soft" for n in range(9_000))


def _ours(prompt: str, negative: str = "blurry") -> bytes:
    item = NewGeneration(
        prompt=prompt,
        negative_prompt=negative,
        seed=5,
        steps=20,
        guidance_scale=7.0,
        scheduler="Euler a",
        model_id="demo",
    )
    return embed_metadata(fx.image(), item)


def test_a_prompt_cut_at_the_cap_keeps_its_prompt_and_invents_no_settings():
    assert len(LONG_PROMPT) > MAX_TEXT_CHARS
    # Our own PNG: both its chunks (infotext and JSON) are cut; one note, the prompt's length.
    reading = read_image_metadata(_ours(LONG_PROMPT))
    assert reading.metadata.source == "prompt_atelier"
    assert reading.metadata.prompt == LONG_PROMPT[:MAX_TEXT_CHARS]
    assert reading.metadata.negative_prompt == ""
    assert reading.metadata.settings == {}
    assert reading.metadata.extra == {"read_from": "parameters"}
    assert reading.notes == (
        f"The prompt is {len(LONG_PROMPT):,} characters long; only the first "
        f"{MAX_TEXT_CHARS:,} were read. The settings written after it were not read.",
    )
    # An A1111 file alike: what A1111's own parser finds in the whole text is the prompt.
    whole = f"{LONG_PROMPT}\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, Seed: 5"
    assert parse_infotext(whole).prompt == LONG_PROMPT
    reading = read_image_metadata(fx.png({"parameters": whole}))
    assert reading.metadata.source == "a1111"
    assert reading.metadata.prompt == LONG_PROMPT[:MAX_TEXT_CHARS]
    assert (reading.metadata.settings, reading.metadata.extra) == ({}, {"read_from": "parameters"})
    assert len(reading.notes) == 1 and f"is {len(LONG_PROMPT):,} characters" in reading.notes[0]


def test_a_negative_prompt_cut_at_the_cap_keeps_both_prompts():
    reading = read_image_metadata(_ours("a red fox", LONG_PROMPT))
    assert reading.metadata.prompt == "a red fox"
    assert LONG_PROMPT.startswith(reading.metadata.negative_prompt)
    assert reading.metadata.settings == {}
    assert reading.notes == (
        f"The negative prompt is {len(LONG_PROMPT):,} characters long; only the first "
        f"{MAX_TEXT_CHARS:,} were read. The settings written after it were not read.",
    )


def test_cut_json_is_nobodys_prompt():
    document = json.dumps({"prompt": LONG_PROMPT, "steps": 20})
    reading = read_image_metadata(fx.png({"parameters": document}))
    assert reading.metadata is None
    assert reading.notes == (
        f"The 'parameters' text is {len(document):,} characters long; only the first "
        f"{MAX_TEXT_CHARS:,} were read.",
    )


def test_imports_and_rebuilds_record_the_cut_prompt_without_settings(store, tmp_path):
    local = store.for_owner(LOCAL_OWNER)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "long.png").write_bytes(_ours(LONG_PROMPT))
    report = local.import_folder(folder)
    assert [note for _path, note in report.notes] == [
        f"The prompt is {len(LONG_PROMPT):,} characters long; only the first "
        f"{MAX_TEXT_CHARS:,} were read. The settings written after it were not read."
    ]
    imported = local.get(report.imported[0])
    rebuilt = local.get(_rebuilt(store, imported.id)[0])
    for record in (imported, rebuilt):
        assert record.prompt == LONG_PROMPT[:MAX_TEXT_CHARS]
        settings = (record.seed, record.steps, record.guidance_scale, record.scheduler)
        assert settings == (None, None, None, None)


def _rebuilt(store, generation_id: int) -> tuple[int, ...]:
    """Forget the row (keeping its file) and let `rebuild` read the file again."""
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM generations WHERE id = :id"), {"id": generation_id})
    return store.admin().rebuild(owner=LOCAL_OWNER).imported
