"""Settings that belong to a model follow the model box, until the artist changes them."""

from ui.model_settings import follow, followed, settings_for


def test_settings_still_at_the_old_defaults_take_the_new_models():
    sketch = [20, 7.0, 128, 128, "Euler a"]
    assert list(followed(settings_for("sketch"))) == sketch
    # The artist set 30 steps and a height of 200: those stay; the rest follow the demo.
    *settings, applied = follow("demo", sketch, 30, 7, 128, 200, "Euler a")
    assert settings == [30, 7, 256, 200, "Euler a"]
    assert applied == [20, 7.0, 256, 256, "Euler a"]
    # Following the same model again changes nothing (the events may fire twice).
    assert follow("demo", applied, *settings) == (*settings, applied)


def test_a_hub_model_and_a_turbo_model_bring_their_own_settings():
    *settings, _ = follow("stabilityai/sd-turbo", [20, 7.0, 128, 128, "Euler a"],
                          20, 7.0, 128, 128, "Euler a")  # fmt: skip
    assert settings == [1, 0.0, 512, 512, "Euler a"]
    xl = settings_for("stabilityai/stable-diffusion-xl-base-1.0")
    assert (xl.width, xl.height) == (1024, 1024)  # its kind from the suggested list


def test_a_model_folder_is_read_for_its_kind(tmp_path):
    folder = tmp_path / "my-xl"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionXLPipeline"}')
    assert settings_for(str(folder)).width == 1024
    assert settings_for("").width == 512  # nothing typed yet: the plain defaults
