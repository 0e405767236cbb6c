"""Drawing at a higher resolution than the output (shared by photos and sketches)."""

from __future__ import annotations

import numpy as np

SUPERSAMPLE = 4
"""Factor by which masks and strokes are drawn larger than the output, then LANCZOS-downsampled."""


def flat_points(points: np.ndarray) -> list[float]:
    """Canvas points (``(N, 2)``, output pixels) as the flat supersampled coordinate list PIL draws."""
    return (points * SUPERSAMPLE).ravel().tolist()
