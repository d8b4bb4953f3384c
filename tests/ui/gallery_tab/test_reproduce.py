"""Regenerate from record: the stored settings make the same pixels again, or say why not."""

from PIL import Image

from engine.request import GenerationRequest
from ui.gallery_tab.reproduce import compare_pixels, regenerate_from_record, reproduce
from ui.recording import record_result

SMALL = {"width": 64, "height": 64, "steps": 2}


def test_a_demo_record_regenerates_identically(engine, local_gallery):
    result = engine.generate(
        GenerationRequest(
            "a red fox", "blurry", seed=2**64 - 1, scheduler="DPM++ SDE Karras", clip_skip=2,
            **SMALL,
        )
    )  # fmt: skip
    (generation_id,) = record_result(local_gallery, result)
    report = reproduce(engine, local_gallery.get(generation_id))
    assert report.verdict == "identical" and report.max_difference == 0
    assert report.result.seeds == [2**64 - 1]
    text = regenerate_from_record(engine, local_gallery, generation_id)
    assert "identical" in text


def test_different_pixels_say_what_changed(engine, local_gallery):
    result = engine.generate(GenerationRequest("a red fox", seed=3, **SMALL))
    result.provenance["device"] = "cuda"
    result.provenance["dtype"] = "fp16"
    result.provenance["versions"] = {**result.provenance["versions"], "torch": "1.0"}
    result.images[0] = Image.new("RGB", (64, 64), (255, 0, 0))
    (generation_id,) = record_result(local_gallery, result)
    report = reproduce(engine, local_gallery.get(generation_id))
    assert report.verdict == "different" and report.max_difference > 1
    assert "device was cuda, now cpu" in report.reasons
    assert "dtype was fp16, now fp32" in report.reasons
    assert any(reason.startswith("torch was 1.0") for reason in report.reasons)


def test_pixel_verdicts():
    black = Image.new("RGB", (4, 4))
    assert compare_pixels(black, black) == ("identical", 0)
    assert compare_pixels(black, Image.new("RGB", (4, 4), (1, 0, 1))) == ("within 1 level", 1)
    assert compare_pixels(black, Image.new("RGB", (4, 4), (9, 0, 0))) == ("different", 9)
    assert compare_pixels(black, Image.new("RGB", (8, 4))) == ("different", 255)
