"""The shipped sketch folder as a Space takes it: the CLIP in shards that hold the very weights
of the single-file release, and a tokenizer from `vocab.json` and `merges.txt` that tokenizes
as the app's own."""

from __future__ import annotations

import hashlib
import json

import torch
from safetensors import safe_open
from transformers import CLIPModel, CLIPTextModel, CLIPTokenizer, CLIPTokenizerFast

from engine.sketch import sketch_model_dir, text_encoder_clip_path
from engine.tokenizer import load_clip_tokenizer

# sha256 over the names, dtypes and bytes of every tensor of `text_encoder/model.safetensors`
# as released before it was sharded
CLIP_WEIGHTS = "01570ea4649a1bd67d3333692fa80fb4d6deaf4976d10d9dbac9f6d78b6b97da"


def weights_digest(files) -> str:
    tensors = {}
    for path in files:
        with safe_open(path, "pt") as handle:
            tensors.update({key: handle.get_tensor(key) for key in handle.keys()})  # noqa: SIM118
    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key]
        digest.update(key.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def test_the_clip_shards_hold_the_released_weights():
    folder = text_encoder_clip_path()
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) == 2 and not (folder / "model.safetensors").exists()
    assert weights_digest(folder / name for name in shards) == CLIP_WEIGHTS


def test_the_sharded_clip_loads_whole_and_as_the_text_encoder():
    folder = text_encoder_clip_path()
    clip = CLIPModel.from_pretrained(folder, dtype=torch.float16)
    text = CLIPTextModel.from_pretrained(folder, dtype=torch.float16)
    with safe_open(folder / "model-00001-of-00002.safetensors", "pt") as handle:
        table = handle.get_tensor("text_model.embeddings.token_embedding.weight")
    assert torch.equal(clip.text_model.embeddings.token_embedding.weight, table)
    assert torch.equal(text.get_input_embeddings().weight, table)


def test_the_tokenizer_folder_tokenizes_as_the_app_does():
    folder = sketch_model_dir() / "tokenizer"
    files = {p.name for p in folder.iterdir()}
    assert files == {"vocab.json", "merges.txt", "tokenizer_config.json"}  # no tokenizer.json
    ours = load_clip_tokenizer()
    texts = [
        "a photo of an astronaut riding a horse",
        "a (red:1.4) (blue:0.7) circle, BREAK night, 8k, masterpiece",
        "héllo wörld 日本語 🙂 don't  <|endoftext|> A1111 x2.5",
    ]
    for cls in (CLIPTokenizer, CLIPTokenizerFast):
        loaded = cls.from_pretrained(folder)
        assert len(loaded) == 49408 and loaded.model_max_length == 77
        assert loaded.pad_token == "<|endoftext|>"
        for text in texts:
            assert loaded(text).input_ids == ours(text).input_ids, (cls, text)
    backend = json.loads(CLIPTokenizer.from_pretrained(folder).backend_tokenizer.to_str())
    reference = json.loads(ours.backend_tokenizer.to_str())
    assert backend["model"]["merges"] == reference["model"]["merges"]  # all 48,894
    assert backend["model"]["vocab"] == reference["model"]["vocab"]
