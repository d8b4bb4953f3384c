"""The refinement's form: one sentence per bad value, and a public app's bounds on rounds,
beam, proposals and a round's images checked before any work."""

from __future__ import annotations

import pytest
from PIL import Image

from engine.errors import InvalidRequestError
from ui.forms import FormError
from ui.hosting.hosted_engine import HostedEngine
from ui.hosting.mode import Hosting, Limits
from ui.refine.form import RefineForm
from ui.refine.images import ImageInputError, open_picture
from ui.refine.runner import check

PUBLIC = Hosting(public=True, allowed_models=("sketch", "demo"), limits=Limits())


def form(**values):
    return RefineForm.read({"prompt": "a shape", "target_text": "a red circle", **values})


def test_the_defaults_make_a_text_target_run_from_the_prompt():
    made = form()
    assert made.target_kind == "text" and made.spec.start.subject == "a shape"
    assert (made.spec.rounds, made.spec.beam, made.spec.proposals) == (3, 2, 4)
    assert made.images_per_round == 2 * 4 * 2


def test_the_artists_picks_need_no_picture_nor_words():
    made = RefineForm.read({"prompt": "a shape", "target_kind": "picks"}, Image.new("RGB", (8, 8)))
    assert (made.target_kind, made.target_text, made.target_image) == ("picks", "", None)
    alone = RefineForm.read({"prompt": "a shape", "picks": "r1.2; ; r3.1, r2.4"})
    assert alone.target_kind == "picks" and alone.picks == (("r1.2",), (), ("r3.1", "r2.4"))
    assert [alone.picks_after(i) for i in range(5)] == [(), ("r1.2",), (), ("r3.1", "r2.4"), ()]
    assert form(picks="r1.1").target_kind == "text"  # picks replayed on a scored run


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"prompt": ""}, "Give a start prompt"),
        ({"target_kind": "score"}, "one of image, text, picks, not 'score'"),
        ({"picks": "r1.2; the red one"}, "such as r1.2, not 'the red one'"),
        ({"target_text": ""}, "Describe the target in words"),
        ({"target_kind": "image"}, "Choose a target picture"),
        ({"rounds": "many"}, "Rounds must be a whole number"),
        ({"rounds": 0}, "1 to 20 rounds"),
        ({"beam": 9}, "beam keeps 1 to 8"),
        ({"width": 100}, "not a multiple of 8"),
        ({"seeds": "1, x"}, "Seed .x. is not a whole number"),
    ],
)
def test_bad_values_are_one_sentence(values, message):
    with pytest.raises(FormError, match=message) as caught:
        form(**values)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rounds": 4}, "At most 3 rounds"),
        ({"beam": 3}, "At most 2 variants in the beam"),
        ({"proposals": 5}, "At most 4 proposals"),
        ({"seeds": "1,2,3,4,5"}, "at most 32 are allowed"),  # 2 x 4 x 5 = 40 images a round
        ({"model": "runwayml/stable-diffusion-v1-5"}, "offers these models only"),
    ],
)
def test_a_public_app_bounds_the_run_before_any_work(engine, values, message):
    public = HostedEngine(engine, PUBLIC)
    with pytest.raises((FormError, InvalidRequestError), match=message):
        check(public, form(**values))
    check(HostedEngine(engine), form(**values))  # a local app runs it


def test_only_pictures_are_read(tmp_path):
    (tmp_path / "a.png").write_text("not a picture")
    Image.new("RGB", (8, 8)).save(tmp_path / "b.gif")
    Image.new("RGB", (8, 8), "red").save(tmp_path / "c.webp", lossless=True)
    for name, message in (("a.png", "not a picture"), ("b.gif", "Only PNG, JPEG and WebP")):
        with pytest.raises(ImageInputError, match=message) as caught:
            open_picture(tmp_path / name)
        assert str(tmp_path) not in str(caught.value)
    assert open_picture(tmp_path / "c.webp").getpixel((0, 0)) == (255, 0, 0)
