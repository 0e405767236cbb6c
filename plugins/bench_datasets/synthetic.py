"""A procedurally generated sketch/photo dataset: runs a real benchmark without downloading anything.

Every image is drawn from parametric shapes (``CATEGORIES``). One *instance* is one draw of a
shape's parameters and pose from a generator seeded by ``(seed, category, instance index)``, so
any image can be rendered alone, in any order, with identical pixels.

* Photos: a filled, shaded, coloured shape (lighting gradient, highlight, darker rim, soft drop
  shadow) on a textured background with distractor blobs and grain.
* Sketches: near-black, hand-drawn-looking strokes along the *same* contours, with their own
  noise (slight hand distortion, smooth wobble, broken strokes, overshoots, retraced bits).

Coordinates are canvas pixels of the output image (x right, y down) unless stated otherwise;
shape builders work in a unit frame of roughly ``[-1, 1]^2``. Imports numpy and PIL only.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from bench import Dataset, ImageItem, SplitName

SUPERSAMPLE = 4
"""Factor by which masks and strokes are drawn larger than the output, then LANCZOS-downsampled."""

_CONTOUR_POINTS = 96
"""Points on a full circle or ellipse arc (polar shapes use more for their fine detail)."""

_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (205, 35, 40),
    "orange": (240, 130, 25),
    "yellow": (240, 205, 40),
    "green": (45, 150, 60),
    "teal": (25, 150, 150),
    "blue": (40, 85, 205),
    "purple": (125, 55, 175),
    "pink": (235, 115, 170),
    "brown": (130, 80, 40),
    "gray": (135, 135, 135),
}
"""Named object colours for photos and captions (RGB, 0-255)."""

_MIN_BACKGROUND_DISTANCE = 110.0
"""Smallest RGB distance between an object's colour and its background's mean colour."""

# Stream tags keep the generators of the different random decisions of one instance independent.
_SPLIT_STREAM, _GEOMETRY_STREAM, _COLOUR_STREAM, _PHOTO_STREAM, _SKETCH_STREAM = range(5)


# --------------------------------------------------------------------------------------------
# Shapes


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


def _rotation(degrees: float) -> np.ndarray:
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
class _Category:
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


_CATEGORY_SPECS: tuple[_Category, ...] = (
    _Category("circle", _circle, aspect=(0.95, 1.05)),
    _Category("ellipse", _ellipse_shape, aspect=(0.95, 1.05)),
    _Category("triangle", _triangle, aspect=(0.8, 1.2)),
    _Category("square", _square, aspect=(0.85, 1.15)),
    _Category("pentagon", _regular(5)),
    _Category("hexagon", _regular(6)),
    _Category("star", _star),
    _Category("cross", _cross),
    _Category("heart", _heart, aspect=(0.85, 1.15), rotation=25.0),
    _Category("crescent", _crescent, aspect=(0.85, 1.15)),
    _Category("arrow", _arrow, aspect=(0.85, 1.15)),
    _Category("ring", _ring),
    _Category("diamond", _diamond, rotation=20.0),
    _Category("trapezoid", _trapezoid, aspect=(0.85, 1.2), rotation=20.0),
    _Category("house", _house, aspect=(0.85, 1.15), rotation=10.0, flip=True),
    _Category("lightning", _lightning, aspect=(0.85, 1.15), rotation=20.0, flip=True),
    _Category("cloud", _cloud, aspect=(1.25, 1.6), rotation=10.0, flip=True),
    _Category("teardrop", _teardrop, aspect=(0.85, 1.15), rotation=30.0),
    _Category("gear", _gear, aspect=(0.95, 1.05)),
    _Category("key", _key, flip=True),
    _Category("cup", _cup, aspect=(0.85, 1.15), rotation=15.0, flip=True),
    _Category("tree", _tree, aspect=(0.8, 1.2), rotation=10.0),
    _Category("fish", _fish, aspect=(0.85, 1.2), rotation=25.0, flip=True),
    _Category("flower", _flower, aspect=(0.95, 1.05)),
    _Category("hourglass", _hourglass, aspect=(0.8, 1.2), rotation=15.0),
    _Category("mushroom", _mushroom, aspect=(0.85, 1.2), rotation=15.0),
    _Category("semicircle", _semicircle),
)

CATEGORIES: tuple[str, ...] = tuple(category.name for category in _CATEGORY_SPECS)
"""The category names, in a fixed order (a category's index seeds its instances)."""


# --------------------------------------------------------------------------------------------
# Instances


def _rng(*entropy: int) -> np.random.Generator:
    """A generator seeded from the non-negative integers ``entropy`` (a stream tag first)."""
    return np.random.default_rng(np.random.SeedSequence(list(entropy)))


def _posed(outline: Outline, category: _Category, rng: np.random.Generator) -> Outline:
    """``outline`` (unit frame) stretched, maybe mirrored and rotated within the category's ranges."""
    aspect = rng.uniform(*category.aspect)
    mirror = -1.0 if category.flip and rng.random() < 0.5 else 1.0
    stretch = np.diag([mirror * math.sqrt(aspect), 1.0 / math.sqrt(aspect)])
    matrix = stretch @ _rotation(rng.uniform(-category.rotation, category.rotation))
    return outline.mapped(lambda points: points @ matrix)


def _placed(outline: Outline, rng: np.random.Generator, size: int) -> Outline:
    """``outline`` scaled so its longer side spans 50-85% of a ``size`` px canvas, placed at random.

    The result lies inside the canvas with a margin of 4% of ``size`` on every side.
    """
    low, high = outline.bounds()
    scale = rng.uniform(0.5, 0.85) * size / (high - low).max()
    margin = 0.04 * size
    room = size - 2 * margin - (high - low) * scale
    offset = margin + rng.uniform(0.0, 1.0, 2) * room - low * scale
    return outline.mapped(lambda points: points * scale + offset)


def _instance_outline(seed: int, category_index: int, instance: int, size: int) -> Outline:
    """The geometry of one instance in canvas pixels of a ``size`` px image; photo and sketches share it."""
    category = _CATEGORY_SPECS[category_index]
    rng = _rng(_GEOMETRY_STREAM, seed, category_index, instance)
    return _placed(_posed(category.build(rng), category, rng), rng, size)


def _object_colour(seed: int, category_index: int, instance: int) -> tuple[str, np.ndarray]:
    """The colour name of one instance's photo and its jittered RGB value (``(3,)`` float32, 0-255)."""
    rng = _rng(_COLOUR_STREAM, seed, category_index, instance)
    name = str(rng.choice(list(_COLOURS)))
    rgb = np.array(_COLOURS[name]) * rng.uniform(0.85, 1.1) + rng.normal(0.0, 12.0, 3)
    return name, np.clip(rgb, 0.0, 255.0).astype(np.float32)


def photo_caption(seed: int, category_index: int, instance: int) -> str:
    """The caption of one instance's photo, e.g. ``"a red star"`` (its colour name and category)."""
    colour, _ = _object_colour(seed, category_index, instance)
    return _caption(colour, CATEGORIES[category_index])


def _caption(colour: str, category: str) -> str:
    """A short description such as ``"a red star"`` or ``"an orange gear"``."""
    article = "an" if colour[0] in "aeiou" else "a"
    return f"{article} {colour} {category}"


# --------------------------------------------------------------------------------------------
# Photos


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre x and y coordinates of a ``size`` px canvas: two ``(size, size)`` float32 arrays."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    return x, y


def _linear_pattern(rng: np.random.Generator, size: int) -> np.ndarray:
    """A linear ramp in a random direction: ``(size, size)`` in [0, 1]."""
    x, y = _grid(size)
    angle = rng.uniform(0.0, 2 * math.pi)
    ramp = x * math.cos(angle) + y * math.sin(angle)
    return (ramp - ramp.min()) / (ramp.max() - ramp.min())


def _cloudy_pattern(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth value noise (a 3-7 cell random grid, bicubic-upsampled): ``(size, size)`` in [0, 1]."""
    cells = int(rng.integers(3, 8))
    coarse = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
    return np.asarray(coarse.resize((size, size), Image.BICUBIC), dtype=np.float32) / 255.0


def _striped_pattern(rng: np.random.Generator, size: int) -> np.ndarray:
    """Soft parallel stripes, period 8-25% of ``size``, in a random direction: ``(size, size)`` in [0, 1]."""
    x, y = _grid(size)
    angle, period = rng.uniform(0.0, math.pi), rng.uniform(0.08, 0.25) * size
    phase = (x * math.cos(angle) + y * math.sin(angle)) * (2 * math.pi / period)
    return 0.5 + 0.5 * np.sin(phase)


def _radial_pattern(rng: np.random.Generator, size: int) -> np.ndarray:
    """Distance from a random point, normalised: ``(size, size)`` in [0, 1]."""
    x, y = _grid(size)
    cx, cy = rng.uniform(0.0, size, 2).tolist()
    distance = np.hypot(x - cx, y - cy)
    return distance / distance.max()


_PATTERNS = (_linear_pattern, _cloudy_pattern, _striped_pattern, _radial_pattern)


def _hsv_colour(hue: float, saturation: float, value: float) -> np.ndarray:
    """An RGB colour (``(3,)`` float32, 0-255) from HSV components in [0, 1] (hue wraps)."""
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value), dtype=np.float32) * 255.0


def _background_colours(rng: np.random.Generator, avoid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two related background colours whose mean is far (RGB distance) from the object colour ``avoid``."""
    while True:
        hue, saturation, value = rng.uniform(0.0, 1.0), rng.uniform(0.05, 0.6), rng.uniform(0.25, 0.97)
        first = _hsv_colour(hue, saturation, value)
        shade = float(np.clip(value + rng.uniform(-0.25, 0.25), 0.1, 1.0))
        second = _hsv_colour(hue + rng.uniform(-0.1, 0.1), saturation, shade)
        if np.linalg.norm((first + second) / 2 - avoid) >= _MIN_BACKGROUND_DISTANCE:
            return first, second


def _blob_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """A soft-edged ellipse 10-40% of ``size`` across at a random place: ``(size, size)`` in [0, 1]."""
    mask = Image.new("L", (size, size), 0)
    cx, cy = rng.uniform(0.0, size, 2).tolist()
    rx, ry = rng.uniform(0.05, 0.2, 2) * size
    ImageDraw.Draw(mask).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    blurred = mask.filter(ImageFilter.GaussianBlur(0.02 * size))
    return np.asarray(blurred, dtype=np.float32) / 255.0


def _background(rng: np.random.Generator, size: int, avoid: np.ndarray) -> np.ndarray:
    """A textured background with 0-3 faint distractor blobs: ``(size, size, 3)`` float32, 0-255.

    Its colours keep their distance from the object colour ``avoid`` (``(3,)``, 0-255).
    """
    first, second = _background_colours(rng, avoid)
    pattern = _PATTERNS[int(rng.integers(len(_PATTERNS)))](rng, size)
    image = first + pattern[..., None] * (second - first)
    for _ in range(int(rng.integers(0, 4))):
        tint = np.clip((first + second) / 2 + rng.normal(0.0, 40.0, 3), 0.0, 255.0).astype(np.float32)
        alpha = _blob_mask(rng, size)[..., None] * rng.uniform(0.3, 0.6)
        image = image * (1 - alpha) + tint * alpha
    return image


def _downsampled(canvas: Image.Image, size: int) -> np.ndarray:
    """A supersampled ``L`` canvas reduced to ``size`` px with LANCZOS: ``(size, size)`` float32 in [0, 1]."""
    return np.asarray(canvas.resize((size, size), Image.LANCZOS), dtype=np.float32) / 255.0


def _flat(points: np.ndarray) -> list[float]:
    """Canvas points (``(N, 2)``, output pixels) as the flat supersampled coordinate list PIL draws."""
    return (points * SUPERSAMPLE).ravel().tolist()


def _coverage(outline: Outline, size: int) -> np.ndarray:
    """Anti-aliased fraction of each pixel inside ``outline``: ``(size, size)`` float32 in [0, 1]."""
    canvas = Image.new("L", (size * SUPERSAMPLE,) * 2, 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in outline.fills:
        draw.polygon(_flat(polygon), fill=255)
    for polygon in outline.holes:
        draw.polygon(_flat(polygon), fill=0)
    return _downsampled(canvas, size)


def _rim(coverage: np.ndarray, width: float) -> np.ndarray:
    """A soft band along the inside of every edge of ``coverage`` (``(size, size)`` in [0, 1]).

    Returns:
        ``(size, size)`` float32 in [0, 1]: 1 at the edge, fading to 0 about ``width`` px inside.
    """
    mask = Image.fromarray((coverage * 255).astype(np.uint8))
    blurred = np.asarray(mask.filter(ImageFilter.GaussianBlur(width)), dtype=np.float32) / 255.0
    return coverage * np.clip(2.0 * (1.0 - blurred), 0.0, 1.0)


def _shaded(
    colour: np.ndarray, outline: Outline, light: np.ndarray, rng: np.random.Generator, size: int
) -> np.ndarray:
    """The object's surface colour: darker away from the light, with a soft highlight near it.

    Args:
        colour: base RGB, ``(3,)``, 0-255.
        light: unit ``(2,)`` vector pointing from the object's centre towards the light.

    Returns:
        ``(size, size, 3)`` float32, 0-255 (meaningful inside the outline only).
    """
    low, high = outline.bounds()
    cx, cy = ((low + high) / 2).tolist()
    radius = float((high - low).max() / 2)
    x, y = _grid(size)
    dx, dy = (x - cx) / radius, (y - cy) / radius
    brightness = np.clip(0.8 + 0.3 * (dx * light[0] + dy * light[1]), 0.45, 1.15)
    spot = (dx - 0.45 * light[0]) ** 2 + (dy - 0.45 * light[1]) ** 2
    highlight = rng.uniform(0.2, 0.45) * np.exp(-spot / (2 * 0.3**2))
    surface = colour * brightness[..., None]
    return surface + (255.0 - surface) * highlight[..., None]


def _shadow(coverage: np.ndarray, light: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A blurred copy of ``coverage`` shifted away from the light: ``(size, size)`` float32 in [0, 1]."""
    dx, dy = -light * rng.uniform(0.015, 0.04) * size
    mask = Image.fromarray((coverage * 255).astype(np.uint8))
    shifted = mask.transform(mask.size, Image.AFFINE, (1, 0, -dx, 0, 1, -dy), resample=Image.BILINEAR)
    blurred = shifted.filter(ImageFilter.GaussianBlur(0.025 * size))
    return np.asarray(blurred, dtype=np.float32) / 255.0


def render_photo(seed: int, category_index: int, instance: int, size: int) -> Image.Image:
    """The photo of one instance: a shaded, rimmed, shadowed coloured shape on a textured background.

    Returns:
        An RGB image of ``size`` x ``size`` pixels.
    """
    outline = _instance_outline(seed, category_index, instance, size)
    _, colour = _object_colour(seed, category_index, instance)
    rng = _rng(_PHOTO_STREAM, seed, category_index, instance)
    background = _background(rng, size, colour)
    coverage = _coverage(outline, size)
    angle = rng.uniform(0.0, 2 * math.pi)
    light = np.array([math.cos(angle), math.sin(angle)], dtype=np.float32)
    background *= 1 - rng.uniform(0.25, 0.45) * _shadow(coverage, light, rng, size)[..., None]
    surface = _shaded(colour, outline, light, rng, size)
    rim = _rim(coverage, rng.uniform(0.015, 0.03) * size)
    surface *= 1 - rng.uniform(0.3, 0.5) * rim[..., None]
    image = background + (surface - background) * coverage[..., None]
    image += rng.normal(0.0, rng.uniform(2.0, 6.0), (size, size, 1)).astype(np.float32)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")


# --------------------------------------------------------------------------------------------
# Sketches


def _hand_distorted(outline: Outline, rng: np.random.Generator, size: int) -> Outline:
    """``outline`` under a small random affine map about its centre (a few degrees, percent, pixels)."""
    low, high = outline.bounds()
    center = (low + high) / 2
    shear = np.array([[1.0, rng.uniform(-0.05, 0.05)], [0.0, 1.0]])
    matrix = _rotation(rng.uniform(-4.0, 4.0)) @ np.diag(rng.uniform(0.95, 1.05, 2)) @ shear
    shift = rng.uniform(-0.015, 0.015, 2) * size
    return outline.mapped(lambda points: (points - center) @ matrix + center + shift)


def _resampled(contour: np.ndarray, step: float) -> np.ndarray:
    """The closed ``contour`` (``(N, 2)``) as points evenly spaced ``step`` px apart along its length."""
    closed = np.concatenate([contour, contour[:1]])
    lengths = np.hypot(*np.diff(closed, axis=0).T)
    keep = np.concatenate([[True], lengths > 0])
    closed, lengths = closed[keep], lengths[lengths > 0]
    arc = np.concatenate([[0.0], np.cumsum(lengths)])
    samples = np.linspace(0.0, arc[-1], max(8, int(arc[-1] / step)), endpoint=False)
    return np.stack([np.interp(samples, arc, closed[:, 0]), np.interp(samples, arc, closed[:, 1])], axis=1)


def _wobbled(loop: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """The closed, evenly sampled ``loop`` pushed along its normals by a smooth periodic wobble.

    The wobble is three sinusoids of 1-5 cycles per loop (one cycle per >= 25% of ``size`` of
    length) plus a faint tremor; its total amplitude is at most about 2% of ``size`` pixels.
    """
    tangent = np.roll(loop, -1, axis=0) - np.roll(loop, 1, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    length = np.hypot(*np.diff(loop, axis=0).T).sum()
    position = np.arange(len(loop)) / len(loop)
    slow = rng.integers(1, 1 + int(np.clip(length / (0.25 * size), 1, 5)), 3)
    cycles = np.append(slow, int(length / (0.05 * size)) + 1)
    amplitudes = np.append(rng.uniform(0.002, 0.007, 3), 0.0012) * size
    phases = rng.uniform(0.0, 2 * math.pi, 4)
    offset = (amplitudes * np.sin(2 * math.pi * np.outer(position, cycles) + phases)).sum(axis=1)
    return loop + normal * offset[:, None]


def _stroke_pieces(loop: np.ndarray, rng: np.random.Generator, size: int) -> list[np.ndarray]:
    """The closed ``loop`` (``(N, 2)``) cut into 1 or more open strokes from a random starting point.

    Longer loops get more strokes (up to one per ~45% of ``size`` of length); consecutive strokes
    share their end point, and cuts are jittered around even spacing.
    """
    count = len(loop)
    length = np.hypot(*np.diff(loop, axis=0).T).sum()
    pieces = int(rng.integers(1, 2 + int(length / (0.45 * size))))
    rolled = np.roll(loop, -int(rng.integers(count)), axis=0)
    closed = np.concatenate([rolled, rolled[:1]])
    spacing = count / pieces
    cuts = np.arange(1, pieces) * spacing + rng.uniform(-0.2, 0.2, pieces - 1) * spacing
    bounds = np.concatenate([[0], np.round(cuts).astype(int), [count]])
    return [closed[start : stop + 1] for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]


def _varied_end(stroke: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """``stroke`` with its last end left alone, cut short (a gap) or overshooting along its tangent.

    Gaps remove 1-3% of ``size`` of length (keeping at least 3 points); overshoots add 2-5%.
    """
    choice, step = rng.random(), np.hypot(*(stroke[-1] - stroke[-2]))
    if choice < 0.3:
        cut = int(rng.uniform(0.01, 0.03) * size / max(step, 1e-9))
        return stroke[: max(3, len(stroke) - cut)]
    if choice < 0.55:
        direction = stroke[-1] - stroke[-min(4, len(stroke))]
        direction /= max(np.linalg.norm(direction), 1e-9)
        reach = rng.uniform(0.02, 0.05) * size
        return np.concatenate([stroke, stroke[-1] + np.outer(np.linspace(0.2, 1.0, 5) * reach, direction)])
    return stroke


def _varied_ends(stroke: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """``stroke`` with each of its two ends varied independently by :func:`_varied_end`."""
    return _varied_end(_varied_end(stroke, rng, size)[::-1], rng, size)[::-1]


def _draw_stroke(draw: ImageDraw.ImageDraw, stroke: np.ndarray, width: float, ink: int) -> None:
    """Draw the polyline ``stroke`` (canvas px), ``width`` px wide with round caps, on a supersampled canvas.

    ``draw`` draws on a canvas ``SUPERSAMPLE`` times the output size; ``ink`` is a gray level, 0-255.
    """
    pixels = max(1, round(width * SUPERSAMPLE))
    draw.line(_flat(stroke), fill=ink, width=pixels, joint="curve")
    radius = pixels / 2
    for x, y in (stroke[0] * SUPERSAMPLE, stroke[-1] * SUPERSAMPLE):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=ink)


def _retrace(stroke: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A random 30-70% stretch of ``stroke`` shifted by about 1% of ``size``: a second pass of the pen."""
    span = max(3, int(len(stroke) * rng.uniform(0.3, 0.7)))
    start = int(rng.integers(0, max(1, len(stroke) - span)))
    return stroke[start : start + span] + rng.normal(0.0, 0.01 * size, 2)


def render_sketch(seed: int, category_index: int, instance: int, sketch_index: int, size: int) -> Image.Image:
    """Sketch ``sketch_index`` of one instance: its contours as wobbly, broken, near-black strokes.

    Strokes are 1-2.2 px wide at ``size`` <= 128 and proportionally wider above.

    Returns:
        An RGB image of ``size`` x ``size`` pixels, white background.
    """
    outline = _instance_outline(seed, category_index, instance, size)
    rng = _rng(_SKETCH_STREAM, seed, category_index, instance, sketch_index)
    width, ink = rng.uniform(1.0, 2.2) * max(1.0, size / 128), int(rng.integers(0, 60))
    canvas = Image.new("L", (size * SUPERSAMPLE,) * 2, 255)
    draw = ImageDraw.Draw(canvas)
    for contour in _hand_distorted(outline, rng, size).contours:
        loop = _wobbled(_resampled(contour, size / 128), rng, size)
        for piece in _stroke_pieces(loop, rng, size):
            stroke = _varied_ends(piece, rng, size)
            _draw_stroke(draw, stroke, width * rng.uniform(0.8, 1.2), ink)
            if rng.random() < 0.25:
                _draw_stroke(draw, _retrace(stroke, rng, size), 0.7 * width, ink)
    return canvas.resize((size, size), Image.LANCZOS).convert("RGB")


# --------------------------------------------------------------------------------------------
# Datasets


@dataclass(frozen=True)
class _ImageSpec:
    """What determines one image: the instance and, for a sketch, which of its sketches."""

    seed: int
    category_index: int
    instance: int
    sketch_index: int | None = None

    @property
    def key(self) -> str:
        """``"photo/star/0003"`` or ``"sketch/star/0003-0"``."""
        if self.sketch_index is None:
            return f"photo/{self.instance_id}"
        return f"sketch/{self.instance_id}-{self.sketch_index}"

    @property
    def instance_id(self) -> str:
        """The pairing id shared by a photo and its sketches, e.g. ``"star/0003"``."""
        return f"{CATEGORIES[self.category_index]}/{self.instance:04d}"

    def item(self) -> ImageItem:
        """The dataset item of this image (photos carry a caption, sketches none)."""
        label = CATEGORIES[self.category_index]
        if self.sketch_index is not None:
            return ImageItem(self.key, "sketch", label, self.instance_id)
        caption = photo_caption(self.seed, self.category_index, self.instance)
        return ImageItem(self.key, "photo", label, self.instance_id, caption)

    def render(self, size: int) -> Image.Image:
        """The RGB pixels of this image, ``size`` x ``size``."""
        if self.sketch_index is None:
            return render_photo(self.seed, self.category_index, self.instance, size)
        return render_sketch(self.seed, self.category_index, self.instance, self.sketch_index, size)


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` if it is an integer in ``[low, high]`` (no upper bound when ``high`` is None).

    Raises:
        ValueError: naming the argument, the valid range and the value given.
    """
    valid = f">= {low}" if high is None else f"in [{low}, {high}]"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer {valid}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer {valid}, got {value}")
    return int(value)


def _choose_classes(seed: int, num_classes: int, num_unseen: int) -> tuple[list[int], list[int]]:
    """Category indices (unseen, seen), each in ``CATEGORIES`` order, drawn from ``seed``."""
    order = _rng(_SPLIT_STREAM, seed).permutation(len(CATEGORIES))
    return sorted(order[:num_unseen].tolist()), sorted(order[num_unseen:num_classes].tolist())


class _SyntheticDataset(Dataset):
    """Procedural shape sketches and photos (see the module docstring); subclasses pick the task.

    Args:
        seed: seeds the class split and every image (>= 0).
        num_classes: categories used, at most ``len(CATEGORIES)``.
        num_unseen: test categories (query and gallery), disjoint from the training categories.
        photos_per_class: photos (instances) per test category.
        train_photos_per_class: photos (instances) per training category.
        sketches_per_photo: sketches drawn from each photo's instance.
        image_size: side of every image, pixels.

    Raises:
        ValueError: when an argument is out of range (the message says what is valid).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        num_classes: int = 24,
        num_unseen: int = 8,
        photos_per_class: int = 12,
        train_photos_per_class: int = 12,
        sketches_per_photo: int = 1,
        image_size: int = 128,
    ) -> None:
        num_classes = _check_int("num_classes", num_classes, 2, len(CATEGORIES))
        self._options: dict[str, int] = {
            "seed": _check_int("seed", seed, 0),
            "num_classes": num_classes,
            "num_unseen": _check_int("num_unseen", num_unseen, 1, num_classes - 1),
            "photos_per_class": _check_int("photos_per_class", photos_per_class, 1, 9999),
            "train_photos_per_class": _check_int("train_photos_per_class", train_photos_per_class, 1, 9999),
            "sketches_per_photo": _check_int("sketches_per_photo", sketches_per_photo, 1, 99),
            "image_size": _check_int("image_size", image_size, 32, 1024),
        }
        options = self._options
        self._unseen, self._seen = _choose_classes(options["seed"], num_classes, options["num_unseen"])
        test = [self._instance_specs(c, i) for c in self._unseen for i in range(options["photos_per_class"])]
        train = [
            self._instance_specs(c, i) for c in self._seen for i in range(options["train_photos_per_class"])
        ]
        self._splits: dict[str, list[_ImageSpec]] = {
            "query": [spec for specs in test for spec in specs[1:]],
            "gallery": [specs[0] for specs in test],
            "train": [spec for specs in train for spec in specs],
        }
        self._specs = {spec.key: spec for specs in test + train for spec in specs}

    def _instance_specs(self, category_index: int, instance: int) -> list[_ImageSpec]:
        """The photo of one instance followed by its sketches."""
        seed, sketches = self._options["seed"], self._options["sketches_per_photo"]
        return [_ImageSpec(seed, category_index, instance)] + [
            _ImageSpec(seed, category_index, instance, k) for k in range(sketches)
        ]

    @property
    def unseen_classes(self) -> list[str]:
        """The test categories, in ``CATEGORIES`` order."""
        return [CATEGORIES[c] for c in self._unseen]

    @property
    def seen_classes(self) -> list[str]:
        """The training categories, in ``CATEGORIES`` order."""
        return [CATEGORIES[c] for c in self._seen]

    def split(self, name: SplitName) -> list[ImageItem]:
        """See :meth:`Dataset.split`; photos of an instance come before its sketches in ``"train"``."""
        if name not in self._splits:
            raise ValueError(f"split must be one of {sorted(self._splits)}, got {name!r}")
        return [spec.item() for spec in self._splits[name]]

    def load_image(self, item: ImageItem) -> Image.Image:
        """Render ``item`` (an item of this dataset) as an RGB image of ``image_size`` pixels."""
        spec = self._specs.get(item.key)
        if spec is None:
            raise ValueError(f"{item.key!r} is not an item of this dataset; pass items its split() returns")
        return spec.render(self._options["image_size"])

    def describe(self) -> dict[str, object]:
        """The generator arguments and the unseen (test) and seen (training) class lists."""
        return {**self._options, "unseen_classes": self.unseen_classes, "seen_classes": self.seen_classes}


class SyntheticCategory(_SyntheticDataset):
    """Zero-shot category-level SBIR on procedural shapes: unseen-class sketches query their photos."""

    task = "zs-sbir"


class SyntheticFineGrained(_SyntheticDataset):
    """Fine-grained SBIR on procedural shapes: each sketch's target is the photo it was drawn from.

    Same images as :class:`SyntheticCategory` for the same arguments; queries are ranked against the
    photos of their own class only.
    """

    task = "fg-sbir"
    group_by_label = True
