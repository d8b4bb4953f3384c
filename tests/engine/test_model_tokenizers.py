"""The token budget's encoders for the model in the Model box, from its tokenizers alone."""

import copy
import json

from engine.demo_flow_models import FLUX_CONFIGS, build_flux_pipeline
from engine.model_tokenizers import model_encoders
from engine.t5_tokenizer import load_t5_tokenizer
from prompts.encoder_budgets import encoder_budgets


def names(found):
    return [(spec.name, spec.role, spec.limit) for spec in found.encoders]


def test_each_built_in_model_names_its_own_encoders(models_dir):
    assert names(model_encoders("demo", models_dir)) == [("CLIP", "chunks", None)]
    sd3 = model_encoders("demo-sd3", models_dir)
    assert sd3.kind == "sd3" and sd3.exact
    assert names(sd3) == [
        ("CLIP-L", "chunks", None),
        ("CLIP-G", "chunks", None),
        ("T5", "sequence", 256),
    ]
    assert sd3.encoders[1].tokenizer.pad_token == "!"  # read from the model's own files
    flux = model_encoders("demo-flux", models_dir, max_sequence_length=128)
    assert names(flux) == [("CLIP-L", "pooled", None), ("T5", "sequence", 128)]
    prompt = "a (red:1.3) fox BREAK in deep snow"
    t5 = encoder_budgets(prompt, flux.encoders)[1]
    assert t5.token_count == len(load_t5_tokenizer()("a red fox in deep snow").input_ids) - 1


def test_a_schnell_folder_reads_256_t5_tokens(tmp_path, models_dir):
    configs = copy.deepcopy(FLUX_CONFIGS)
    configs["transformer"]["guidance_embeds"] = False
    folder = tmp_path / "my-flux-schnell"
    build_flux_pipeline(configs).save_pretrained(folder)
    assert (
        json.loads((folder / "transformer" / "config.json").read_text())["guidance_embeds"] is False
    )
    found = model_encoders(str(folder), models_dir)
    assert found.kind == "flux" and names(found)[1] == ("T5", "sequence", 256)


def test_models_not_at_hand_get_stand_ins_that_say_so(models_dir, tmp_path):
    dev = model_encoders("black-forest-labs/FLUX.1-dev", models_dir)  # not in the cache
    assert not dev.exact and dev.kind == "flux"
    assert names(dev) == [("CLIP-L", "pooled", None), ("T5", "sequence", 512)]
    large = model_encoders("stabilityai/stable-diffusion-3.5-large", models_dir)
    assert large.kind == "sd3" and [s.name for s in large.encoders] == ["CLIP-L", "CLIP-G", "T5"]
    checkpoint = tmp_path / "dreamshaper_8.safetensors"
    checkpoint.write_bytes(b"\0" * 16)
    plain = model_encoders(str(checkpoint), models_dir)
    assert not plain.exact and names(plain) == [("CLIP", "chunks", None)]
    assert names(model_encoders("", models_dir)) == [("CLIP", "chunks", None)]
