"""Single-file checkpoints (`.safetensors` / `.ckpt` in the original CompVis/LDM layout).

Loading goes through diffusers' own `from_single_file` and never touches the network: the
diffusers configuration comes from a folder the caller names, else from the local Hugging Face
cache, else (SD 1.x only) from the SD 1.5 configs in `engine.pipeline_configs`. Exporting is
the exact inverse of diffusers' `convert_ldm_unet_checkpoint`, `convert_ldm_vae_checkpoint` and
`convert_ldm_clip_checkpoint`, and checks itself against them before writing anything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DiffusionPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from diffusers.loaders.single_file_utils import (
    DIFFUSERS_DEFAULT_PIPELINE_PATHS,
    DIFFUSERS_TO_LDM_MAPPING,
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
    infer_diffusers_model_type,
)
from huggingface_hub import snapshot_download
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import CLIPTextModel

from engine.demo_model import demo_model_dir, ensure_demo_model
from engine.errors import ModelLoadError
from engine.pipeline_configs import SD15

logger = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")
UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer."
HASH_CHUNK_BYTES = 1 << 20

# diffusers' name for the architecture -> the pipeline that runs it and a label for messages.
SUPPORTED_MODEL_TYPES: dict[str, tuple[type[DiffusionPipeline], str]] = {
    "v1": (StableDiffusionPipeline, "Stable Diffusion 1.x"),
    "v2": (StableDiffusionPipeline, "Stable Diffusion 2.x"),
    "xl_base": (StableDiffusionXLPipeline, "SDXL"),
}
TEXT_ENCODER_PREFIXES = ("cond_stage_model.", "conditioner.embedders.")
HUB_CONFIG_PATTERNS = ["**/*.json", "*.json", "*.txt", "**/*.txt", "**/*.model"]  # as diffusers


class CheckpointError(ModelLoadError):
    """A checkpoint file cannot be read, written or loaded (a ValueError; one sentence)."""


class CheckpointConfigUnavailableError(CheckpointError):
    """The checkpoint needs a diffusers configuration that cannot be had offline."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint file is, read from its tensor names and shapes only."""

    path: Path
    file_format: str  # "safetensors" or "ckpt"
    model_type: str  # diffusers' name: "v1", "v2", "xl_base"
    label: str  # "Stable Diffusion 1.x", ...
    pipeline_class: type[DiffusionPipeline]
    num_tensors: int


# --- hashing ------------------------------------------------------------------------------------


def file_sha256(path: Path, chunk_bytes: int = HASH_CHUNK_BYTES) -> str:
    """The hex sha256 of a whole file, read in chunks.

    Reading is the cost: the 10 MB demo checkpoint takes milliseconds, a 4.3 GB fp32 SD 1.5 file
    took 7 s on a 2-core machine, so callers should compute it once per file and keep it.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def short_hash(path: Path) -> str:
    """A1111's "Model hash": the first 10 hex digits of the sha256 of the whole file."""
    return file_sha256(path)[:10]


# --- export -------------------------------------------------------------------------------------

_UNET_RESNET_PARTS = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_VAE_ATTENTION_PARTS = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}
_UNET_FIXED = dict(DIFFUSERS_TO_LDM_MAPPING["unet"]["layers"])
_VAE_FIXED = dict(DIFFUSERS_TO_LDM_MAPPING["vae"])


def _rename_head(rest: str, parts: Mapping[str, str]) -> str:
    """Rename the leading module name of `rest` ("norm1.weight" -> "in_layers.0.weight")."""
    for old, new in parts.items():
        if rest.startswith(old + "."):
            return new + rest[len(old) :]
    return rest


def _unet_to_ldm(
    state_dict: Mapping[str, torch.Tensor], config: Mapping
) -> dict[str, torch.Tensor]:
    """Name a diffusers SD UNet state dict as LDM's `openaimodel.UNetModel` (no prefix)."""
    layers = config["layers_per_block"]
    if not isinstance(layers, int):
        raise CheckpointError(
            "Only a UNet with one layers_per_block for all blocks can be exported."
        )
    stride = layers + 1  # LDM counts the down/up sampler as one more layer of its block
    up_with_attention = {
        int(key.split(".")[1])
        for key in state_dict
        if key.startswith("up_blocks.") and ".attentions." in key
    }
    ldm: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        if key in _UNET_FIXED:
            ldm[_UNET_FIXED[key]] = tensor
        elif m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
            index = 1 + int(m[1]) * stride + int(m[3])
            if m[2] == "resnets":
                ldm[f"input_blocks.{index}.0.{_rename_head(m[4], _UNET_RESNET_PARTS)}"] = tensor
            else:
                ldm[f"input_blocks.{index}.1.{m[4]}"] = tensor
        elif m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
            ldm[f"input_blocks.{1 + int(m[1]) * stride + layers}.0.op.{m[2]}"] = tensor
        elif m := re.fullmatch(r"mid_block\.resnets\.(\d+)\.(.+)", key):
            ldm[f"middle_block.{2 * int(m[1])}.{_rename_head(m[2], _UNET_RESNET_PARTS)}"] = tensor
        elif m := re.fullmatch(r"mid_block\.attentions\.(\d+)\.(.+)", key):
            ldm[f"middle_block.{2 * int(m[1]) + 1}.{m[2]}"] = tensor
        elif m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
            index = int(m[1]) * stride + int(m[3])
            if m[2] == "resnets":
                ldm[f"output_blocks.{index}.0.{_rename_head(m[4], _UNET_RESNET_PARTS)}"] = tensor
            else:
                ldm[f"output_blocks.{index}.1.{m[4]}"] = tensor
        elif m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.(conv\..+)", key):
            block = int(m[1])
            slot = 2 if block in up_with_attention else 1  # after the attention when there is one
            ldm[f"output_blocks.{block * stride + layers}.{slot}.{m[2]}"] = tensor
        else:
            raise CheckpointError(f"The UNet weight {key} has no place in the SD 1.x/2.x layout.")
    return ldm


def _vae_to_ldm(state_dict: Mapping[str, torch.Tensor], config: Mapping) -> dict[str, torch.Tensor]:
    """Name a diffusers AutoencoderKL state dict as LDM's `AutoencoderKL` (no prefix)."""
    last_up = len(config["up_block_types"]) - 1  # LDM numbers decoder blocks from the bottom
    ldm: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        if key in _VAE_FIXED:
            ldm[_VAE_FIXED[key]] = tensor
        elif m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
            rest = _rename_head(m[3], {"conv_shortcut": "nin_shortcut"})
            ldm[f"encoder.down.{m[1]}.block.{m[2]}.{rest}"] = tensor
        elif m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.+)", key):
            ldm[f"encoder.down.{m[1]}.downsample.{m[2]}"] = tensor
        elif m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
            rest = _rename_head(m[3], {"conv_shortcut": "nin_shortcut"})
            ldm[f"decoder.up.{last_up - int(m[1])}.block.{m[2]}.{rest}"] = tensor
        elif m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)", key):
            ldm[f"decoder.up.{last_up - int(m[1])}.upsample.{m[2]}"] = tensor
        elif m := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
            rest = _rename_head(m[3], {"conv_shortcut": "nin_shortcut"})
            ldm[f"{m[1]}.mid.block_{int(m[2]) + 1}.{rest}"] = tensor
        elif m := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)", key):
            rest = _rename_head(m[2], _VAE_ATTENTION_PARTS)
            if tensor.ndim == 2:  # LDM's attention projections are 1x1 convolutions
                tensor = tensor.reshape(*tensor.shape, 1, 1)
            ldm[f"{m[1]}.mid.attn_1.{rest}"] = tensor
        else:
            raise CheckpointError(f"The VAE weight {key} has no place in the SD 1.x/2.x layout.")
    return ldm


def _clip_to_ldm(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Name a transformers CLIPTextModel state dict as LDM's `FrozenCLIPEmbedder` (no prefix)."""
    # transformers >= 5.6 dropped the `text_model.` level; LDM files always have it.
    return {f"text_model.{key.removeprefix('text_model.')}": t for key, t in state_dict.items()}


def _check_round_trip(
    name: str, original: Mapping[str, torch.Tensor], loaded_back: Mapping[str, torch.Tensor]
) -> None:
    """Raise unless diffusers' converter gives back every original weight with its shape."""
    lost = sorted(set(original) - set(loaded_back))
    extra = sorted(set(loaded_back) - set(original))
    wrong = sorted(
        k
        for k in set(original) & set(loaded_back)
        if tuple(original[k].shape) != tuple(loaded_back[k].shape)
    )
    if lost or extra or wrong:
        first = (lost or extra or wrong)[0]
        raise CheckpointError(
            f"The {name} cannot be written in the LDM layout: {len(lost)} weights would be lost, "
            f"{len(extra)} invented and {len(wrong)} misshapen on loading (first: {first})."
        )


def ldm_state_dict(
    unet: UNet2DConditionModel, vae: AutoencoderKL, text_encoder: CLIPTextModel
) -> dict[str, torch.Tensor]:
    """The three models' weights named as an original SD 1.x single-file checkpoint.

    Tensors are shared with the models, not copied (the VAE attention weights are reshaped views).
    The result is checked against diffusers' own converters, the code `from_single_file` runs.
    """
    unet_sd = unet.state_dict()
    vae_sd = vae.state_dict()
    clip_sd = text_encoder.state_dict()
    ldm_unet = _unet_to_ldm(unet_sd, unet.config)
    ldm_vae = _vae_to_ldm(vae_sd, vae.config)
    ldm_clip = _clip_to_ldm(clip_sd)

    _check_round_trip(
        "UNet",
        unet_sd,
        convert_ldm_unet_checkpoint(
            {UNET_PREFIX + k: v for k, v in ldm_unet.items()}, dict(unet.config)
        ),
    )
    _check_round_trip(
        "VAE",
        vae_sd,
        convert_ldm_vae_checkpoint(
            {VAE_PREFIX + k: v for k, v in ldm_vae.items()}, dict(vae.config)
        ),
    )
    clip_back = convert_ldm_clip_checkpoint({CLIP_PREFIX + k: v for k, v in ldm_clip.items()})
    if not any(k.startswith("text_model.") for k in clip_sd):
        clip_back = {k.removeprefix("text_model."): v for k, v in clip_back.items()}
    _check_round_trip("text encoder", clip_sd, clip_back)

    return {
        **{UNET_PREFIX + k: v for k, v in ldm_unet.items()},
        **{VAE_PREFIX + k: v for k, v in ldm_vae.items()},
        **{CLIP_PREFIX + k: v for k, v in ldm_clip.items()},
    }


def _models_of(
    pipeline_or_folder: object,
) -> tuple[UNet2DConditionModel, AutoencoderKL, CLIPTextModel]:
    """The UNet, VAE and text encoder of a pipeline, or loaded from a diffusers folder."""
    if isinstance(pipeline_or_folder, (str, os.PathLike)):
        folder = Path(pipeline_or_folder)
        if not (folder / "model_index.json").is_file():
            raise CheckpointError(f"{folder} is not a diffusers folder (no model_index.json).")
        return (
            UNet2DConditionModel.from_pretrained(folder, subfolder="unet", local_files_only=True),
            AutoencoderKL.from_pretrained(folder, subfolder="vae", local_files_only=True),
            CLIPTextModel.from_pretrained(folder / "text_encoder", local_files_only=True),
        )
    models = tuple(
        getattr(pipeline_or_folder, name, None) for name in ("unet", "vae", "text_encoder")
    )
    if any(model is None for model in models):
        raise CheckpointError("Only a pipeline with a unet, vae and text_encoder can be exported.")
    return models  # type: ignore[return-value]


def export_ldm_checkpoint(
    pipeline_or_folder: DiffusionPipeline | Path | str,
    path: Path,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write an SD 1.x pipeline (or diffusers folder) as one original-layout checkpoint.

    The keys are those of CompVis/A1111 SD 1.x files (`model.diffusion_model.*`,
    `first_stage_model.*`, `cond_stage_model.transformer.*`). `.safetensors` writes a safetensors
    file; `.ckpt` writes `torch.save({"state_dict": ...})`. `dtype` casts floating weights (e.g.
    torch.float16 for a half-size file). The file is written beside its target and renamed into
    place, so it is complete or absent. Returns `path`.
    """
    path = Path(path)
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise CheckpointError(f"A checkpoint must end in .safetensors or .ckpt, not {path.name!r}.")
    state = ldm_state_dict(*_models_of(pipeline_or_folder))
    state = {
        key: (t.to(dtype) if dtype is not None and t.is_floating_point() else t)
        .detach()
        .contiguous()
        .cpu()
        for key, t in state.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        if path.suffix == ".safetensors":
            save_file(state, tmp_name, metadata={"format": "pt"})
        else:
            torch.save({"state_dict": state}, tmp_name)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def demo_checkpoint_path(models_dir: Path) -> Path:
    """Where the demo model's single-file export lives under a models folder."""
    return Path(models_dir) / f"{demo_model_dir(models_dir).name}.safetensors"


def ensure_demo_checkpoint(models_dir: Path) -> Path:
    """Return the demo model as one `.safetensors` checkpoint, exporting it first if missing.

    Load it with `load_single_file_pipeline(path, config_folder=ensure_demo_model(models_dir))`.
    """
    target = demo_checkpoint_path(models_dir)
    if target.is_file():
        return target
    return export_ldm_checkpoint(ensure_demo_model(models_dir), target)


# --- load ---------------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    """The first sentence of an exception's message, without its full stop, for our sentence."""
    lines = str(exc).strip().splitlines()
    return lines[0].split(". ")[0].rstrip(".") if lines else type(exc).__name__


def _tensor_shapes(path: Path, file_format: str) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint as a shape-only `meta` tensor.

    A .safetensors header is all that is read; a zip-format .ckpt is memory-mapped; an old
    non-zip .ckpt is read whole once (as diffusers will read it again).
    """
    name = path.name
    if file_format == "safetensors":
        try:
            with safe_open(str(path), framework="pt") as handle:
                names = handle.keys()  # a safe_open handle is not iterable like a dict
                return {
                    key: torch.empty(handle.get_slice(key).get_shape(), device="meta")
                    for key in names
                }
        except Exception as exc:
            raise CheckpointError(
                f"{name} is not a readable .safetensors file ({_first_line(exc)})."
            ) from exc
    try:
        # As diffusers reads it: weights only (no code from the file runs), memory-mapped.
        loaded = torch.load(
            path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path)
        )
    except Exception as exc:
        if isinstance(exc, pickle.UnpicklingError) and "Weights only load failed" in str(exc):
            raise CheckpointError(
                f"{name} holds Python objects besides weights and cannot be loaded safely; "
                "convert it to .safetensors with a tool you trust."
            ) from exc
        reason = _first_line(exc) if zipfile.is_zipfile(path) else "it is not a PyTorch file"
        raise CheckpointError(f"{name} is not a readable .ckpt checkpoint ({reason}).") from exc
    while isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        raise CheckpointError(f"{name} holds no dictionary of weights.")
    return {
        key: torch.empty(value.shape, device="meta")
        for key, value in loaded.items()
        if isinstance(key, str) and isinstance(value, torch.Tensor)
    }


def inspect_checkpoint(path: Path) -> CheckpointInfo:
    """Read a checkpoint's tensor names and shapes and say which model it is.

    Raises CheckpointError for a missing or unreadable file, a file that is not a whole
    Stable Diffusion model (a LoRA, an embedding, a lone VAE), or an unsupported architecture.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"Checkpoint file {path} does not exist.")
    if not path.is_file():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file.")
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise CheckpointError(f"A checkpoint must end in .safetensors or .ckpt, not {path.name!r}.")
    file_format = path.suffix.lower().removeprefix(".")
    shapes = _tensor_shapes(path, file_format)

    has_unet = any(k.startswith(UNET_PREFIX) for k in shapes)
    has_vae = any(k.startswith(VAE_PREFIX) for k in shapes)
    has_text = any(k.startswith(TEXT_ENCODER_PREFIXES) for k in shapes)
    if not (has_unet and has_vae and has_text):
        parts = (("UNet", has_unet), ("VAE", has_vae), ("text encoder", has_text))
        missing = " or ".join(part for part, present in parts if not present)
        raise CheckpointError(
            f"{path.name} is not a whole Stable Diffusion checkpoint: it has no {missing} "
            "weights in the original layout (is it a LoRA or an embedding?)."
        )
    try:
        model_type = infer_diffusers_model_type(shapes)
    except Exception as exc:
        raise CheckpointError(f"{path.name} is not a recognisable diffusion checkpoint.") from exc
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise CheckpointError(
            f"{path.name} is a {model_type!r} checkpoint; only Stable Diffusion 1.x, 2.x and SDXL "
            "base text-to-image checkpoints can be loaded."
        )
    pipeline_class, label = SUPPORTED_MODEL_TYPES[model_type]
    return CheckpointInfo(path, file_format, model_type, label, pipeline_class, len(shapes))


@contextmanager
def _config_folder_for(
    info: CheckpointInfo,
    config_folder: Path | None,
    cache_dir: Path | None,
    use_bundled_sd15_config: bool,
) -> Iterator[tuple[Path, str]]:
    """The diffusers config folder to load `info` with (and words for it), found offline."""
    if config_folder is not None:
        folder = Path(config_folder)
        if not (folder / "model_index.json").is_file():
            raise CheckpointError(
                f"Config folder {folder} is not a diffusers model folder "
                "(it has no model_index.json)."
            )
        yield folder, f"the configuration in {folder}"
        return
    repo_id = DIFFUSERS_DEFAULT_PIPELINE_PATHS[info.model_type]["pretrained_model_name_or_path"]
    try:
        snapshot = Path(
            snapshot_download(
                repo_id,
                cache_dir=cache_dir,
                local_files_only=True,
                allow_patterns=HUB_CONFIG_PATTERNS,
            )
        )
    except (OSError, ValueError):  # LocalEntryNotFoundError is an OSError
        snapshot = None
    if snapshot is not None and (snapshot / "model_index.json").is_file():
        logger.info("Loading %s with the cached configuration of %s.", info.path.name, repo_id)
        yield snapshot, f"the cached configuration of {repo_id}"
        return
    if info.model_type == "v1" and use_bundled_sd15_config:
        logger.info("Loading %s with the bundled SD 1.5 configuration.", info.path.name)
        with tempfile.TemporaryDirectory(prefix="sd15-config-") as tmp:
            yield SD15.write_folder(Path(tmp) / "sd15"), "the bundled SD 1.5 configuration"
        return
    raise CheckpointConfigUnavailableError(
        f"{info.path.name} is a {info.label} checkpoint that needs its configuration ({repo_id}) "
        "from the Hugging Face hub, which cannot be reached offline; pass --config FOLDER with a "
        "local diffusers copy of that model."
    )


def load_single_file_pipeline(
    path: Path,
    config_folder: Path | None = None,
    torch_dtype: torch.dtype | None = None,
    *,
    cache_dir: Path | None = None,
    use_bundled_sd15_config: bool = True,
) -> DiffusionPipeline:
    """Load a `.safetensors`/`.ckpt` checkpoint with diffusers' `from_single_file`, offline.

    The configuration comes from `config_folder` (a local diffusers folder of the same
    architecture) when given, else from the local Hugging Face cache (`cache_dir` or the default
    one) for the repository diffusers would use, else, for SD 1.x, from the bundled SD 1.5
    configuration. No safety checker is loaded. Raises CheckpointError (a ValueError) with one
    sentence for a bad file, CheckpointConfigUnavailableError when no configuration can be had.
    """
    info = inspect_checkpoint(path)
    extra = {}
    if info.pipeline_class is StableDiffusionPipeline:
        extra = {
            "safety_checker": None,
            "feature_extractor": None,
            "requires_safety_checker": False,
        }
    found = _config_folder_for(info, config_folder, cache_dir, use_bundled_sd15_config)
    with found as (folder, source):
        declared = _declared_pipeline_class(folder)
        if declared not in (None, info.pipeline_class.__name__):
            raise CheckpointError(
                f"{info.path.name} is a {info.label} checkpoint but {source} describes a "
                f"{declared}."
            )
        try:
            return info.pipeline_class.from_single_file(
                str(info.path),
                config=str(folder),
                local_files_only=True,
                torch_dtype=torch_dtype,
                **extra,
            )
        except Exception as exc:
            hint = (
                "" if config_folder else "; pass --config FOLDER with its diffusers configuration"
            )
            raise CheckpointError(
                f"{info.path.name} could not be loaded with {source}: {_load_failure(exc)}{hint}."
            ) from exc


def _load_failure(exc: BaseException) -> str:
    """Why diffusers could not load a checkpoint, as a clause for our one sentence."""
    mismatch = re.search(
        r"(\S+) expected shape torch\.Size\((\[.*?\])\), but got torch\.Size\((\[.*?\])\)",
        str(exc),
    )
    if mismatch:
        name, expected, got = mismatch.groups()
        return f"its weight {name} has shape {got} where that configuration expects {expected}"
    return _first_line(exc)


def _declared_pipeline_class(folder: Path) -> str | None:
    """The pipeline class named in a diffusers folder's model_index.json, if readable."""
    try:
        return DiffusionPipeline.load_config(str(folder)).get("_class_name")
    except Exception:
        return None
