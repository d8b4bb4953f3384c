"""The model manager keeps one pipeline; switching frees it. Device failures become sentences."""

import gc
import weakref

import pytest
import torch

from engine.errors import OutOfMemoryError
from engine.generate import Engine
from engine.loading import ModelManager
from engine.request import GenerationRequest
from engine.single_file import ensure_demo_checkpoint


def test_the_same_model_is_loaded_once_and_switching_frees_the_old_one(models_dir):
    manager = ModelManager(models_dir)
    first = manager.get("demo")
    assert manager.get("demo") is first
    old = weakref.ref(first.pipeline)
    del first
    switched = manager.get(str(ensure_demo_checkpoint(models_dir)))
    gc.collect()
    assert old() is None
    assert manager.current is switched and switched.ref.source == "single_file"


def test_out_of_memory_is_one_clear_sentence_and_the_engine_recovers(models_dir, monkeypatch):
    engine = Engine(ModelManager(models_dir))
    pipe = engine.models.get("demo").pipeline
    real_call = type(pipe).__call__

    def exhausted(self, *args, **kwargs):
        # No GPU can be reached here: raise what CUDA raises when memory runs out.
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(type(pipe), "__call__", exhausted)
    request = GenerationRequest("a fox", seed=1, width=1024, height=1024, steps=2, num_images=4)
    with pytest.raises(OutOfMemoryError, match=r"Out of memory at 1024x1024 with 4 image"):
        engine.generate(request)
    monkeypatch.setattr(type(pipe), "__call__", real_call)
    small = GenerationRequest("a fox", seed=1, width=64, height=64, steps=2)
    assert engine.generate(small).images
