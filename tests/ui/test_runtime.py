"""The engine as the app builds it: wildcards resolved per image seed, the result recorded."""

import pytest

from engine.errors import InvalidRequestError
from engine.request import GenerationRequest
from ui.runtime import build_engine

SMALL = {"width": 64, "height": 64, "steps": 2}


@pytest.fixture(scope="module")
def app_engine(models_dir, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    (data_dir / "models").symlink_to(models_dir, target_is_directory=True)
    (data_dir / "wildcards").mkdir()
    (data_dir / "wildcards" / "hat.txt").write_text("top hat\nberet\nstraw hat\n")
    return build_engine(data_dir)


def test_wildcards_resolve_from_each_image_seed(app_engine):
    prompt = "a {red|green|blue|golden} fox wearing a __hat__"
    batch = app_engine.generate(GenerationRequest(prompt, seed=100, num_images=4, **SMALL))
    assert all("{" not in p and "__" not in p for p in batch.prompts)
    assert len(set(batch.prompts)) > 1  # four seeds do not all pick the same words
    for seed, resolved in zip(batch.seeds, batch.prompts, strict=True):
        single = app_engine.generate(GenerationRequest(prompt, seed=seed, **SMALL))
        assert single.prompts == [resolved]


def test_an_unknown_wildcard_is_a_clear_error(app_engine):
    with pytest.raises(InvalidRequestError, match="no_such_list"):
        app_engine.generate(GenerationRequest("a __no_such_list__ fox", seed=1, **SMALL))


def test_a_wildcard_list_added_after_start_is_found(app_engine):
    import os

    folder = app_engine.models.models_dir.parent / "wildcards"
    request = GenerationRequest("a __late_list__ fox", seed=1, **SMALL)
    with pytest.raises(InvalidRequestError, match="late_list"):
        app_engine.generate(request)
    (folder / "late_list.txt").write_text("golden\n")
    os.utime(folder, ns=(0, 1))  # a coarse clock must not hide the change either
    assert app_engine.generate(request).prompts == ["a golden fox"]
