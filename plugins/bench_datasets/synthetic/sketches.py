"""Sketches: near-black, hand-drawn-looking strokes along the contours of an instance or a scene."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from bench_datasets.synthetic.canvas import SUPERSAMPLE, flat_points
from bench_datasets.synthetic.instances import SKETCH_STREAM, instance_outline, seeded_rng
from bench_datasets.synthetic.shapes import Outline, rotation


def _hand_distorted(outline: Outline, rng: np.random.Generator, size: int) -> Outline:
    """``outline`` under a small random affine map about its centre (a few degrees, percent, pixels)."""
    low, high = outline.bounds()
    center = (low + high) / 2
    shear = np.array([[1.0, rng.uniform(-0.05, 0.05)], [0.0, 1.0]])
    matrix = rotation(rng.uniform(-4.0, 4.0)) @ np.diag(rng.uniform(0.95, 1.05, 2)) @ shear
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
    draw.line(flat_points(stroke), fill=ink, width=pixels, joint="curve")
    radius = pixels / 2
    for x, y in (stroke[0] * SUPERSAMPLE, stroke[-1] * SUPERSAMPLE):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=ink)


def _retrace(stroke: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A random 30-70% stretch of ``stroke`` shifted by about 1% of ``size``: a second pass of the pen."""
    span = max(3, int(len(stroke) * rng.uniform(0.3, 0.7)))
    start = int(rng.integers(0, max(1, len(stroke) - span)))
    return stroke[start : start + span] + rng.normal(0.0, 0.01 * size, 2)


def draw_sketch(outlines: Sequence[Outline], rng: np.random.Generator, size: int) -> Image.Image:
    """A sketch of ``outlines`` (canvas pixels): their contours as wobbly, broken, near-black strokes.

    One pen (width and ink) draws every outline, each under its own slight hand distortion.
    Strokes are 1-2.2 px wide at ``size`` <= 128 and proportionally wider above. Every random
    decision is drawn from ``rng``, in a fixed order.

    Returns:
        An RGB image of ``size`` x ``size`` pixels, white background.
    """
    width, ink = rng.uniform(1.0, 2.2) * max(1.0, size / 128), int(rng.integers(0, 60))
    canvas = Image.new("L", (size * SUPERSAMPLE,) * 2, 255)
    draw = ImageDraw.Draw(canvas)
    for outline in outlines:
        for contour in _hand_distorted(outline, rng, size).contours:
            loop = _wobbled(_resampled(contour, size / 128), rng, size)
            for piece in _stroke_pieces(loop, rng, size):
                stroke = _varied_ends(piece, rng, size)
                _draw_stroke(draw, stroke, width * rng.uniform(0.8, 1.2), ink)
                if rng.random() < 0.25:
                    _draw_stroke(draw, _retrace(stroke, rng, size), 0.7 * width, ink)
    return canvas.resize((size, size), Image.LANCZOS).convert("RGB")


def render_sketch(seed: int, category_index: int, instance: int, sketch_index: int, size: int) -> Image.Image:
    """Sketch ``sketch_index`` of one instance (see :func:`draw_sketch`): an RGB ``size`` px image."""
    outline = instance_outline(seed, category_index, instance, size)
    rng = seeded_rng(SKETCH_STREAM, seed, category_index, instance, sketch_index)
    return draw_sketch([outline], rng, size)
