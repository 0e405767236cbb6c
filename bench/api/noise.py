"""Seeded diffusion noise and host-to-device copies for diffusion backbones (torch imported on use).

Noise is drawn by a CPU generator in float32 whatever the device, so a GPU run adds exactly the
noise a CPU run adds (a CUDA generator's Philox stream gives other numbers for the same seed, and
would make descriptors depend on the device type). On CUDA the draws are written straight into one
pinned host buffer that goes to the device in one asynchronous copy; host pixels are copied the
same way. Elsewhere nothing is pinned, and the values are those of ``torch.randn`` per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _is_cuda(device: Any) -> bool:
    return getattr(device, "type", None) == "cuda"


def seeded_noise(
    latent_shape: Sequence[int], noise_samples: int, seeds: Sequence[int], *, device: Any, dtype: Any
) -> Any:
    """(B, N, *latent_shape) standard normal noise on ``device`` in ``dtype``; image i's N draws
    come from a generator seeded with ``seeds[i]`` only (equal to
    ``torch.randn((N, *latent_shape), generator=torch.Generator().manual_seed(seeds[i]))``)."""
    import torch

    cuda = _is_cuda(device)
    noise = torch.empty((len(seeds), noise_samples, *latent_shape), pin_memory=cuda)
    for draws, seed in zip(noise, seeds, strict=True):
        draws.normal_(generator=torch.Generator().manual_seed(seed))
    return noise.to(device=device, non_blocking=cuda).to(dtype)


def to_model_device(tensor: Any, device: Any, dtype: Any) -> Any:
    """``tensor`` on ``device``, then cast to ``dtype`` there: asynchronous to CUDA (overlapping
    queued work when the tensor is pinned, as the extraction loop hands pixels over); the values
    are those of a cast on the host."""
    return tensor.to(device=device, non_blocking=_is_cuda(device)).to(dtype)
