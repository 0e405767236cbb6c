"""The arguments of the ranking functions, coerced and checked: features as (N, D) float32 CPU tensors,
labels and groups as shared int64 ids."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

ArrayLike = Any
"""A numpy array, torch tensor or sequence."""


def features_pair(query_feats: ArrayLike, gallery_feats: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    """Query (Nq, D) and gallery (Ng, D) float32 CPU features.

    Raises:
        ValueError: if either is not 2-D, not finite or empty, or D differs.
    """
    queries = _as_features(query_feats, "query_feats")
    gallery = _as_features(gallery_feats, "gallery_feats")
    if len(queries) == 0:
        raise ValueError("query_feats is empty: evaluation needs at least one query.")
    if len(gallery) == 0:
        raise ValueError("gallery_feats is empty: retrieval needs at least one gallery item.")
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"Feature dimensions differ: query_feats has {queries.shape[1]} columns, "
            f"gallery_feats has {gallery.shape[1]}."
        )
    return queries, gallery


def _as_features(feats: ArrayLike, name: str) -> torch.Tensor:
    """(N, D) float32 contiguous CPU tensor from a numpy array or tensor, checked to be 2-D and finite."""
    tensor = feats.detach() if isinstance(feats, torch.Tensor) else torch.as_tensor(np.asarray(feats))
    if tensor.ndim != 2:
        raise ValueError(f"{name} must be 2-D (items x dimensions), got shape {tuple(tensor.shape)}.")
    tensor = tensor.to(device="cpu", dtype=torch.float32).contiguous()
    if not _all_finite(tensor):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return tensor


def _all_finite(tensor: torch.Tensor) -> bool:
    """Whether every entry of a (N, D) tensor is finite: NaN propagates to the minimum and maximum,
    and an infinite entry is one of them."""
    if tensor.numel() == 0:
        return True
    low, high = torch.aminmax(tensor)
    return bool(torch.isfinite(low) & torch.isfinite(high))


def encode_labels(
    query_labels: ArrayLike,
    gallery_labels: ArrayLike,
    names: tuple[str, str] = ("query_labels", "gallery_labels"),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map query and gallery labels (ints, strings or objects) to shared ids: equal labels, equal ids.

    Args:
        query_labels: (Nq,) labels; gallery_labels: (Ng,) labels.
        names: the arguments' names, for error messages.

    Returns:
        (Nq,) and (Ng,) int64 CPU tensors of ids in [0, number of distinct labels).
    """
    query_array, gallery_array = as_1d_array(query_labels, names[0]), as_1d_array(gallery_labels, names[1])
    joined = np.concatenate([query_array, gallery_array])
    if joined.dtype.kind == "O":
        index: dict[Any, int] = {}
        ids = np.fromiter((index.setdefault(v, len(index)) for v in joined.tolist()), np.int64, len(joined))
    else:
        ids = np.unique(joined, return_inverse=True)[1].reshape(-1).astype(np.int64)
    ids_tensor = torch.from_numpy(ids)
    return ids_tensor[: len(query_array)], ids_tensor[len(query_array) :]


def as_1d_array(values: ArrayLike, name: str) -> np.ndarray:
    """1-D numpy array from a tensor, array or sequence; ``name`` is used in the error message."""
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}.")
    return array


def check_length(values: torch.Tensor, feats: torch.Tensor, values_name: str, feats_name: str) -> None:
    """Raise ValueError unless ``values`` has one entry per row of ``feats``."""
    if len(values) != len(feats):
        raise ValueError(
            f"Lengths differ: {values_name} has {len(values)} entries but {feats_name} has {len(feats)} rows."
        )
