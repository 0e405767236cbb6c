"""Spatial feature maps of sketch/photo pairs at several timesteps (the input of the PCA figure).

Through the public Python API (``bench.load_backbone``, ``bench.open_dataset``,
``bench.feature_maps``), so the maps are read exactly as ``bench run`` reads them before pooling:
the same preprocessing, taps fused to the coarsest map, noise seeded by (seed, image content),
maps averaged over noise draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

import bench
from bench import BenchError, Reporter
from bench_plots.pairs import choose_pairs


@dataclass(frozen=True)
class PcaSettings:
    """What the PCA figure shows and how its features are computed."""

    backbone: str
    layer: str
    dataset: str
    timesteps: tuple[int, ...] = ()
    prompt: str = "none"
    noise_samples: int = 1
    seed: int = 0
    device: str = "auto"
    dtype: str = "fp32"
    image_size: int | None = None
    weights: str | None = None
    data_root: str | None = None
    dataset_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PairFeatures:
    """Feature maps of P sketch/photo pairs.

    Attributes:
        sketches, photos: (P, S, S, 3) uint8 input images at the backbone's resolution S.
        labels: the P pairs' class names.
        maps: ``{t: (sketch maps, photo maps)}``, each (P, C, h, w) float32 (mean over noise draws).
        info: the backbone's registration; image_size: its input resolution S.
    """

    sketches: np.ndarray
    photos: np.ndarray
    labels: list[str]
    maps: dict[int | None, tuple[np.ndarray, np.ndarray]]
    info: bench.BackboneInfo
    image_size: int


def pair_features(settings: PcaSettings, pairs: int, registry: Any, reporter: Reporter) -> PairFeatures:
    """Maps of ``settings.layer`` at every timestep for ``pairs`` pairs of the dataset's test split.

    Raises:
        BenchError: a layer without a spatial map, a dataset that cannot be opened or has no pairs.
    """
    dataset = bench.open_dataset(
        settings.dataset, data_root=settings.data_root, options=settings.dataset_options, registry=registry
    )
    chosen = choose_pairs(dataset, pairs)
    if not chosen:
        raise BenchError(f"Dataset {settings.dataset!r} has no sketch/photo pair in its test split.")
    if len(chosen) < pairs:
        reporter.status(f"{settings.dataset} has {len(chosen)} pair(s) with distinct photos; showing those")
    reporter.status(f"loading backbone {settings.backbone}")
    backbone = bench.load_backbone(
        settings.backbone,
        weights=settings.weights,
        image_size=settings.image_size,
        device=settings.device,
        dtype=settings.dtype,
        registry=registry,
    )
    maps = {
        modality: bench.feature_maps(
            backbone,
            [pair[index] for pair in chosen],
            dataset=dataset,
            layer=settings.layer,
            timesteps=settings.timesteps,
            noise_samples=settings.noise_samples,
            seed=settings.seed,
            modality=modality,
            prompt=settings.prompt,
            registry=registry,
            reporter=reporter,
        )
        for index, modality in enumerate(("sketch", "photo"))
    }
    size = (backbone.model.image_size,) * 2
    images = {
        modality: np.stack(
            [
                np.asarray(dataset.load_image(pair[index]).convert("RGB").resize(size, Image.BICUBIC))
                for pair in chosen
            ]
        )
        for index, modality in enumerate(("sketch", "photo"))
    }
    return PairFeatures(
        sketches=images["sketch"],
        photos=images["photo"],
        labels=[sketch.label for sketch, _ in chosen],
        maps={t: (maps["sketch"][t], maps["photo"][t]) for t in maps["sketch"]},
        info=backbone.info,
        image_size=backbone.model.image_size,
    )
