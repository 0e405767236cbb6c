"""A procedurally generated sketch/photo dataset: runs a real benchmark without downloading anything.

Every image is drawn from parametric shapes (``CATEGORIES``). One *instance* is one draw of a
shape's parameters and pose from a generator seeded by ``(seed, category, instance index)``, so
any image can be rendered alone, in any order, with identical pixels.

* Photos: a filled, shaded, coloured shape (lighting gradient, highlight, darker rim, soft drop
  shadow) on a textured background with distractor blobs and grain.
* Sketches: near-black, hand-drawn-looking strokes along the *same* contours, with their own
  noise (slight hand distortion, smooth wobble, broken strokes, overshoots, retraced bits).
* Scenes (``synthetic-scene``): two to four such shapes on one background, a photo and a sketch
  of the same scene (:mod:`bench_datasets.synthetic.scenes`).
* Cue conflict (``synthetic-cue-conflict``): shapes filled with their own category's texture (the
  references) or with another category's (the queries) (:mod:`bench_datasets.synthetic.cue_conflict`).

Coordinates are canvas pixels of the output image (x right, y down) unless stated otherwise;
shape builders work in a unit frame of roughly ``[-1, 1]^2``. Imports numpy and PIL only.
"""

from __future__ import annotations

from bench_datasets.synthetic.adapter import SyntheticCategory, SyntheticFineGrained
from bench_datasets.synthetic.cue_conflict import SyntheticCueConflict
from bench_datasets.synthetic.instances import photo_caption
from bench_datasets.synthetic.photos import render_photo
from bench_datasets.synthetic.scene_adapter import SyntheticScene
from bench_datasets.synthetic.shapes import CATEGORIES
from bench_datasets.synthetic.sketches import render_sketch

__all__ = [
    "CATEGORIES",
    "SyntheticCategory",
    "SyntheticCueConflict",
    "SyntheticFineGrained",
    "SyntheticScene",
    "photo_caption",
    "render_photo",
    "render_sketch",
]
