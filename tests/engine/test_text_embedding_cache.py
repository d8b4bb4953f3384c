"""Vocabulary text embeddings are cached on disk per CLIP and per vocabulary content."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from engine.clip_score import (
    SKETCH_CLIP,
    TINY_CLIP,
    ClipChoice,
    ClipScorer,
    clip_scorer,
    load_clip_model,
)
from engine.sketch import clip_path
from engine.text_embedding_cache import TextEmbeddingCache, clip_fingerprint

TEXTS = ("night", "golden hour", "neon glow", "soft overcast light")


@pytest.fixture(scope="module")
def sketch():
    return clip_scorer(ClipChoice(clip_path(), SKETCH_CLIP, True))


@pytest.fixture(scope="module")
def tiny():
    return clip_scorer(ClipChoice(None, TINY_CLIP, False))


def test_a_second_cache_on_the_same_folder_reads_the_file_instead_of_the_clip(tmp_path, sketch):
    first = TextEmbeddingCache(tmp_path)
    computed = first.embeddings(sketch, "lighting", TEXTS)
    assert (first.hits, first.misses) == (0, 1)
    assert computed.shape == (len(TEXTS), 64) and computed.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(computed, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(computed, sketch.text_embeddings(list(TEXTS)).numpy(), atol=1e-6)

    second = TextEmbeddingCache(tmp_path)
    calls = []
    original = sketch.text_embeddings
    sketch.text_embeddings = lambda texts, **kw: calls.append(texts) or original(texts, **kw)
    try:
        again = second.embeddings(sketch, "lighting", TEXTS)
    finally:
        del sketch.text_embeddings
    assert calls == [] and (second.hits, second.misses) == (1, 0)
    np.testing.assert_array_equal(again, computed)
    assert len(list(tmp_path.rglob("*.npz"))) == 1


def test_another_vocabulary_or_order_misses(tmp_path, sketch):
    cache = TextEmbeddingCache(tmp_path)
    cache.embeddings(sketch, "lighting", TEXTS)
    cache.embeddings(sketch, "lighting", (*TEXTS, "moonlight"))  # a term added
    cache.embeddings(sketch, "lighting", TEXTS[::-1])  # reordered
    cache.embeddings(sketch, "composition", TEXTS)  # another facet
    assert (cache.hits, cache.misses) == (0, 4)
    assert len(list(tmp_path.rglob("*.npz"))) == 4
    cache.embeddings(sketch, "lighting", TEXTS)
    assert cache.hits == 1


def test_another_clip_misses_even_with_the_same_vocabulary(tmp_path, sketch, tiny):
    cache = TextEmbeddingCache(tmp_path)
    ours = cache.embeddings(sketch, "lighting", TEXTS)
    theirs = cache.embeddings(tiny, "lighting", TEXTS)
    assert cache.misses == 2 and ours.shape[1] != theirs.shape[1]
    assert {p.parent.name for p in tmp_path.rglob("*.npz")} == {
        clip_fingerprint(sketch.choice),
        clip_fingerprint(tiny.choice),
    }


def test_a_retrained_copy_of_a_clip_has_another_fingerprint_and_misses(tmp_path, sketch):
    copy = tmp_path / "copy"
    shutil.copytree(clip_path(), copy)
    same = ClipChoice(copy, SKETCH_CLIP, True)
    assert clip_fingerprint(same) == clip_fingerprint(sketch.choice)  # same bytes, same CLIP
    model = load_clip_model(copy)
    with torch.no_grad():
        model.text_projection.weight.mul_(1.01)
    model.save_pretrained(copy)
    retrained = ClipScorer(ClipChoice(copy, SKETCH_CLIP, True))
    assert clip_fingerprint(retrained.choice) != clip_fingerprint(sketch.choice)
    cache = TextEmbeddingCache(tmp_path / "cache")
    cache.embeddings(sketch, "lighting", TEXTS)
    cache.embeddings(retrained, "lighting", TEXTS)
    assert (cache.hits, cache.misses) == (0, 2)


def test_a_damaged_or_foreign_file_is_a_miss_and_is_written_again(tmp_path, sketch):
    cache = TextEmbeddingCache(tmp_path)
    good = cache.embeddings(sketch, "lighting", TEXTS)
    (path,) = tmp_path.rglob("*.npz")
    path.write_bytes(b"not an npz file")
    fresh = TextEmbeddingCache(tmp_path)
    np.testing.assert_allclose(fresh.embeddings(sketch, "lighting", TEXTS), good, atol=1e-6)
    assert fresh.misses == 1
    assert TextEmbeddingCache(tmp_path).embeddings(sketch, "lighting", TEXTS).shape == good.shape


def test_without_a_folder_the_cache_lives_in_memory(sketch):
    cache = TextEmbeddingCache(None)
    cache.embeddings(sketch, "lighting", TEXTS)
    cache.embeddings(sketch, "lighting", TEXTS)
    assert (cache.hits, cache.misses) == (1, 1) and cache.path(sketch, "x") is None
