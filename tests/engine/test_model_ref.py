"""Telling hub ids, folders, checkpoint files, the sketch model and the demo apart, with clear
errors."""

import pytest

from engine.errors import ModelLoadError
from engine.model_ref import resolve_model_ref


def test_demo_and_hub_ids():
    assert resolve_model_ref("demo").source == "demo"
    ref = resolve_model_ref("stabilityai/sd-turbo")
    assert (ref.source, ref.location) == ("hub", "stabilityai/sd-turbo")


def test_sketch_is_the_shipped_folder_and_missing_weights_are_one_sentence(monkeypatch):
    import engine.model_ref

    ref = resolve_model_ref("sketch")
    assert (ref.source, ref.name, ref.is_sketch, ref.is_demo) == ("sketch", "sketch", True, False)
    assert ref.location.endswith("assets/models/sketch")
    monkeypatch.setattr(engine.model_ref, "sketch_model_available", lambda: False)
    with pytest.raises(ModelLoadError, match=r"sketch model's weights are missing"):
        resolve_model_ref("sketch")


def test_folder_needs_a_model_index(tmp_path):
    with pytest.raises(ModelLoadError, match=r"model_index\.json"):
        resolve_model_ref(str(tmp_path))
    (tmp_path / "model_index.json").write_text("{}")
    assert resolve_model_ref(str(tmp_path)).source == "folder"


def test_checkpoint_files_by_suffix(tmp_path):
    checkpoint = tmp_path / "dreamy.safetensors"
    checkpoint.write_bytes(b"x")
    ref = resolve_model_ref(str(checkpoint))
    assert (ref.source, ref.name) == ("single_file", "dreamy")
    other = tmp_path / "notes.txt"
    other.write_text("x")
    with pytest.raises(ModelLoadError, match=r"not a \.safetensors or \.ckpt"):
        resolve_model_ref(str(other))


@pytest.mark.parametrize(
    "text", ["", "./missing-folder", "/nowhere/model.safetensors", "not a model"]
)
def test_unknown_references_say_so(text):
    with pytest.raises(ModelLoadError):
        resolve_model_ref(text)
