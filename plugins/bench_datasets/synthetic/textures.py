"""Category textures for ``synthetic-cue-conflict``: each category's surface is a pattern of its own.

A :class:`Texture` is a two-colour pattern (stripes, checks, dots, rings, ...) with a period and an
orientation. The categories of one dataset get distinct patterns (while there are enough) and
ink hues spread evenly round the colour wheel, so texture alone tells them apart; each image
shifts the pattern's phase and jitters its period and angle a little.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench_datasets.synthetic.photos import pixel_grid


def _wave(u: np.ndarray) -> np.ndarray:
    """A cosine of period 1 mapped to [0, 1]."""
    return 0.5 + 0.5 * np.cos(2 * math.pi * u)


def _triangle(v: np.ndarray) -> np.ndarray:
    """A triangle wave of period 1 in [0, 1]."""
    return np.abs(v - np.floor(v) - 0.5) * 2


def _distance_to_integer(u: np.ndarray) -> np.ndarray:
    """How far each value lies from the nearest integer, in [0, 0.5]."""
    return np.abs(u - np.round(u))


def _stripes(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _wave(u)


def _checks(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.clip(0.5 + 2.0 * np.sin(2 * math.pi * u) * np.sin(2 * math.pi * v), 0.0, 1.0)


def _dots(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    distance = np.hypot(_distance_to_integer(u), _distance_to_integer(v))
    return np.clip((0.3 - distance) / 0.08, 0.0, 1.0)


def _rings(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _wave(np.hypot(u, v))


def _zigzag(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _wave(u + 0.6 * _triangle(v))


def _grid(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    line = np.minimum(_distance_to_integer(u), _distance_to_integer(v))
    return np.clip((0.12 - line) / 0.05, 0.0, 1.0)


def _waves(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _wave(u + 0.35 * np.sin(math.pi * v))


def _scales(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    row = np.floor(v)
    shifted = u + 0.5 * (row % 2)
    return _wave(2 * np.hypot(shifted - np.floor(shifted) - 0.5, v - row))


PATTERNS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "stripes": _stripes,
    "checks": _checks,
    "dots": _dots,
    "rings": _rings,
    "zigzag": _zigzag,
    "grid": _grid,
    "waves": _waves,
    "scales": _scales,
}
"""Pattern name -> ``(u, v) -> ink amount`` in [0, 1], coordinates in pattern periods."""


def _hsv(hue: float, saturation: float, value: float) -> np.ndarray:
    """An RGB colour (``(3,)`` float32, 0-255) from HSV components in [0, 1] (hue wraps)."""
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value), dtype=np.float32) * 255.0


@dataclass(frozen=True)
class Texture:
    """One category's surface.

    Attributes:
        pattern: a key of :data:`PATTERNS`.
        ink, ground: the pattern's two colours, ``(3,)`` float32, 0-255.
        period: the pattern's period, a fraction of the image side.
        angle: its orientation, radians.
    """

    pattern: str
    ink: np.ndarray
    ground: np.ndarray
    period: float
    angle: float

    def describe(self) -> str:
        """``"stripes, hue 0.12"``: what results files record of it."""
        hue = colorsys.rgb_to_hsv(*(self.ink / 255.0).tolist())[0]
        return f"{self.pattern}, hue {hue:.2f}"

    def render(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """The texture over a ``size`` px canvas, its phase, period and angle jittered by ``rng``:
        ``(size, size, 3)`` float32, 0-255."""
        x, y = pixel_grid(size)
        angle = self.angle + rng.uniform(-0.15, 0.15)
        period = self.period * size * rng.uniform(0.9, 1.1)
        du, dv = rng.uniform(0.0, 1.0, 2).tolist()
        cx, cy = x - size / 2, y - size / 2
        u = (cx * math.cos(angle) + cy * math.sin(angle)) / period + du
        v = (-cx * math.sin(angle) + cy * math.cos(angle)) / period + dv
        ink = PATTERNS[self.pattern](u, v)[..., None]
        return self.ground + ink * (self.ink - self.ground)


def category_textures(count: int, rng: np.random.Generator) -> list[Texture]:
    """Textures for ``count`` categories: patterns in a shuffled order (repeating after
    ``len(PATTERNS)``), ink hues evenly spaced from a random start, each on a pale ground of its
    own hue; period (10-18% of the side) and angle drawn from ``rng``."""
    names = [list(PATTERNS)[i] for i in rng.permutation(len(PATTERNS))]
    start = rng.uniform(0.0, 1.0)
    textures = []
    for index in range(count):
        hue = start + index / count
        textures.append(
            Texture(
                pattern=names[index % len(names)],
                ink=_hsv(hue, 0.85, 0.7),
                ground=_hsv(hue + 0.08, 0.25, 0.97),
                period=float(rng.uniform(0.1, 0.18)),
                angle=float(rng.uniform(0.0, math.pi)),
            )
        )
    return textures
