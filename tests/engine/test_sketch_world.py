"""The sketch world: seeded scenes and captions, Builder words, and a checker that reads it back."""

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np

from engine.sketch.checker import read_lighting, read_scene
from engine.sketch.world import (
    COLOURS,
    IGNORED_WORDS,
    LIGHTING,
    LIGHTING_WORDS,
    Scene,
    full_caption,
    render_scene,
    sample_scene,
    write_caption,
)

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def builder_terms() -> set[str]:
    terms = set()
    for path in (ASSETS / "vocabularies").glob("*.json"):
        for group in json.loads(path.read_text())["groups"].values():
            terms.update(term.lower() for term in group)
    return terms


def test_same_seed_same_scene_picture_and_caption():
    def draw(seed):
        rng = random.Random(seed)
        scene = sample_scene(rng)
        return scene, render_scene(scene, seed), write_caption(scene, rng)

    first, again, other = draw(7), draw(7), draw(8)
    assert first[0] == again[0] and first[2] == again[2]
    assert np.array_equal(first[1], again[1])
    assert first[0] != other[0] or not np.array_equal(first[1], other[1])


def test_captions_vary_but_always_name_the_shape():
    scene = Scene("star", "blue", "small", "left", "night", "pixel art")
    rng = random.Random(0)
    captions = {write_caption(scene, rng) for _ in range(200)}
    assert len(captions) > 50
    assert all("star" in caption for caption in captions)
    assert full_caption(scene) == "a small blue star, left, night, pixel art"
    words = Counter(word for caption in captions for word in caption.split(", "))
    assert any(term in words for term in IGNORED_WORDS)  # quality words the world ignores


def test_world_words_come_from_the_builder_vocabularies():
    terms = builder_terms()
    for lighting, words in LIGHTING_WORDS.items():
        assert any(word in terms for word in words), lighting
    assert {"pixel art", "watercolor"} <= terms
    assert sum(word in terms for word in IGNORED_WORDS) >= len(IGNORED_WORDS) - 1


def test_every_lighting_word_the_model_knows_is_in_the_lighting_picker():
    lighting = json.loads((ASSETS / "vocabularies" / "lighting.json").read_text())
    picker = {term.lower() for group in lighting["groups"].values() for term in group}
    known = {word for words in LIGHTING_WORDS.values() for word in words} | set(LIGHTING)
    assert sorted(known - picker) == []


def test_checker_reads_rendered_scenes_back():
    rng = random.Random(4242)
    hits, count = Counter(), 150
    for index in range(count):
        scene = sample_scene(rng)
        hits.update(
            k for k, ok in read_scene(render_scene(scene, index)).matches(scene).items() if ok
        )
    assert hits["colour"] / count >= 0.95
    assert hits["lighting"] == count
    assert hits["position"] / count >= 0.95
    assert hits["shape"] / count >= 0.88


def test_checker_notices_a_wrong_picture():
    scene = Scene("circle", "red", "large", "right", "night", "flat")
    picture = render_scene(scene)
    assert read_scene(picture).matches(scene) == dict.fromkeys(
        ["colour", "lighting", "position", "shape", "size"], True
    )
    recoloured = picture.copy()
    recoloured[np.all(picture == COLOURS["red"], axis=2)] = COLOURS["blue"]
    assert read_scene(recoloured).colour == "blue"
    mirrored = picture[:, ::-1]
    assert read_scene(mirrored).position == "left"
    assert (
        read_lighting(render_scene(Scene("circle", "red", "small", "left", "neon", "flat")))
        == "neon"
    )
    blank = np.broadcast_to(np.array(LIGHTING["neon"][0], np.uint8), (128, 128, 3)).copy()
    assert read_scene(blank).colour is None
