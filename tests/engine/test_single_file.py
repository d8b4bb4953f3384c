"""Single-file checkpoints: the demo model exported to the original LDM layout and loaded back
through diffusers' real `from_single_file`, offline, bit for bit."""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import socket
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from diffusers.loaders.single_file_utils import infer_diffusers_model_type
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from engine.demo_model import demo_model_dir, ensure_demo_model
from engine.errors import ModelLoadError
from engine.single_file import (
    CheckpointConfigUnavailableError,
    CheckpointError,
    demo_checkpoint_path,
    ensure_demo_checkpoint,
    export_ldm_checkpoint,
    file_sha256,
    inspect_checkpoint,
    load_single_file_pipeline,
    short_hash,
)

SD1_REPO_CACHE = "models--stable-diffusion-v1-5--stable-diffusion-v1-5"  # the repo diffusers picks


@pytest.fixture(scope="module", autouse=True)
def hub_unreachable():
    """The hub is unreachable: offline mode on, and any network connection fails loudly."""

    def refuse(*_args, **_kwargs):
        raise OSError("network access attempted in an offline test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        yield


@pytest.fixture(scope="module")
def demo_folder(models_dir: Path) -> Path:
    return ensure_demo_model(models_dir)


@pytest.fixture(scope="module")
def own_models_dir(tmp_path_factory: pytest.TempPathFactory, demo_folder: Path) -> Path:
    """A models folder of our own that reuses the session's built demo model through a link."""
    folder = tmp_path_factory.mktemp("single-file-models")
    (folder / demo_folder.name).symlink_to(demo_folder, target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def demo_safetensors(own_models_dir: Path) -> Path:
    return ensure_demo_checkpoint(own_models_dir)


@pytest.fixture(scope="module")
def demo_ckpt(own_models_dir: Path, demo_folder: Path) -> Path:
    return export_ldm_checkpoint(demo_folder, own_models_dir / "demo.ckpt")


@pytest.fixture(scope="module")
def reference(demo_folder: Path) -> StableDiffusionPipeline:
    return StableDiffusionPipeline.from_pretrained(demo_folder, local_files_only=True)


@pytest.fixture(scope="module", params=["safetensors", "ckpt"])
def from_single_file(request, demo_safetensors, demo_ckpt, demo_folder) -> StableDiffusionPipeline:
    path = demo_safetensors if request.param == "safetensors" else demo_ckpt
    return load_single_file_pipeline(path, demo_folder)


def generate(pipeline: StableDiffusionPipeline) -> np.ndarray:
    generator = torch.Generator().manual_seed(1234)
    return pipeline(
        "a lighthouse at dusk",
        num_inference_steps=2,
        height=64,
        width=64,
        generator=generator,
        output_type="np",
    ).images


def assert_one_sentence(error: BaseException) -> None:
    message = str(error)
    assert "\n" not in message
    assert message.endswith(".")
    assert ". " not in message  # file names have dots, but no sentence ends inside


# --- the exported layout ------------------------------------------------------------------------


def test_export_uses_the_original_ldm_key_layout(demo_safetensors, reference):
    tensors = load_file(demo_safetensors)
    parts = {
        "model.diffusion_model.": reference.unet,
        "first_stage_model.": reference.vae,
        "cond_stage_model.transformer.text_model.": reference.text_encoder,
    }
    for prefix, model in parts.items():
        assert sum(k.startswith(prefix) for k in tensors) == len(model.state_dict())
    assert len(tensors) == sum(len(m.state_dict()) for m in parts.values())

    # Places that only the LDM layout has: samplers counted as layers, decoder blocks numbered
    # from the bottom, 1x1-convolution VAE attention.
    assert tensors["model.diffusion_model.input_blocks.2.0.op.weight"].shape == (32, 32, 3, 3)
    assert tensors["model.diffusion_model.output_blocks.1.1.conv.weight"].shape == (64, 64, 3, 3)
    assert torch.equal(
        tensors["model.diffusion_model.middle_block.1.proj_in.weight"],
        reference.unet.state_dict()["mid_block.attentions.0.proj_in.weight"],
    )
    assert torch.equal(
        tensors["first_stage_model.decoder.up.3.upsample.conv.weight"],
        reference.vae.state_dict()["decoder.up_blocks.0.upsamplers.0.conv.weight"],
    )
    q = tensors["first_stage_model.encoder.mid.attn_1.q.weight"]
    assert q.shape == (16, 16, 1, 1)
    assert torch.equal(
        q[:, :, 0, 0], reference.vae.state_dict()["encoder.mid_block.attentions.0.to_q.weight"]
    )
    assert infer_diffusers_model_type(tensors) == "v1"


def test_ckpt_holds_the_same_tensors_under_state_dict(demo_safetensors, demo_ckpt):
    from_safetensors = load_file(demo_safetensors)
    from_ckpt = torch.load(demo_ckpt, weights_only=True)["state_dict"]
    assert from_ckpt.keys() == from_safetensors.keys()
    assert all(torch.equal(from_ckpt[k], from_safetensors[k]) for k in from_ckpt)


def test_exporting_a_pipeline_or_its_folder_gives_the_same_file(
    tmp_path, demo_safetensors, reference
):
    exported = export_ldm_checkpoint(reference, tmp_path / "from-pipeline.safetensors")
    assert file_sha256(exported) == file_sha256(demo_safetensors)
    assert [p.name for p in tmp_path.iterdir()] == [
        "from-pipeline.safetensors"
    ]  # no temp file left


def test_half_precision_export(tmp_path, demo_folder):
    path = export_ldm_checkpoint(demo_folder, tmp_path / "half.safetensors", dtype=torch.float16)
    with safe_open(str(path), framework="pt") as handle:
        assert {handle.get_slice(k).get_dtype() for k in handle.keys()} == {"F16"}  # noqa: SIM118


def test_the_demo_checkpoint_is_exported_once(own_models_dir, demo_safetensors):
    assert demo_safetensors == demo_checkpoint_path(own_models_dir)
    assert demo_safetensors.name == f"{demo_model_dir(own_models_dir).name}.safetensors"
    written = demo_safetensors.stat().st_mtime_ns
    assert ensure_demo_checkpoint(own_models_dir) == demo_safetensors
    assert demo_safetensors.stat().st_mtime_ns == written


# --- loading back through from_single_file ------------------------------------------------------


def test_every_weight_loads_back_exactly(from_single_file, reference):
    for part in ("unet", "vae", "text_encoder"):
        expected = getattr(reference, part).state_dict()
        loaded = getattr(from_single_file, part).state_dict()
        assert loaded.keys() == expected.keys(), part
        for name, tensor in expected.items():
            assert loaded[name].dtype == tensor.dtype, name
            assert torch.equal(loaded[name], tensor), name
    assert from_single_file.vae.config.scaling_factor == reference.vae.config.scaling_factor
    assert type(from_single_file.scheduler) is type(reference.scheduler)


def test_the_same_seed_paints_the_same_pixels(from_single_file, reference):
    expected = generate(reference)
    assert expected.std() > 0
    np.testing.assert_array_equal(generate(from_single_file), expected)


def test_the_configuration_can_come_from_the_local_hub_cache(
    tmp_path, demo_folder, demo_safetensors, reference
):
    # What diffusers would fetch for an SD 1.x file (configs and tokenizer, no weights), laid out
    # as the hub's cache keeps it.
    commit = "0" * 40
    repo = tmp_path / SD1_REPO_CACHE
    shutil.copytree(
        demo_folder,
        repo / "snapshots" / commit,
        ignore=shutil.ignore_patterns("*.safetensors", "*.bin"),
    )
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)

    pipeline = load_single_file_pipeline(demo_safetensors, cache_dir=tmp_path)
    assert torch.equal(
        pipeline.unet.state_dict()["conv_out.weight"],
        reference.unet.state_dict()["conv_out.weight"],
    )


# --- hashes -------------------------------------------------------------------------------------


def test_hashes_are_the_sha256_of_the_whole_file(demo_safetensors, tmp_path):
    expected = hashlib.sha256(demo_safetensors.read_bytes()).hexdigest()
    assert file_sha256(demo_safetensors) == expected
    assert short_hash(demo_safetensors) == expected[:10]

    odd = tmp_path / "odd.bin"
    odd.write_bytes(bytes(range(256)) * 41 + b"tail")  # not a whole number of chunks
    assert file_sha256(odd, chunk_bytes=1000) == hashlib.sha256(odd.read_bytes()).hexdigest()


# --- errors -------------------------------------------------------------------------------------


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist") as caught:
        load_single_file_pipeline(tmp_path / "nowhere.safetensors")
    assert_one_sentence(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, ModelLoadError)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.txt", b"hello", "must end in .safetensors or .ckpt"),
        ("broken.safetensors", b"this is not a checkpoint", "not a readable .safetensors file"),
        ("broken.ckpt", b"this is not a checkpoint", "not a readable .ckpt checkpoint"),
    ],
)
def test_a_file_that_is_no_checkpoint_is_refused(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(expected)) as caught:
        inspect_checkpoint(path)
    assert_one_sentence(caught.value)


def test_a_lora_is_not_a_whole_model(tmp_path):
    path = tmp_path / "style.safetensors"
    save_file(
        {"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.ones(4, 32)}, path
    )
    with pytest.raises(CheckpointError, match="not a whole Stable Diffusion checkpoint") as caught:
        load_single_file_pipeline(path)
    assert_one_sentence(caught.value)


def test_a_ckpt_with_pickled_objects_is_not_unpickled(tmp_path, demo_ckpt):
    path = tmp_path / "lightning.ckpt"
    state = torch.load(demo_ckpt, weights_only=True)["state_dict"]
    torch.save({"state_dict": state, "hyper_parameters": argparse.Namespace(lr=1e-4)}, path)
    with pytest.raises(CheckpointError, match="cannot be loaded safely") as caught:
        inspect_checkpoint(path)
    assert_one_sentence(caught.value)


def test_a_folder_is_not_a_checkpoint(demo_folder):
    with pytest.raises(CheckpointError, match="folder") as caught:
        inspect_checkpoint(demo_folder)
    assert_one_sentence(caught.value)


def test_without_a_reachable_configuration_the_error_says_what_to_do(tmp_path, demo_safetensors):
    with pytest.raises(CheckpointConfigUnavailableError) as caught:
        load_single_file_pipeline(
            demo_safetensors, cache_dir=tmp_path, use_bundled_sd15_config=False
        )
    assert_one_sentence(caught.value)
    assert "Hugging Face hub" in str(caught.value)
    assert "--config FOLDER" in str(caught.value)


def test_a_configuration_of_another_size_is_refused_clearly(tmp_path, demo_safetensors):
    # With no folder and an empty cache an SD 1.x file gets the bundled SD 1.5 configuration,
    # whose layers are far wider than the demo's.
    with pytest.raises(CheckpointError, match=r"bundled SD 1\.5 configuration") as caught:
        load_single_file_pipeline(demo_safetensors, cache_dir=tmp_path)
    assert_one_sentence(caught.value)
    assert "has shape [77, 32] where that configuration expects [77, 768]" in str(caught.value)
    assert "--config FOLDER" in str(caught.value)


def test_a_config_folder_must_be_a_diffusers_folder(tmp_path, demo_safetensors):
    with pytest.raises(CheckpointError, match=r"no model_index\.json") as caught:
        load_single_file_pipeline(demo_safetensors, tmp_path)
    assert_one_sentence(caught.value)


def test_exporting_to_another_suffix_writes_nothing(tmp_path, reference):
    with pytest.raises(CheckpointError, match=r"\.safetensors or \.ckpt"):
        export_ldm_checkpoint(reference, tmp_path / "model.bin")
    assert list(tmp_path.iterdir()) == []
