"""Textual-inversion embeddings named by file name, as A1111 uses them."""

import numpy as np
import pytest
import torch

from engine.errors import InvalidRequestError
from engine.request import GenerationRequest

SMALL = {"width": 64, "height": 64, "steps": 2, "seed": 5}


def pixels(result) -> np.ndarray:
    return np.asarray(result.images[0], dtype=np.int16)


@pytest.fixture(scope="module")
def engines(models_dir, tmp_path_factory):
    """Two engines of their own: one with embeddings/toystyle.safetensors, one without."""
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig

    from engine.demo_model import ensure_demo_model
    from engine.generate import Engine
    from engine.loading import ModelManager

    folder = tmp_path_factory.mktemp("embeddings")
    config = CLIPTextConfig.from_pretrained(ensure_demo_model(models_dir) / "text_encoder")
    torch.manual_seed(3)
    save_file(
        {"emb_params": torch.randn(1, config.hidden_size) * 2}, folder / "toystyle.safetensors"
    )
    with_file = Engine(ModelManager(models_dir), embeddings_dir=folder)
    without = Engine(ModelManager(models_dir))
    return with_file, without


def test_an_embedding_is_the_word_of_its_file_name(engines):
    with_file, without = engines
    named = with_file.generate(GenerationRequest("a fox, toystyle", **SMALL))
    plain = without.generate(GenerationRequest("a fox, toystyle", **SMALL))
    assert np.abs(pixels(named) - pixels(plain)).max() > 10
    other = with_file.generate(GenerationRequest("a fox, snow", **SMALL))
    reference = without.generate(GenerationRequest("a fox, snow", **SMALL))
    assert np.abs(pixels(other) - pixels(reference)).max() <= 1  # not named: no effect
    assert "toystyle" in with_file.models.get("demo").pipeline.tokenizer.get_vocab()


def test_a_word_that_only_contains_the_name_does_not_load_it(engines, tmp_path):
    from engine.embeddings import EmbeddingFolder

    folder = EmbeddingFolder(tmp_path)
    (tmp_path / "toy.pt").write_bytes(b"")

    class Pipe:
        pass

    assert folder.load_named(Pipe(), "sd1", ["toystyle, toy-box"]) == []
    with pytest.raises(InvalidRequestError, match="works with SD 1"):
        folder.load_named(Pipe(), "sdxl", ["a toy"])
