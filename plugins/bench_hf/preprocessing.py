"""An image processor's settings (``preprocessor_config.json``) as resolution, mean, std and filter.

The file is read as JSON (no image-processor class is built). The resolution is the crop size when
the processor centre-crops, else its resize target; sbir-bench resizes the whole image to it
without cropping (sketches reach their borders).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_hf.architecture import PREPROCESSOR_FILE, EncoderKind

_RESAMPLE = {2: "bilinear", 3: "bicubic"}  # PIL's resample codes, as processors store them


@dataclass(frozen=True)
class Preprocessing:
    """Square input resolution (px), per-channel mean and std for [0, 1] pixels, resize filter."""

    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str


def _side(size: Any) -> int | None:
    if isinstance(size, int):
        return size
    if isinstance(size, dict):
        return size.get("height") or size.get("shortest_edge")
    return None


def read_preprocessing(folder: Path, kind: EncoderKind, config_size: int) -> Preprocessing:
    """The preprocessing of the model in ``folder``; ``kind``'s statistics at ``config_size`` px
    (bicubic) when the folder has no processor configuration."""
    path = folder / PREPROCESSOR_FILE
    settings = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    crop = _side(settings.get("crop_size")) if settings.get("do_center_crop") else None
    size = crop or _side(settings.get("size")) or config_size
    return Preprocessing(
        image_size=int(size),
        mean=tuple(settings.get("image_mean", kind.mean)),
        std=tuple(settings.get("image_std", kind.std)),
        interpolation=_RESAMPLE.get(settings.get("resample"), "bicubic"),
    )
