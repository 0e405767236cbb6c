"""Turning ``--device`` and ``--dtype`` strings into torch objects, with clear errors."""

from __future__ import annotations

import resource
import sys
from typing import Any

import torch

from bench.api.errors import BenchError

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; other names must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise BenchError(f"Unknown device {name!r}.", "Use auto, cpu, cuda, cuda:N or mps.") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BenchError(
            f"Device {name!r} was asked for, but CUDA is not available here.", "Use --device cpu."
        )
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise BenchError(
            f"Device {name!r} does not exist.",
            f"This machine has {torch.cuda.device_count()} CUDA device(s).",
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise BenchError("Device 'mps' is not available here.", "Use --device cpu.")
    return device


def slow_dtype_warning(dtype: torch.dtype, device: torch.device) -> str | None:
    """Why ``dtype`` will be slow on ``device`` (bf16 on a CPU without native bf16 kernels), or None."""
    if dtype == torch.bfloat16 and device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        capability = torch.backends.cpu.get_cpu_capability()
        return (
            f"bf16 is emulated on this CPU ({capability}, no AVX-512 BF16 or AMX): expect it to be much "
            "slower than fp32. Use --dtype fp32 here."
        )
    return None


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The torch dtype for ``fp32``/``fp16``/``bf16``; fp16 is refused on the CPU (slow, unsupported ops)."""
    if name not in DTYPES:
        raise BenchError(f"Unknown dtype {name!r}.", f"Use one of {', '.join(DTYPES)}.")
    if name == "fp16" and device.type == "cpu":
        raise BenchError(
            "fp16 is not supported on the CPU.", "Use --dtype bf16 (fast on recent CPUs) or fp32."
        )
    return DTYPES[name]


def peak_memory_mb(device: Any) -> float:
    """Peak resident memory of this process (CPU) or peak allocated memory (CUDA), in MiB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
