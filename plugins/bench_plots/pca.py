"""Principal components of feature maps, fitted jointly on several groups, shown as RGB."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

COMPONENTS = 3  # one per colour channel
CLIP_PERCENT = 1.0  # each component is scaled so its 1st..99th percentile spans 0..1


@dataclass(frozen=True)
class RGBProjection:
    """Feature maps as colours.

    Attributes:
        images: per input group, (B_k, h_k, w_k, 3) float32 in [0, 1]: red, green and blue are the
            first, second and third principal components.
        explained: (3,) fraction of the feature variance each component explains (0 where the
            features have fewer than three directions).
    """

    images: list[np.ndarray]
    explained: np.ndarray


def joint_pca_rgb(groups: Sequence[np.ndarray]) -> RGBProjection:
    """Fit one 3-component PCA on every spatial position of every map of every group, and colour them.

    Fitting on all groups together (e.g. sketches and photos) puts them in one colour space: the
    same colour in a sketch and a photo means the same feature direction.

    Args:
        groups: arrays (B_k, C, h_k, w_k) of float features; C is shared, spatial sizes may differ.

    Returns:
        An :class:`RGBProjection`; each component's sign is fixed so that its largest loading is
        positive (the colours do not flip between runs or machines).
    """
    rows = [np.moveaxis(group, 1, -1).reshape(-1, group.shape[1]) for group in groups]  # (B h w, C)
    features = np.concatenate(rows).astype(np.float64)
    centred = features - features.mean(axis=0)
    covariance = centred.T @ centred / max(len(centred) - 1, 1)
    variances, vectors = np.linalg.eigh(covariance)  # ascending
    order = np.argsort(variances)[::-1][:COMPONENTS]
    basis = vectors[:, order]  # (C, k), k = min(3, C)
    basis *= np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])])
    projected = centred @ basis  # (M, k)
    colours = np.full((len(features), COMPONENTS), 0.5)
    colours[:, : basis.shape[1]] = _unit_range(projected)
    total = float(variances.clip(min=0).sum())
    explained = np.zeros(COMPONENTS)
    if total > 0:
        explained[: basis.shape[1]] = variances[order].clip(min=0) / total
    images, start = [], 0
    for group, rows_k in zip(groups, rows, strict=True):
        b, _, h, w = group.shape
        images.append(colours[start : start + len(rows_k)].reshape(b, h, w, COMPONENTS).astype(np.float32))
        start += len(rows_k)
    return RGBProjection(images, explained)


def _unit_range(values: np.ndarray) -> np.ndarray:
    """(M, k) -> (M, k) in [0, 1]: each column's 1st..99th percentile mapped to 0..1, then clipped."""
    low = np.percentile(values, CLIP_PERCENT, axis=0)
    high = np.percentile(values, 100 - CLIP_PERCENT, axis=0)
    span = np.where(high > low, high - low, 1.0)
    return np.clip((values - low) / span, 0.0, 1.0)
