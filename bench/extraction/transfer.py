"""Moving batches between the host and a GPU without stalling it.

On CUDA, the loader thread copies each preprocessed batch into page-locked (pinned) host memory,
so that the copy to the GPU can be asynchronous (``non_blocking=True``) and overlap the previous
batch's kernels; descriptors come back in one device-to-host copy per batch. On any other device
nothing is pinned or moved (pinning needs CUDA, and page-locking memory a CPU run reads anyway
only costs time), so a CPU run computes exactly what it computed before these paths existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
import torch

Key = TypeVar("Key")


def is_cuda(device: torch.device | None) -> bool:
    """Whether ``device`` is a CUDA device (False for None)."""
    return device is not None and device.type == "cuda"


def model_device(model: Any) -> torch.device | None:
    """The device a backbone's model says it runs on (its ``device`` attribute), or None when it
    has none that names a device (a plugin is free not to say)."""
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    if isinstance(device, str):
        try:
            return torch.device(device)
        except RuntimeError:
            return None
    return None


def pinned_for(tensor: torch.Tensor, device: torch.device | None) -> torch.Tensor:
    """``tensor`` in pinned host memory when it is bound for a CUDA ``device`` (a copy), else itself."""
    if is_cuda(device) and tensor.device.type == "cpu" and not tensor.is_pinned():
        return tensor.pin_memory()
    return tensor


def to_device(tensor: torch.Tensor, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``tensor`` on ``device`` (then cast to ``dtype`` there, if given).

    The copy to a CUDA device is asynchronous (``non_blocking``): from pinned memory it overlaps
    the kernels already queued, from pageable memory torch stages it synchronously as before. The
    cast comes after the copy, so the host sends the tensor's own dtype and the values are those of
    a cast on the host (float32 to 16-bit rounding is the same on every device).
    """
    moved = tensor.to(device=device, non_blocking=is_cuda(device))
    return moved if dtype is None else moved.to(dtype)


def to_host(rows: Mapping[Key, torch.Tensor]) -> dict[Key, np.ndarray]:
    """Host copies of a batch's descriptors with one device-to-host copy (one sync) for all of them.

    Args:
        rows: ``{key: (B, D_k) float32}``, all on one device, with the same B.

    Returns:
        ``{key: (B, D_k) float32 array}``, the same values.
    """
    if not rows:
        return {}
    values = list(rows.values())
    flat = torch.cat(values, dim=1).cpu().numpy()  # on the CPU: no copy to the host, one small cat
    widths = np.cumsum([value.shape[1] for value in values])[:-1]
    return dict(zip(rows, np.split(flat, widths, axis=1), strict=True))
