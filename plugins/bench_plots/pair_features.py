"""Spatial feature maps of sketch/photo pairs at several timesteps (the input of the PCA figure).

Loads the backbone and dataset of a planned configuration through the registry's lazy targets and
reads the layer's maps exactly as ``bench run`` does before pooling: the same preprocessing, taps
fused to the coarsest map, noise seeded by (seed, image content), maps averaged over noise draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from bench import BenchError
from bench.components import PromptCondition
from bench.devices import resolve_device, resolve_dtype
from bench.extract import item_digest, noise_seed
from bench.layers import LayerPlan
from bench.planning import PlannedRun
from bench.pooling import fuse_taps
from bench.registry import Registry
from bench.runner import Reporter
from bench_plots.pairs import choose_pairs

BATCH = 4  # images per backbone call (small: the progress bar moves, memory stays low)


@dataclass(frozen=True)
class ExtractionSettings:
    """How features are computed: noise draws averaged per map, run seed, device and precision."""

    noise_samples: int = 1
    seed: int = 0
    device: str = "auto"
    dtype: str = "fp32"


@dataclass(frozen=True)
class PairFeatures:
    """Feature maps of P sketch/photo pairs.

    Attributes:
        sketches, photos: (P, S, S, 3) uint8 input images at the backbone's resolution S.
        labels: the P pairs' class names.
        maps: ``{t: (sketch maps, photo maps)}``, each (P, C, h, w) float32 (mean over noise draws).
    """

    sketches: np.ndarray
    photos: np.ndarray
    labels: list[str]
    maps: dict[int | None, tuple[np.ndarray, np.ndarray]]


def pair_features(
    runs: Sequence[PlannedRun],
    registry: Registry,
    pairs: int,
    settings: ExtractionSettings,
    reporter: Reporter,
) -> PairFeatures:
    """Maps of ``runs[0]``'s layer at every run's timestep, for ``pairs`` pairs of its dataset.

    Args:
        runs: planned configurations that differ only in ``t`` (one per timestep).
        pairs: how many sketch/photo pairs (fewer when the test split has fewer).

    Raises:
        BenchError: a layer without a spatial map, a dataset that cannot be opened or has no pairs.
    """
    first = runs[0]
    _check_spatial(first)
    dataset = first.open_dataset()
    chosen = choose_pairs(dataset, pairs)
    if not chosen:
        raise BenchError(f"Dataset {first.dataset.id!r} has no sketch/photo pair in its test split.")
    if len(chosen) < pairs:
        reporter.status(f"{first.dataset.id} has {len(chosen)} pair(s) with distinct photos; showing those")
    device = resolve_device(settings.device)
    reporter.status(f"loading backbone {first.backbone.id} ({first.weights})")
    backbone = first.load_backbone(device, resolve_dtype(settings.dtype, device))
    prompt = first.prompt_condition(registry)
    timesteps = tuple(run.t for run in runs)
    size = (first.image_size, first.image_size)
    inputs = {
        modality: [dataset.load_image(pair[index]).convert("RGB") for pair in chosen]
        for index, modality in enumerate(("sketch", "photo"))
    }
    seeds = {  # as `bench run` seeds them: by each image's content
        modality: [noise_seed(settings.seed, item_digest(dataset, pair[index])) for pair in chosen]
        for index, modality in enumerate(("sketch", "photo"))
    }
    maps: dict[str, dict[int | None, np.ndarray]] = {}
    description = f"{first.backbone.id} {first.layer.name} maps of {len(chosen)} pairs"
    with reporter.progress(description, 2 * len(chosen)) as advance:
        for modality, images in inputs.items():
            maps[modality] = _layer_maps(
                backbone, images, seeds[modality], modality, first.layer, timesteps, prompt, settings, advance
            )
    return PairFeatures(
        sketches=np.stack([np.asarray(image.resize(size, Image.BICUBIC)) for image in inputs["sketch"]]),
        photos=np.stack([np.asarray(image.resize(size, Image.BICUBIC)) for image in inputs["photo"]]),
        labels=[sketch.label for sketch, _ in chosen],
        maps={t: (maps["sketch"][t], maps["photo"][t]) for t in timesteps},
    )


def _check_spatial(run: PlannedRun) -> None:
    """BenchError when a tap of the run's layer is a vector (nothing to show as an image)."""
    vectors = [tap for tap in run.layer.taps if run.backbone.layer(tap).stride == 0]  # type: ignore[union-attr]
    if vectors:
        maps = [layer.name for layer in run.backbone.layers if layer.stride > 0]
        raise BenchError(
            f"Layer {run.layer.name!r} of backbone {run.backbone.id!r} is a vector ({', '.join(vectors)}), "
            "not a spatial feature map: PCA maps need a map.",
            f"Layers of {run.backbone.id} with a map: {', '.join(maps) or '(none)'}.",
        )


def _layer_maps(
    backbone: Any,
    images: list[Image.Image],
    seeds: list[int],
    modality: str,
    layer: LayerPlan,
    timesteps: tuple[int | None, ...],
    prompt: PromptCondition,
    settings: ExtractionSettings,
    advance: Callable[[int], None],
) -> dict[int | None, np.ndarray]:
    """``{t: (B, C, h, w)}`` fused maps of ``layer`` for ``images``, averaged over noise draws."""
    chunks: dict[int | None, list[np.ndarray]] = {t: [] for t in timesteps}
    for start in range(0, len(images), BATCH):
        batch = images[start : start + BATCH]
        with torch.inference_mode():
            features = backbone.extract(
                backbone.preprocess(batch),
                modality=modality,
                taps=layer.taps,
                timesteps=timesteps,
                noise_samples=settings.noise_samples,
                noise_seeds=seeds[start : start + BATCH],
                prompt=prompt,
            )
        for t in timesteps:
            fused = fuse_taps([features[t][tap] for tap in layer.taps])  # (B, N, C, h, w)
            chunks[t].append(fused.float().mean(dim=1).cpu().numpy())
        advance(len(batch))
    return {t: np.concatenate(parts) for t, parts in chunks.items()}
