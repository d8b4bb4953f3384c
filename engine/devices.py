"""Choosing the device and dtype: CUDA, then Apple MPS, then CPU; half precision only on GPU."""

from __future__ import annotations

import torch

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def choose_device(preferred: str | None = None) -> torch.device:
    """The requested device, or the best available one."""
    if preferred and preferred != "auto":
        try:
            device = torch.device(preferred)
        except RuntimeError:  # torch's text lists twenty device types nobody runs on
            raise ValueError(
                f"Unknown device {preferred!r}; choose cuda, mps or cpu (or cuda:N)."
            ) from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("CUDA was requested but no CUDA device is available.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("MPS was requested but this machine has no Apple GPU.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def choose_dtype(device: torch.device, preferred: str | None = None) -> torch.dtype:
    """fp16 on CUDA/MPS (bf16 where asked), fp32 on CPU, unless one is named."""
    if preferred and preferred != "auto":
        if preferred not in _DTYPES:
            raise ValueError(f"Unknown dtype {preferred!r}; choose one of {', '.join(_DTYPES)}.")
        return _DTYPES[preferred]
    return torch.float32 if device.type == "cpu" else torch.float16


def dtype_name(dtype: torch.dtype) -> str:
    """Short name of a dtype: fp32, fp16 or bf16."""
    return next((name for name, value in _DTYPES.items() if value == dtype), str(dtype))
