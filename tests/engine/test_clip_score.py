"""CLIP scores: a CLIP folder is used when present, else a tiny random CLIP marked meaningless."""

from __future__ import annotations

import pytest
from PIL import Image

from engine.clip_score import TINY_CLIP, ClipChoice, ClipScorer, _tiny_clip, find_clip

IMAGES = [Image.new("RGB", (64, 64), "red"), Image.new("RGB", (96, 64), "blue")]
TEXTS = ["a (red:1.3) circle", "a blue circle"]


def test_without_any_clip_the_tiny_random_one_runs_and_is_not_meaningful(tmp_path):
    choice = find_clip(sketch_folders=[tmp_path / "nothing"])
    assert choice == ClipChoice(None, TINY_CLIP, False)
    scores = ClipScorer(choice).score(IMAGES, TEXTS)
    assert len(scores) == 2 and all(-100 <= s <= 100 for s in scores)
    assert ClipScorer(choice).score(IMAGES, TEXTS) == scores  # seeded: the same every time


def test_a_clip_folder_is_found_and_scored_with(tmp_path):
    folder = tmp_path / "sketch" / "clip"
    _tiny_clip().save_pretrained(folder)
    choice = find_clip(sketch_folders=[folder])
    assert choice.folder == folder and choice.meaningful
    from_folder = ClipScorer(choice).score(IMAGES, TEXTS)
    tiny = ClipScorer(ClipChoice(None, TINY_CLIP, False)).score(IMAGES, TEXTS)
    assert from_folder == pytest.approx(tiny, abs=1e-3)  # same weights, loaded from disk
    # and the score depends on the text: the same image scores differently per caption
    scorer = ClipScorer(choice)
    assert scorer.score(IMAGES[:1], ["a red circle"]) != scorer.score(IMAGES[:1], ["night sky"])


def test_without_a_real_clip_the_shipped_sketch_clip_scores_and_means_something():
    from engine.sketch import clip_path
    from engine.sketch.world import Scene, full_caption, render_scene

    choice = find_clip()  # offline, no real CLIP cached: the sketch model's own CLIP
    assert choice.folder == clip_path() and choice.meaningful and choice.name == "sketch CLIP"
    scene = Scene("circle", "red", "large", "centre", "night", "flat")
    image = Image.fromarray(render_scene(scene))
    other = full_caption(Scene("circle", "blue", "large", "centre", "golden hour", "flat"))
    right, wrong = ClipScorer(choice).score([image, image], [full_caption(scene), other])
    assert right > wrong


def test_image_similarity_sees_what_and_where():
    from engine.sketch.world import Scene, render_scene

    scorer = ClipScorer(find_clip())
    scene = Scene("star", "red", "large", "left", "night", "flat")
    target = Image.fromarray(render_scene(scene, 1))
    moved, recoloured, same = (
        Image.fromarray(render_scene(Scene(**{**scene.__dict__, **change}), 2))
        for change in ({"position": "right"}, {"colour": "blue"}, {})
    )
    assert scorer.image_similarity([target], target) == [100.0]
    near, far_place, far_colour = scorer.image_similarity([same, moved, recoloured], target)
    assert near > far_place and near > far_colour
