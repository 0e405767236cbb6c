"""The shape categories: parametric outlines in a unit frame of roughly ``[-1, 1]^2``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_CONTOUR_POINTS = 96
"""Points on a full circle or ellipse arc (polar shapes use more for their fine detail)."""


@dataclass(frozen=True)
class Outline:
    """A shape as closed polygons, each an ``(N, 2)`` float array of (x, y) points.

    Attributes:
        fills: polygons whose insides are filled.
        holes: polygons cut out of the fills (e.g. the inside of a ring).
    """

    fills: tuple[np.ndarray, ...]
    holes: tuple[np.ndarray, ...] = ()

    @property
    def contours(self) -> tuple[np.ndarray, ...]:
        """All polygons, fills first: the lines a sketch traces."""
        return self.fills + self.holes

    def mapped(self, transform: Callable[[np.ndarray], np.ndarray]) -> Outline:
        """This outline with ``transform`` (``(N, 2) -> (N, 2)``) applied to every polygon."""
        return Outline(tuple(map(transform, self.fills)), tuple(map(transform, self.holes)))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The (x, y) minimum and maximum over all points: two ``(2,)`` arrays."""
        points = np.concatenate(self.contours)
        return points.min(axis=0), points.max(axis=0)


def _points(*xy: tuple[float, float]) -> np.ndarray:
    """The ``(N, 2)`` float array of the given (x, y) points."""
    return np.array(xy, dtype=float)


def _arc(
    rx: float,
    ry: float,
    start: float,
    stop: float,
    center: tuple[float, float] = (0.0, 0.0),
    n: int = _CONTOUR_POINTS,
) -> np.ndarray:
    """``n`` points of an ellipse arc from angle ``start`` to ``stop`` (radians, both included)."""
    angles = np.linspace(start, stop, n)
    return np.stack([center[0] + rx * np.cos(angles), center[1] + ry * np.sin(angles)], axis=1)


def _ellipse(rx: float, ry: float, center: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A closed ellipse polygon of ``_CONTOUR_POINTS`` points (first point not repeated)."""
    return _arc(rx, ry, 0.0, 2 * math.pi, center, _CONTOUR_POINTS + 1)[:-1]


def _from_polar(angles: np.ndarray, radii: np.ndarray | float) -> np.ndarray:
    """Points at ``angles`` (radians, ``(N,)``) and ``radii`` around the origin: ``(N, 2)``."""
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _polar(radius: Callable[[np.ndarray], np.ndarray], n: int = 360) -> np.ndarray:
    """A closed polygon of ``n`` points at radius ``radius(angle)`` around the origin."""
    angles = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    return _from_polar(angles, radius(angles))


def rotation(degrees: float) -> np.ndarray:
    """The ``(2, 2)`` matrix that turns row-vector points by ``degrees`` (clockwise on screen, y down)."""
    angle = math.radians(degrees)
    return np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])


def _mirrored(right: np.ndarray) -> np.ndarray:
    """A left-right symmetric polygon from its right half, listed top to bottom.

    Points of ``right`` on the axis (x == 0) are not repeated on the mirrored side.
    """
    left = right[::-1] * (-1.0, 1.0)
    return np.concatenate([right, left[left[:, 0] != 0.0]])


def _circle(rng: np.random.Generator) -> Outline:
    """A unit circle (instances differ only in pose)."""
    return Outline((_ellipse(1.0, 1.0),))


def _ellipse_shape(rng: np.random.Generator) -> Outline:
    """An ellipse whose minor/major axis ratio is 0.45-0.7."""
    return Outline((_ellipse(1.0, rng.uniform(0.45, 0.7)),))


def _triangle(rng: np.random.Generator) -> Outline:
    """A triangle on the unit circle, each vertex up to 10 degrees off the equilateral one."""
    angles = np.radians([-90.0, 30.0, 150.0] + rng.uniform(-10.0, 10.0, 3))
    return Outline((_from_polar(angles, 1.0),))


def _square(rng: np.random.Generator) -> Outline:
    """A rounded square (superellipse): higher exponents give sharper corners."""
    exponent = rng.uniform(5.0, 14.0)
    angles = np.linspace(0.0, 2 * math.pi, 200, endpoint=False)
    cos, sin = np.cos(angles), np.sin(angles)
    shape = np.stack(
        [np.sign(cos) * np.abs(cos) ** (2 / exponent), np.sign(sin) * np.abs(sin) ** (2 / exponent)], axis=1
    )
    return Outline((shape,))


def _regular(sides: int) -> Callable[[np.random.Generator], Outline]:
    """A builder of regular ``sides``-gons (one vertex up) with slightly jittered vertex radii."""

    def build(rng: np.random.Generator) -> Outline:
        angles = -math.pi / 2 + 2 * math.pi * np.arange(sides) / sides
        return Outline((_from_polar(angles, rng.uniform(0.95, 1.05, sides)),))

    return build


def _star(rng: np.random.Generator) -> Outline:
    """A star of 5-7 points whose inner vertices lie at radius 0.38-0.55."""
    points = int(rng.integers(5, 8))
    angles = -math.pi / 2 + math.pi * np.arange(2 * points) / points
    radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, rng.uniform(0.38, 0.55))
    return Outline((_from_polar(angles, radii),))


def _cross(rng: np.random.Generator) -> Outline:
    """A plus sign: one quarter of its outline turned by 0, 90, 180 and 270 degrees."""
    arm = rng.uniform(0.25, 0.4)  # half the arm thickness
    quarter = _points((arm, -1.0), (arm, -arm), (1.0, -arm))
    quarter_turn = np.array([[0.0, 1.0], [-1.0, 0.0]])
    return Outline((np.concatenate([quarter @ np.linalg.matrix_power(quarter_turn, k) for k in range(4)]),))


def _heart(rng: np.random.Generator) -> Outline:
    """The classic parametric heart curve with a cleft 4-6 (of 16) units deep."""
    t = np.linspace(0.0, 2 * math.pi, 200, endpoint=False)
    cleft = rng.uniform(4.0, 6.0)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - cleft * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return Outline((np.stack([x, y], axis=1) / 16.0,))


def _crescent(rng: np.random.Generator) -> Outline:
    """A unit disc minus a disc of radius ``r`` centred at (``d``, 0), with ``d + r > 1``."""
    r, d = rng.uniform(0.75, 0.92), rng.uniform(0.35, 0.55)
    x = (1 - r * r + d * d) / (2 * d)
    y = math.sqrt(1 - x * x)
    outer = math.atan2(y, x)
    inner = math.atan2(y, x - d)
    outer_arc = _arc(1.0, 1.0, outer, 2 * math.pi - outer)
    inner_arc = _arc(r, r, 2 * math.pi - inner, inner, center=(d, 0.0))
    return Outline((np.concatenate([outer_arc, inner_arc[1:-1]]),))


def _arrow(rng: np.random.Generator) -> Outline:
    """An arrow pointing up with a random head width, head length and shaft width."""
    head, head_length, shaft = rng.uniform(0.5, 0.75), rng.uniform(0.45, 0.75), rng.uniform(0.14, 0.26)
    neck = -1.0 + head_length
    return Outline((_mirrored(_points((0.0, -1.0), (head, neck), (shaft, neck), (shaft, 1.0))),))


def _ring(rng: np.random.Generator) -> Outline:
    """A unit disc with a concentric hole of radius 0.45-0.7."""
    inner = rng.uniform(0.45, 0.7)
    return Outline((_ellipse(1.0, 1.0),), (_ellipse(inner, inner),))


def _diamond(rng: np.random.Generator) -> Outline:
    """An upright rhombus 2 high and 1.0-1.44 wide."""
    return Outline((_mirrored(_points((0.0, -1.0), (rng.uniform(0.5, 0.72), 0.0), (0.0, 1.0))),))


def _trapezoid(rng: np.random.Generator) -> Outline:
    """An isosceles trapezoid, 2 wide at the bottom and 0.6-1.2 wide at the top."""
    top, height = rng.uniform(0.3, 0.6), rng.uniform(0.5, 0.75)
    return Outline((_mirrored(_points((top, -height), (1.0, height))),))


def _house(rng: np.random.Generator) -> Outline:
    """A house with a chimney on the right roof slope and one or two square windows."""
    eave = 0.7 + rng.uniform(0.0, 0.15)
    chimney = rng.uniform(0.25, 0.4)

    def roof(x: float) -> float:
        return -1.0 + 0.85 * x / eave

    body = _points(
        (0.0, -1.0),
        (chimney, roof(chimney)),
        (chimney, -0.95),
        (chimney + 0.15, -0.95),
        (chimney + 0.15, roof(chimney + 0.15)),
        (eave, -0.15),
        (0.7, -0.15),
        (0.7, 1.0),
        (-0.7, 1.0),
        (-0.7, -0.15),
        (-eave, -0.15),
    )
    pane = rng.uniform(0.14, 0.2)
    centers = (-0.33, 0.33) if rng.random() < 0.5 else (0.0,)
    windows = tuple(
        _points(
            (c - pane, 0.25 - pane), (c + pane, 0.25 - pane), (c + pane, 0.25 + pane), (c - pane, 0.25 + pane)
        )
        for c in centers
    )
    return Outline((body,), windows)


def _lightning(rng: np.random.Generator) -> Outline:
    """A zig-zag lightning bolt pointing down, each vertex jittered by up to 0.05."""
    template = _points(
        (-0.1, -1.0), (0.5, -1.0), (0.1, -0.15), (0.5, -0.15), (-0.4, 1.0), (-0.05, 0.15), (-0.45, 0.15)
    )
    return Outline((template + rng.uniform(-0.05, 0.05, template.shape),))


def _cloud(rng: np.random.Generator) -> Outline:
    """Scalloped bumps around an ellipse, flattened at the bottom."""
    bumps, depth = int(rng.integers(5, 9)), rng.uniform(0.18, 0.26)
    shape = _polar(lambda a: 0.78 + depth * np.abs(np.sin(bumps * a / 2)))
    shape[:, 1] = np.minimum(shape[:, 1], rng.uniform(0.45, 0.65))
    return Outline((shape,))


def _teardrop(rng: np.random.Generator) -> Outline:
    """A drop pointed at the top, of random width and tip sharpness."""
    t = np.linspace(0.0, 2 * math.pi, 160, endpoint=False)
    width, sharpness = rng.uniform(0.7, 0.9), rng.uniform(1.0, 2.0)
    x = width * np.sin(t) * np.abs(np.sin(t / 2)) ** sharpness
    return Outline((np.stack([x, -np.cos(t)], axis=1),))


def _gear(rng: np.random.Generator) -> Outline:
    """A gear of 8-13 trapezoidal teeth around a round hole."""
    teeth, root, hole = int(rng.integers(8, 14)), rng.uniform(0.74, 0.84), rng.uniform(0.22, 0.38)
    shape = _polar(lambda a: root + (1 - root) * np.clip(0.5 + 2.5 * np.cos(teeth * a), 0.0, 1.0), 720)
    return Outline((shape,), (_ellipse(hole, hole),))


def _key(rng: np.random.Generator) -> Outline:
    """A round bow with a hole, a shaft to x = 1 and two or three teeth below its end."""
    bow, shaft = rng.uniform(0.32, 0.42), rng.uniform(0.09, 0.12)
    center = -1.0 + bow
    junction = math.asin(shaft / bow)
    arc = _arc(bow, bow, -junction, -2 * math.pi + junction, center=(center, 0.0))
    edges = np.linspace(0.4, 0.95, 2 * int(rng.integers(2, 4)))
    depths = rng.uniform(0.12, 0.25, len(edges) // 2)
    bottom = []
    for (x0, x1), depth in zip(edges.reshape(-1, 2), depths, strict=True):
        bottom += [(x0, shaft), (x0, shaft + depth), (x1, shaft + depth), (x1, shaft)]
    outline = np.concatenate([arc, _points(*bottom), _points((1.0, shaft), (1.0, -shaft))])
    return Outline((outline,), (_ellipse(0.45 * bow, 0.45 * bow, (center, 0.0)),))


def _cup(rng: np.random.Generator) -> Outline:
    """A tapered cup with a D-shaped handle on its right side; the handle's opening is a hole."""
    top, bottom = rng.uniform(0.55, 0.7), rng.uniform(0.4, 0.55)
    reach, height, thickness = rng.uniform(0.35, 0.45), rng.uniform(0.35, 0.5), rng.uniform(0.12, 0.17)

    def handle(rx: float, ry: float) -> np.ndarray:
        angles = np.linspace(-math.pi / 2, math.pi / 2, 48)
        y = ry * np.sin(angles)
        edge = top + (bottom - top) * (y + 0.8) / 1.6
        return np.stack([edge + rx * np.cos(angles), y], axis=1)

    body = np.concatenate(
        [_points((-top, -0.8), (top, -0.8)), handle(reach, height), _points((bottom, 0.8), (-bottom, 0.8))]
    )
    return Outline((body,), (handle(reach - thickness, height - thickness),))


def _tree(rng: np.random.Generator) -> Outline:
    """A pine tree: two to four stacked triangular tiers on a trunk."""
    tiers, widest, trunk = int(rng.integers(2, 5)), rng.uniform(0.7, 0.9), rng.uniform(0.1, 0.18)
    right = [(0.0, -1.0)]
    for tier in range(1, tiers + 1):
        y, width = -1.0 + 1.45 * tier / tiers, widest * tier / tiers
        right += [(width, y), (0.45 * width if tier < tiers else trunk, y)]
    right.append((trunk, 1.0))
    return Outline((_mirrored(_points(*right)),))


def _fish(rng: np.random.Generator) -> Outline:
    """A lens-shaped body facing left, a forked tail on the right and an eye (a hole)."""
    height, tail = rng.uniform(0.4, 0.55), rng.uniform(0.35, 0.5)
    u = np.linspace(0.0, 0.9, 40)
    x, y = -1.0 + 1.5 * u, height * np.sin(math.pi * u) ** 0.75
    upper = np.stack([x, -y], axis=1)
    lower = np.stack([x, y], axis=1)[::-1]
    fin = _points((1.0, -tail), (rng.uniform(0.72, 0.85), 0.0), (1.0, tail))
    eye = _ellipse(0.07, 0.07, (-0.6, -0.2 * height))
    return Outline((np.concatenate([upper, fin, lower[:-1]]),), (eye,))


def _flower(rng: np.random.Generator) -> Outline:
    """A flower of 5-8 rounded petals around a round hole."""
    petals, notch, center = int(rng.integers(5, 9)), rng.uniform(0.35, 0.5), rng.uniform(0.18, 0.26)
    shape = _polar(lambda a: notch + (1 - notch) * np.abs(np.cos(petals * a / 2)) ** 0.6, 480)
    return Outline((shape,), (_ellipse(center, center),))


def _hourglass(rng: np.random.Generator) -> Outline:
    """Two triangles meeting tip to tip at a narrow neck."""
    width, neck = rng.uniform(0.6, 0.8), rng.uniform(0.08, 0.18)
    return Outline((_mirrored(_points((width, -1.0), (neck, 0.0), (width, 1.0))),))


def _mushroom(rng: np.random.Generator) -> Outline:
    """A half-elliptic cap on a slightly flared stem."""
    cap, stem = rng.uniform(0.6, 0.85), rng.uniform(0.2, 0.3)
    dome = _arc(1.0, cap, -math.pi / 2, 0.0, n=48)
    return Outline((_mirrored(np.concatenate([dome, _points((stem, 0.18), (1.2 * stem, 1.0))])),))


def _semicircle(rng: np.random.Generator) -> Outline:
    """The upper half of the unit disc."""
    return Outline((_arc(1.0, 1.0, math.pi, 2 * math.pi),))


@dataclass(frozen=True)
class Category:
    """How to draw one category.

    Attributes:
        name: the label and caption noun.
        build: draws the class parameters from a generator and returns the unit-frame outline
            (each builder's docstring says what varies between instances).
        aspect: range of the x/y stretch applied before rotation.
        rotation: largest rotation either way, in degrees.
        flip: whether instances are mirrored left-right at random.
    """

    name: str
    build: Callable[[np.random.Generator], Outline]
    aspect: tuple[float, float] = (0.9, 1.1)
    rotation: float = 180.0
    flip: bool = False


CATEGORY_SPECS: tuple[Category, ...] = (
    Category("circle", _circle, aspect=(0.95, 1.05)),
    Category("ellipse", _ellipse_shape, aspect=(0.95, 1.05)),
    Category("triangle", _triangle, aspect=(0.8, 1.2)),
    Category("square", _square, aspect=(0.85, 1.15)),
    Category("pentagon", _regular(5)),
    Category("hexagon", _regular(6)),
    Category("star", _star),
    Category("cross", _cross),
    Category("heart", _heart, aspect=(0.85, 1.15), rotation=25.0),
    Category("crescent", _crescent, aspect=(0.85, 1.15)),
    Category("arrow", _arrow, aspect=(0.85, 1.15)),
    Category("ring", _ring),
    Category("diamond", _diamond, rotation=20.0),
    Category("trapezoid", _trapezoid, aspect=(0.85, 1.2), rotation=20.0),
    Category("house", _house, aspect=(0.85, 1.15), rotation=10.0, flip=True),
    Category("lightning", _lightning, aspect=(0.85, 1.15), rotation=20.0, flip=True),
    Category("cloud", _cloud, aspect=(1.25, 1.6), rotation=10.0, flip=True),
    Category("teardrop", _teardrop, aspect=(0.85, 1.15), rotation=30.0),
    Category("gear", _gear, aspect=(0.95, 1.05)),
    Category("key", _key, flip=True),
    Category("cup", _cup, aspect=(0.85, 1.15), rotation=15.0, flip=True),
    Category("tree", _tree, aspect=(0.8, 1.2), rotation=10.0),
    Category("fish", _fish, aspect=(0.85, 1.2), rotation=25.0, flip=True),
    Category("flower", _flower, aspect=(0.95, 1.05)),
    Category("hourglass", _hourglass, aspect=(0.8, 1.2), rotation=15.0),
    Category("mushroom", _mushroom, aspect=(0.85, 1.2), rotation=15.0),
    Category("semicircle", _semicircle),
)

CATEGORIES: tuple[str, ...] = tuple(category.name for category in CATEGORY_SPECS)
"""The category names, in a fixed order (a category's index seeds its instances)."""
