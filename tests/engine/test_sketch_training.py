"""The sketch model's recipe is step counts, recorded in `assets/models/sketch/args.json`, and
`train all --args` replays its runs in order (here at a tiny scale)."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from diffusers import StableDiffusionPipeline
from transformers import CLIPModel

from engine.sketch import sketch_model_dir
from engine.sketch.checkpoints import Checkpoint
from engine.sketch.export import export_model
from engine.sketch.train import Budget, main, parse_args, training_settings
from tests.test_file_sizes import oversized

SHIPPED_ARGS = sketch_model_dir() / "args.json"
STAGES = ("vae", "clip", "unet", "joint", "weights")


def shipped_runs() -> list[dict]:
    return json.loads(SHIPPED_ARGS.read_text())["runs"]


def test_the_shipped_args_name_every_setting_of_every_run():
    known = set(training_settings(parse_args(["all"])))
    runs = shipped_runs()
    assert len(runs) == 3
    for run in runs:
        assert set(run) == known
        assert all(run[f"{stage}_minutes"] is None for stage in STAGES)  # steps alone decide


def test_the_model_card_gives_the_step_counts_the_args_replay():
    card = (sketch_model_dir() / "README.md").read_text()
    last = shipped_runs()[-1]
    for stage in STAGES:
        row = re.search(rf"^\|[^|\n]*\(`{stage}`\) \| ([\d,]+) \|", card, re.MULTILINE)
        assert row, stage
        assert int(row.group(1).replace(",", "")) == last[f"{stage}_steps"], stage


def tiny(run: dict) -> dict:
    """The same run a thousand times shorter, on 24 scenes in tiny batches; step counts keep
    their order (a switch stays before the end of its stage)."""
    scaled = {
        key: math.ceil(value / 1000)
        for key, value in run.items()
        if key.endswith(("_steps", "_from")) and isinstance(value, int)
    }
    return {**run, **scaled, "scenes": 24, "vae_batch": 2, "clip_batch": 4, "unet_batch": 2}


def test_the_shipped_runs_replay_in_order_and_export_a_folder_a_space_takes(tmp_path):
    runs = [tiny(run) for run in shipped_runs()]
    assert [run["weights_steps"] for run in runs] == [0, 4, 7]  # the phase ran, then resumed
    recipe, work = tmp_path / "args.json", tmp_path / "work"
    recipe.write_text(json.dumps({"runs": runs}))

    main(["all", "--args", str(recipe), "--workdir", str(work), "--threads", "1"])

    for stage in STAGES:
        state = Checkpoint(work, stage).load()
        assert state["step"] == runs[-1][f"{stage}_steps"] and state["done"], stage
    assert json.loads((work / "args.json").read_text())["runs"] == runs  # in order, all three

    folder = export_model(work, tmp_path / "model")
    assert not oversized([p for p in folder.rglob("*") if p.is_file()])
    assert json.loads((folder / "args.json").read_text())["runs"] == runs
    assert (folder / "text_encoder" / "model.safetensors.index.json").is_file()
    assert {p.name for p in (folder / "tokenizer").iterdir()} == {
        "vocab.json", "merges.txt", "tokenizer_config.json"}  # fmt: skip
    pipe = StableDiffusionPipeline.from_pretrained(folder, dtype=torch.float32)
    image = pipe("a red circle", num_inference_steps=1, height=64, width=64, output_type="np")
    assert image.images[0].shape == (64, 64, 3)
    clip = CLIPModel.from_pretrained(folder / "text_encoder", dtype=torch.float32)
    assert torch.equal(clip.text_model.embeddings.token_embedding.weight,
                       pipe.text_encoder.get_input_embeddings().weight)  # fmt: skip


def test_a_replay_takes_its_settings_from_the_file_only(tmp_path, capsys):
    recipe = tmp_path / "args.json"
    recipe.write_text(json.dumps({"runs": [tiny(shipped_runs()[0])]}))
    with pytest.raises(SystemExit, match="change unet_steps in the file"):
        main(["all", "--args", str(recipe), "--unet-steps", "5", "--workdir", str(tmp_path)])
    recipe.write_text(json.dumps({"runs": [{"unet_stepz": 5}]}))
    with pytest.raises(SystemExit, match="run 1 has unknown settings: unet_stepz"):
        main(["all", "--args", str(recipe), "--workdir", str(tmp_path)])
    assert not list(tmp_path.glob("*.pt"))  # nothing trained


def test_minutes_only_cap_a_stage_and_steps_set_the_schedule():
    budget = Budget(steps=10)
    assert budget.progress(5) == 0.5 and not budget.over(9) and budget.over(10)
    capped = Budget(steps=10, minutes=0.0)
    assert capped.over(0) and capped.progress(5) == 0.5
