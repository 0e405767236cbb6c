"""Turning ``--device`` and ``--dtype`` strings into torch objects, with clear errors.

**TF32 policy.** ``--dtype fp32`` means IEEE float32 arithmetic everywhere: on CUDA, cuBLAS
matmuls and cuDNN convolutions are set to ``ieee`` (torch's own default lets cuDNN convolutions use
TF32, so before this policy an fp32 run on an Ampere or newer GPU had TF32 convolutions and fp32
matmuls). ``--dtype tf32`` keeps float32 weights and activations but lets matmuls and
convolutions round their inputs to TF32 (10-bit mantissa) on tensor cores: faster on Ampere and
newer GPUs, and different numbers, so it is a dtype of its own, recorded as ``dtype = "tf32"`` in
the run identity, the cache key and the results. It exists on CUDA only (refused elsewhere). The
flags are torch's process-wide ``fp32_precision`` settings, set when a dtype is resolved on CUDA
(every run, and :func:`bench.load_backbone`); on the CPU nothing is set, so CPU numbers are those of
torch's defaults whatever the dtype name.
"""

from __future__ import annotations

import resource
import sys
from typing import Any

import torch

from bench.api.errors import BenchError

DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
TF32_CAPABILITY = (8, 0)  # Ampere: the first GPUs whose tensor cores compute TF32


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
    """The torch dtype for ``fp32``/``tf32``/``fp16``/``bf16`` on ``device``; on CUDA, also sets the
    float32 precision the name means (see the module's TF32 policy and :func:`set_fp32_precision`).

    Raises:
        BenchError: an unknown name, fp16 on the CPU (slow, unsupported ops), tf32 off CUDA.
    """
    if name not in DTYPES:
        raise BenchError(f"Unknown dtype {name!r}.", f"Use one of {', '.join(DTYPES)}.")
    if name == "fp16" and device.type == "cpu":
        raise BenchError(
            "fp16 is not supported on the CPU.", "Use --dtype bf16 (fast on recent CPUs) or fp32."
        )
    if name == "tf32":
        _check_tf32(device)
    if device.type == "cuda":
        set_fp32_precision("tf32" if name == "tf32" else "ieee")
    return DTYPES[name]


def _check_tf32(device: torch.device) -> None:
    """Raise unless ``device`` computes TF32 (a CUDA GPU of compute capability 8.0 or newer): a tf32
    run that computed IEEE fp32 would be labelled with a precision it did not use."""
    if device.type != "cuda":
        raise BenchError(
            f"tf32 is a CUDA tensor-core mode; this run is on {device.type}.", "Use --dtype fp32 here."
        )
    capability = torch.cuda.get_device_capability(device)
    if capability < TF32_CAPABILITY:
        raise BenchError(
            f"tf32 needs a GPU of compute capability 8.0 or newer (Ampere); {device} has "
            f"{capability[0]}.{capability[1]}.",
            "Use --dtype fp32 (or fp16) on this GPU.",
        )


def set_fp32_precision(precision: str) -> None:
    """Set how CUDA computes float32 matmuls (cuBLAS) and convolutions (cuDNN): ``"ieee"`` or
    ``"tf32"``. Process-wide; through torch's ``fp32_precision`` settings only (torch refuses to
    mix them with the legacy ``allow_tf32`` flags)."""
    torch.backends.cuda.matmul.fp32_precision = precision
    torch.backends.cudnn.conv.fp32_precision = precision


def peak_memory_mb(device: Any) -> float:
    """Peak resident memory of this process (CPU) or peak allocated memory (CUDA), in MiB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
