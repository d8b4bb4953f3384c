"""The page's readers as plain functions: a gallery image (the Gallery's detail, a Compare
cell) read into a recipe and sent to the Builder; summaries escape what they show."""

from __future__ import annotations

import gradio as gr
import pytest
from PIL import Image

from engine.sketch.world import Scene, render_scene
from ui.builder.handlers import RECIPE_FIELDS
from ui.refine import handlers as h


@pytest.fixture(scope="module")
def interrogator(tmp_path_factory):
    from engine.interrogate import Interrogator

    return Interrogator(cache_dir=tmp_path_factory.mktemp("clip-cache"))


@pytest.fixture(scope="module")
def imported(local_gallery, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    scene = Scene("square", "green", "large", "left", "midday sun", "flat")
    Image.fromarray(render_scene(scene)).save(folder / "green.png")
    report = local_gallery.import_folder(folder, recursive=False)
    return report.imported[0]


def test_a_gallery_image_is_read_and_sent_to_the_builder(local_gallery, interrogator, imported):
    summary, recipe, rows = h.read_generation(local_gallery, interrogator, imported)
    assert "| Colour | green |" in summary and "sketch CLIP" in summary
    record = local_gallery.get(imported)
    read_prompt = rows[1][1]
    assert h.rows_to_compare(rows) == [[f"#{imported}", record.prompt], ["read back", read_prompt]]
    assert "green" in read_prompt
    values = h.recipe_to_builder(recipe)
    assert len(values) == len(RECIPE_FIELDS)
    fields = dict(zip(RECIPE_FIELDS, values, strict=True))
    assert "green" in fields["subject"] and fields["composition"] == ["on the left"]


def test_reading_nothing_or_a_gone_image_is_one_sentence(local_gallery, interrogator):
    with pytest.raises(gr.Error, match="Choose an image first"):
        h.read_generation(local_gallery, interrogator, None)
    with pytest.raises(gr.Error, match="There is no generation 999999"):
        h.read_generation(local_gallery, interrogator, 999_999)
    with pytest.raises(gr.Error, match="Read a picture first"):
        h.recipe_to_builder(None)
    with pytest.raises(gr.Error, match="Read a picture first"):
        h.rows_to_compare(None)


def test_the_upload_fills_every_builder_field(interrogator, tmp_path):
    path = tmp_path / "red.png"
    Image.fromarray(render_scene(Scene("circle", "red", "small", "top", "night", "flat"))).save(
        path
    )
    *values, summary = h.read_upload(interrogator, str(path))
    assert len(values) == len(RECIPE_FIELDS) and "red" in values[0]
    assert "| Colour | red |" in summary
    with pytest.raises(gr.Error, match="Choose a picture"):
        h.read_upload(interrogator, None)
