"""The shape-bias metrics: cue-conflict images decided by their nearest clean reference.

A cue-conflict image carries the shape of one class (its label) and the texture of another (its
second label); the gallery holds clean reference images of every class. The image's *decision* is
the class of its nearest reference, the top-1 neighbour of the ranking (ties by gallery order):
a *shape decision* when that reference has the image's shape class (its first relevant rank is 1),
a *texture decision* when it has its texture class (its first second-label rank is 1), else
neither. Each function takes a :class:`bench.Rankings` chunk of B queries with ``second_ranks``
(``two-labels`` relevance) and returns (B,) float64 values (docs/protocol.md, section 12):

* ``ShapeBias``: 1 for a shape decision, 0 for a texture decision, NaN (undefined) otherwise, so
  its mean is shape decisions / (shape + texture decisions) as Geirhos et al. (ICLR 2019) define it.
* ``ShapeAcc``, ``TextureAcc``: 100 for a shape (texture) decision, else 0: the share of images
  decided for their shape (texture) class, x100.

Chance: under a uniformly random ranking the top-1 reference is one of the R shape references with
probability R / C (``shape_chance``) and one of the R2 texture references with R2 / C; ShapeBias's
and TextureAcc's chance levels are simulated (they depend on R2).
"""

from __future__ import annotations

import numpy as np

from bench import Rankings


def _decided(ranks: np.ndarray) -> np.ndarray:
    """(B,) bool: whether each query's nearest reference is one of the items of ``ranks`` (B, W)."""
    return ranks[:, 0] == 1


def shape_bias(rankings: Rankings, k: None) -> np.ndarray:
    shape, texture = _decided(rankings.ranks), _decided(rankings.second_ranks)
    return np.where(shape, 1.0, np.where(texture, 0.0, np.nan))


def shape_accuracy(rankings: Rankings, k: None) -> np.ndarray:
    return 100.0 * _decided(rankings.ranks)


def texture_accuracy(rankings: Rankings, k: None) -> np.ndarray:
    return 100.0 * _decided(rankings.second_ranks)


def shape_chance(num_relevant: np.ndarray, num_candidates: np.ndarray, k: None) -> np.ndarray:
    """100 R / C: the chance that the top-1 of C references is one of the R of the shape class."""
    return 100.0 * num_relevant / num_candidates
