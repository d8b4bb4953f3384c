"""Interrogation: the real sketch CLIP reads world-rendered pictures back into Builder recipes."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from engine.clip_score import TINY_CLIP, ClipChoice, clip_scorer, find_clip
from engine.interrogate import Interrogator
from engine.sketch.vocabulary import knows
from engine.sketch.world import (
    COLOURS,
    LIGHTING_WORDS,
    POSITION_WORDS,
    SHAPES,
    STYLE_WORDS,
    Scene,
    render_scene,
)
from prompts.facets import load_facets
from prompts.styles import load_builtin_styles

# Scenes no training combination held (engine.sketch.train: 24,000 scenes from seed 1234).
CASES = [
    Scene("star", "yellow", "large", "left", "night", "flat"),
    Scene("square", "blue", "medium", "right", "golden hour", "flat"),
    Scene("heart", "green", "large", "top", "overcast", "pixel art"),
    Scene("cross", "pink", "large", "bottom", "neon", "flat"),
    Scene("triangle", "orange", "medium", "centre", "midday sun", "watercolor"),
    Scene("ring", "white", "large", "centre", "studio lighting", "flat"),
]
LIGHTING_OF = {w: k for k, words in LIGHTING_WORDS.items() for w in (k, *words)}
POSITION_OF = {w: k for k, words in POSITION_WORDS.items() for w in (k, *words)}


@pytest.fixture(scope="module")
def interrogator(tmp_path_factory):
    assert find_clip().name == "sketch CLIP"  # offline: the shipped one
    return Interrogator(cache_dir=tmp_path_factory.mktemp("clip-cache"))


@pytest.fixture(scope="module")
def readings(interrogator):
    images = [Image.fromarray(render_scene(scene, 4242 + i)) for i, scene in enumerate(CASES)]
    return interrogator.interrogate_many(images)


def test_the_sketch_worlds_words_are_reachable_from_the_facets():
    """Every colour, shape, lighting, position and style the sketch model draws can be named
    with a term of the facet that holds it (the world's own word or one of its synonyms)."""
    facets = load_facets(load_builtin_styles())
    terms = {f.name: {t.casefold() for t in f.terms} for f in facets}
    assert set(COLOURS) <= terms["subject.colour"]
    assert set(SHAPES) <= terms["subject.thing"]
    for lighting, words in LIGHTING_WORDS.items():
        assert terms["lighting"] & {lighting, *words}, lighting
    for position, words in POSITION_WORDS.items():
        assert terms["composition"] & {position, *words}, position
    styles = terms["medium"] | terms["styles"]
    for style, words in STYLE_WORDS.items():
        assert styles & {style, *words}, style


def test_the_sketch_clip_reads_colour_lighting_and_position(readings):
    for scene, reading in zip(CASES, readings, strict=True):
        chosen = {r.facet: r.chosen for r in reading.readings}
        assert chosen["subject.colour"] == scene.colour, reading.prompt
        assert LIGHTING_OF[chosen["lighting"]] == scene.lighting, reading.prompt
        assert POSITION_OF.get(chosen.get("composition")) == scene.position, reading.prompt
        assert reading.recipe.subject.startswith(("a ", "an "))
        assert reading.clip_name == "sketch CLIP" and reading.meaningful


def test_the_sketch_clip_names_every_shape_and_style(interrogator):
    """The scoring CLIP's 128 px ResNet sees shape and style (the text encoder's 64 px tower
    named 8 of these 22 shapes)."""
    scenes = [
        Scene(shape, "yellow", "large", "centre", lighting, "flat")
        for lighting in ("night", "golden hour")
        for shape in SHAPES
    ]
    scenes += [
        Scene(shape, colour, "large", "left", "overcast", style)
        for style in STYLE_WORDS
        for shape, colour in (("star", "red"), ("house", "blue"), ("heart", "green"))
    ]
    out = interrogator.interrogate_many([Image.fromarray(render_scene(s, 3)) for s in scenes])
    pairs = list(zip(scenes, out, strict=True))
    shapes = sum(o.reading("subject.thing").chosen == s.shape for s, o in pairs)
    assert shapes >= len(scenes) - 2, shapes
    styles = sum(style_named(o) == s.style for s, o in pairs[22:])
    assert styles >= 10, styles  # of 12


def style_named(reading) -> str | None:
    """The world's style a reading names: its medium, else its Builder style."""
    words = {w: k for k, ws in STYLE_WORDS.items() for w in (k, *ws, "vector illustration")}
    builder = {"Flat Vector": "flat", "Pixel Art": "pixel art", "Watercolor": "watercolor",
               "Line Art": "line art"}  # fmt: skip
    medium = next((words.get(t) for t in reading.recipe.medium if t in words), None)
    return medium or next((builder[s] for s in reading.recipe.styles if s in builder), None)


def test_nothing_outside_the_subject_is_said_twice(interrogator, readings):
    """A style template that says "line art" gets no medium "line art" (nor a runner-up
    beside it): each chosen term outside the subject is one the rest of the prompt lacks."""
    from prompts.recipe_terms import says

    for reading in readings:
        chosen = {r.facet: r.chosen for r in reading.readings if r.chosen is not None}
        for facet, term in chosen.items():
            if facet.startswith("subject."):
                continue
            rest = interrogator.compose(
                interrogator.recipe_of({k: v for k, v in chosen.items() if k != facet})
            )
            assert not says(rest, term), (facet, term, reading.prompt)


def test_says_matches_whole_words_in_order():
    from prompts.recipe_terms import says

    assert says("clean line art of a red star, uniform black outlines", "Line Art")
    assert not says("clean line art of a red star", "art line")
    assert not says("a starry night", "star") and not says("anything", "")


def test_the_sketch_clip_keeps_to_words_it_was_trained_on(readings):
    for reading in readings:
        for facet in reading.readings:
            assert all(knows(term.term) or facet.field == "styles" for term in facet.ranked)
        assert not any(r.facet in ("mood", "camera") for r in reading.readings)


def test_the_json_names_the_clip_its_certainty_and_each_terms_score(readings):
    data = json.loads(json.dumps(readings[0].to_dict()))
    assert data["clip"] == "sketch CLIP" and data["meaningful"] is True
    assert 0 < data["confidence"] <= 1
    assert data["recipe"]["subject"] == readings[0].recipe.subject
    colour = data["fields"]["subject.colour"]
    assert colour["chosen"] == "yellow"
    assert colour["terms"][0]["term"] == "yellow"
    assert colour["terms"][0]["score"] > colour["terms"][1]["score"]
    assert abs(sum(readings[0].probabilities["subject.colour"].values()) - 1) < 1e-5


def test_the_guide_favours_what_the_picture_shows_and_skips_unknown_words(readings):
    guide = readings[0].guide()
    assert guide.term_weight("subject.colour", "yellow") > 10 * guide.term_weight(
        "subject.colour", "blue"
    )
    assert guide.term_weight("lighting", "hard shadows") == 0.0  # not a sketch-world word
    assert guide.facet_weight("mood") == 0.0


def test_the_guide_is_sure_of_exactly_the_terms_the_reading_chose(interrogator, readings):
    """Refinement keeps what the guide is sure of: that must be the reading, not a term of a
    facet the reading left out (a "Watercolor" style beside the medium "watercolor")."""
    from prompts.recipe_operators import favourite, is_sure_of

    left_out = 0
    for reading in readings:
        guide = reading.guide()
        for field in reading.readings:
            facet = next(f for f in interrogator.facets if f.name == field.facet)
            best = favourite(guide, facet)
            if field.chosen is not None:
                assert is_sure_of(guide, facet, field.chosen), (field.facet, field.chosen)
            elif best is not None:
                left_out += 1
                assert not is_sure_of(guide, facet, best[0]), (field.facet, best)
    assert left_out  # the readings did leave facets out


def test_without_a_trained_clip_the_reading_says_it_means_nothing(tmp_path):
    scorer = clip_scorer(ClipChoice(None, TINY_CLIP, False))
    reading = Interrogator(scorer, cache_dir=tmp_path).interrogate(
        Image.fromarray(render_scene(CASES[0]))
    )
    assert reading.clip_name == TINY_CLIP and reading.meaningful is False
    assert reading.recipe.subject  # still a recipe: every word is readable to it
