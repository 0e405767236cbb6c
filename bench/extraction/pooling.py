"""Pooling feature taps into one descriptor per noise draw, and fusing taps into one map (PCA figures)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.api.components import FLATTEN_GRID

GEM_POWER = 3.0


def fuse_taps(maps: list[torch.Tensor]) -> torch.Tensor:
    """Resize every map to the coarsest one (area averaging) and concatenate channels.

    Args:
        maps: tensors of shape (B, N, C_k, H_k, W_k) (N = noise draws), or all (B, N, C_k).

    Returns:
        (B, N, sum C_k, H, W) (or (B, N, sum C_k)) with (H, W) the smallest spatial size among the maps.
    """
    if len(maps) == 1:
        return maps[0]
    if maps[0].dim() == 3:  # vectors (B, N, C_k): nothing to resize
        return torch.cat(maps, dim=2)
    height = min(m.shape[-2] for m in maps)
    width = min(m.shape[-1] for m in maps)
    resized = []
    for feature_map in maps:
        if feature_map.shape[-2:] != (height, width):
            b, n, c, h, w = feature_map.shape
            feature_map = F.adaptive_avg_pool2d(feature_map.reshape(b * n, c, h, w), (height, width))
            feature_map = feature_map.reshape(b, n, c, height, width)
        resized.append(feature_map)
    return torch.cat(resized, dim=2)


def pool(feature_map: torch.Tensor, method: str) -> torch.Tensor:
    """Pool (B, N, C, H, W) -> (B, N, D) in float32; a (B, N, C) vector passes through.

    ``gap``: mean over H, W (D = C); ``gmp``: max; ``gem``: (mean of x.clamp(min=1e-6)^3)^(1/3);
    ``flatten``: adaptive average pooling to a 4 x 4 grid, flattened channel-major (D = 16 C).
    """
    feature_map = feature_map.float()
    if feature_map.dim() == 3:
        return feature_map
    if method == "gap":
        return feature_map.mean(dim=(-2, -1))
    if method == "gmp":
        return feature_map.amax(dim=(-2, -1))
    if method == "gem":
        return feature_map.clamp(min=1e-6).pow(GEM_POWER).mean(dim=(-2, -1)).pow(1.0 / GEM_POWER)
    if method == "flatten":
        b, n, c, h, w = feature_map.shape
        grid = F.adaptive_avg_pool2d(feature_map.reshape(b * n, c, h, w), FLATTEN_GRID)
        return grid.reshape(b, n, c * FLATTEN_GRID * FLATTEN_GRID)
    raise ValueError(f"unknown pooling {method!r} (valid: gap, gmp, gem, flatten)")


def descriptor(maps: list[torch.Tensor], method: str) -> torch.Tensor:
    """One L2-normalised descriptor per image, averaged over noise draws.

    Each tap is pooled on its own (a fused layer is the concatenation of its taps' pooled features,
    so no map is resampled first), the draw's concatenation is L2-normalised, then the draws are
    averaged; the mean is not re-normalised (evaluation normalises).

    Args:
        maps: per tap, (B, N, C_k, H_k, W_k) or (B, N, C_k).

    Returns:
        (B, D) float32, D = sum C_k (16 sum C_k for ``flatten`` maps).
    """
    pooled = torch.cat([pool(feature_map, method) for feature_map in maps], dim=-1)
    return F.normalize(pooled, dim=-1).mean(dim=1)
