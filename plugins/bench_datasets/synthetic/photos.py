"""Photos: filled, shaded, coloured shapes on a textured background with distractors and grain."""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from bench_datasets.synthetic.canvas import SUPERSAMPLE, flat_points
from bench_datasets.synthetic.instances import PHOTO_STREAM, instance_outline, object_colour, seeded_rng
from bench_datasets.synthetic.shapes import Outline

_MIN_BACKGROUND_DISTANCE = 110.0
"""Smallest RGB distance between an object's colour and its background's mean colour."""


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre x and y coordinates of a ``size`` px canvas: two ``(size, size)`` float32 arrays."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    return x, y


def _linear_pattern(rng: np.random.Generator, size: int) -> np.ndarray:
    """A linear ramp in a random direction: ``(size, size)`` in [0, 1]."""
    x, y = pixel_grid(size)
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
    x, y = pixel_grid(size)
    angle, period = rng.uniform(0.0, math.pi), rng.uniform(0.08, 0.25) * size
    phase = (x * math.cos(angle) + y * math.sin(angle)) * (2 * math.pi / period)
    return 0.5 + 0.5 * np.sin(phase)


def _radial_pattern(rng: np.random.Generator, size: int) -> np.ndarray:
    """Distance from a random point, normalised: ``(size, size)`` in [0, 1]."""
    x, y = pixel_grid(size)
    cx, cy = rng.uniform(0.0, size, 2).tolist()
    distance = np.hypot(x - cx, y - cy)
    return distance / distance.max()


_PATTERNS = (_linear_pattern, _cloudy_pattern, _striped_pattern, _radial_pattern)


def _hsv_colour(hue: float, saturation: float, value: float) -> np.ndarray:
    """An RGB colour (``(3,)`` float32, 0-255) from HSV components in [0, 1] (hue wraps)."""
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value), dtype=np.float32) * 255.0


def _background_colours(rng: np.random.Generator, avoid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two related background colours whose mean is far (RGB distance) from every object colour.

    Args:
        avoid: the object colours, ``(K, 3)``, 0-255.
    """
    while True:
        hue, saturation, value = rng.uniform(0.0, 1.0), rng.uniform(0.05, 0.6), rng.uniform(0.25, 0.97)
        first = _hsv_colour(hue, saturation, value)
        shade = float(np.clip(value + rng.uniform(-0.25, 0.25), 0.1, 1.0))
        second = _hsv_colour(hue + rng.uniform(-0.1, 0.1), saturation, shade)
        if np.linalg.norm((first + second) / 2 - avoid, axis=1).min() >= _MIN_BACKGROUND_DISTANCE:
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

    Its colours keep their distance from the object colours ``avoid`` (``(K, 3)``, 0-255).
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


def coverage(outline: Outline, size: int) -> np.ndarray:
    """Anti-aliased fraction of each pixel inside ``outline``: ``(size, size)`` float32 in [0, 1]."""
    canvas = Image.new("L", (size * SUPERSAMPLE,) * 2, 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in outline.fills:
        draw.polygon(flat_points(polygon), fill=255)
    for polygon in outline.holes:
        draw.polygon(flat_points(polygon), fill=0)
    return _downsampled(canvas, size)


def rim(inside: np.ndarray, width: float) -> np.ndarray:
    """A soft band along the inside of every edge of the coverage ``inside`` (``(size, size)`` in [0, 1]).

    Returns:
        ``(size, size)`` float32 in [0, 1]: 1 at the edge, fading to 0 about ``width`` px inside.
    """
    mask = Image.fromarray((inside * 255).astype(np.uint8))
    blurred = np.asarray(mask.filter(ImageFilter.GaussianBlur(width)), dtype=np.float32) / 255.0
    return inside * np.clip(2.0 * (1.0 - blurred), 0.0, 1.0)


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
    x, y = pixel_grid(size)
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


def _painted_object(
    image: np.ndarray, outline: Outline, colour: np.ndarray, light: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``image`` (``(size, size, 3)`` float32, 0-255) with one object painted over it: its soft drop
    shadow, then its shaded, rimmed surface of base RGB ``colour`` (``(3,)``) inside ``outline``.

    ``light`` is the unit ``(2,)`` vector from an object towards the light.
    """
    size = image.shape[0]
    inside = coverage(outline, size)
    image = image * (1 - rng.uniform(0.25, 0.45) * _shadow(inside, light, rng, size)[..., None])
    surface = _shaded(colour, outline, light, rng, size)
    edge = rim(inside, rng.uniform(0.015, 0.03) * size)
    surface *= 1 - rng.uniform(0.3, 0.5) * edge[..., None]
    return image + (surface - image) * inside[..., None]


def paint_photo(
    objects: Sequence[tuple[Outline, np.ndarray]], rng: np.random.Generator, size: int
) -> Image.Image:
    """A photo of ``objects`` (outline in canvas pixels, base RGB ``(3,)`` 0-255), painted in order
    (later ones on top) under one light, on a textured background kept away from their colours.

    Every random decision is drawn from ``rng``, in a fixed order.

    Returns:
        An RGB image of ``size`` x ``size`` pixels, with a little grain.
    """
    image = _background(rng, size, np.stack([colour for _, colour in objects]))
    angle = rng.uniform(0.0, 2 * math.pi)
    light = np.array([math.cos(angle), math.sin(angle)], dtype=np.float32)
    for outline, colour in objects:
        image = _painted_object(image, outline, colour, light, rng)
    image += rng.normal(0.0, rng.uniform(2.0, 6.0), (size, size, 1)).astype(np.float32)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")


def render_photo(seed: int, category_index: int, instance: int, size: int) -> Image.Image:
    """The photo of one instance: a shaded, rimmed, shadowed coloured shape on a textured background.

    Returns:
        An RGB image of ``size`` x ``size`` pixels.
    """
    outline = instance_outline(seed, category_index, instance, size)
    _, colour = object_colour(seed, category_index, instance)
    return paint_photo([(outline, colour)], seeded_rng(PHOTO_STREAM, seed, category_index, instance), size)
