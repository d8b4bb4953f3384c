"""The sketch world's scoring CLIP (`assets/models/sketch/clip`): its small vocabulary tokenizes
the world's captions as the whole CLIP tokenizer does, its training runs, resumes and exports
a loadable CLIP, and the shipped one tells every attribute of a picture apart."""

from __future__ import annotations

import random

import pytest
import torch
from PIL import Image
from transformers import CLIPModel, CLIPTokenizer

from engine.clip_score import SKETCH_CLIP, ClipChoice, ClipScorer, find_clip
from engine.sketch import clip_path, text_encoder_clip_path
from engine.sketch.checkpoints import Checkpoint
from engine.sketch.scorer_model import SCORER_IMAGE_SIZE, load_scoring_clip
from engine.sketch.scorer_training import (
    ATTRIBUTES,
    TOKEN_TABLE,
    build_parser,
    contrast_group,
    export_scorer,
    train,
    trained_scorer,
)
from engine.sketch.scorer_vocabulary import reduced_vocabulary
from engine.sketch.world import Scene, full_caption, render_scene, sample_scene, write_caption
from engine.tokenizer import load_clip_tokenizer
from prompts.facets import load_facets
from prompts.styles import load_builtin_styles


@pytest.fixture(scope="module")
def small_tokenizer(tmp_path_factory) -> CLIPTokenizer:
    folder = tmp_path_factory.mktemp("tokenizer")
    reduced_vocabulary().save_tokenizer(folder)
    return CLIPTokenizer.from_pretrained(folder)


def test_the_world_vocabulary_tokenizes_captions_as_the_whole_tokenizer(small_tokenizer):
    words, full = reduced_vocabulary(), load_clip_tokenizer()
    assert len(set(words.tokens)) == len(words.tokens) < 1000
    rng = random.Random(7)
    captions = [write_caption(sample_scene(rng), rng) for _ in range(1500)]
    from engine.sketch.vocabulary import knows

    facets = load_facets(load_builtin_styles())
    captions += [term for f in facets for term in f.texts if knows(term)]
    for caption in captions:
        mapped = [words.full_ids[i] for i in small_tokenizer(caption).input_ids]
        assert mapped == full(caption).input_ids, caption


def test_other_words_fall_apart_into_pieces_it_has(small_tokenizer):
    ids = small_tokenizer("an astronaut, héllo 🙂").input_ids
    tokens = small_tokenizer.convert_ids_to_tokens(ids)
    assert tokens[0] == "<|startoftext|>" and tokens[-1] == "<|endoftext|>"
    assert "<|endoftext|>" not in tokens[1:-1]  # nothing is unknown
    assert small_tokenizer.decode(ids, skip_special_tokens=True) == "an astronaut , héllo 🙂"


def test_contrast_groups_differ_from_their_scene_in_one_attribute_each():
    group = contrast_group(random.Random(3))
    base, variants = group[0], group[1:]
    assert len(variants) == len(ATTRIBUTES)
    for attribute, variant in zip(ATTRIBUTES, variants, strict=True):
        changed = [k for k in ATTRIBUTES if getattr(variant, k) != getattr(base, k)]
        assert changed == [attribute]


def test_training_resumes_and_exports_a_clip_with_the_world_vocabulary(tmp_path):
    work, out = tmp_path / "work", tmp_path / "clip"
    flags = ["train", "--workdir", str(work), "--out", str(out), "--groups", "1", "--loose",
             "2", "--tokens", "32", "--threads", "1"]  # fmt: skip
    train(build_parser().parse_args([*flags, "--steps", "2"]))
    assert Checkpoint(work, "scorer").load()["step"] == 2
    train(build_parser().parse_args([*flags, "--steps", "3"]))
    assert Checkpoint(work, "scorer").load()["step"] == 3
    export_scorer(work, out)

    loaded = load_scoring_clip(out).eval()
    assert loaded.config.vision_config.image_size == SCORER_IMAGE_SIZE == 128
    assert ClipScorer(ClipChoice(out, SKETCH_CLIP, True)).image_size == 128
    assert (out / "training.json").is_file() and (out / "vocab.json").is_file()
    words = reduced_vocabulary()
    start = CLIPModel.from_pretrained(text_encoder_clip_path(), dtype=torch.float32)
    table = start.text_model.embeddings.token_embedding.weight[list(words.full_ids)]
    assert torch.equal(loaded.text_model.embeddings.token_embedding.weight, table)
    # the exported CLIP reads a caption as the trained one (whole table) does, to fp16
    trained = trained_scorer(work)
    assert torch.equal(trained.state_dict()[TOKEN_TABLE], start.state_dict()[TOKEN_TABLE])
    caption = "pixel art of a small red star, on the left, moonlight, masterpiece"
    small_ids = CLIPTokenizer.from_pretrained(out)([caption], return_tensors="pt").input_ids
    full_ids = load_clip_tokenizer()([caption], return_tensors="pt").input_ids
    with torch.no_grad():
        ours = loaded.get_text_features(input_ids=small_ids)
        theirs = trained.get_text_features(input_ids=full_ids)
    assert torch.allclose(_tensor(ours), _tensor(theirs), atol=2e-2)


def _tensor(features) -> torch.Tensor:
    return features if isinstance(features, torch.Tensor) else features.pooler_output


def attribute_accuracy(scorer: ClipScorer, scenes: list[Scene]) -> dict[str, float]:
    """Per attribute, how often a picture's own caption scores above every caption that
    differs from it in that attribute only."""
    images = [Image.fromarray(render_scene(s, 777 + i)) for i, s in enumerate(scenes)]
    right = dict.fromkeys(ATTRIBUTES, 0)
    for scene, image in zip(scenes, images, strict=True):
        for attribute, values in ATTRIBUTES.items():
            others = [Scene(**{**scene.__dict__, attribute: v}) for v in values]
            scores = scorer.score([image] * len(others), [full_caption(s) for s in others])
            right[attribute] += values[max(range(len(values)), key=scores.__getitem__)] == getattr(
                scene, attribute
            )
    return {k: v / len(scenes) for k, v in right.items()}


@pytest.fixture(scope="module")
def probe_scenes() -> list[Scene]:
    rng = random.Random(20261204)
    return [sample_scene(rng) for _ in range(24)]


def test_the_shipped_scoring_clip_is_found_first_and_tells_every_attribute_apart(probe_scenes):
    choice = find_clip()
    assert choice.folder == clip_path() and clip_path().name == "clip"
    accuracy = attribute_accuracy(ClipScorer(choice), probe_scenes)
    assert min(accuracy.values()) >= 0.9, accuracy


def test_the_text_encoders_clip_could_not_read_shape(probe_scenes):
    """Why the scoring CLIP exists: the text encoder's own CLIP (64 px image tower) does not
    tell shapes apart."""
    scorer = ClipScorer(ClipChoice(text_encoder_clip_path(), SKETCH_CLIP, True))
    assert attribute_accuracy(scorer, probe_scenes)["shape"] <= 0.5
