"""Using sbir-bench from Python (a notebook, a script, a plugin's command).

The same code paths as ``bench run``, one step at a time::

    import bench

    backbone = bench.load_backbone("sd-tiny", device="cpu")
    dataset = bench.open_dataset("synthetic", options={"num_classes": 6, "num_unseen": 3})
    queries, gallery = dataset.split("query"), dataset.split("gallery")
    q = bench.descriptors(backbone, queries, dataset=dataset, layer="up1", t=200, noise_samples=2)
    g = bench.descriptors(backbone, gallery, dataset=dataset, layer="up1", t=200, noise_samples=2)
    metrics = bench.score(q, g, queries, gallery, dataset="synthetic")  # its task's metrics

``descriptors`` and ``feature_maps`` take PIL images or a dataset's items; noise is seeded per image
by its content exactly as ``bench run`` seeds it, so the numbers equal the command line's. ``score``
ranks and scores descriptors with a registered task and its metrics (``bench list tasks``).
:func:`run` runs a whole configuration (a config file and overrides) and returns its results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.api.components import PromptCondition
from bench.api.datasets import Dataset, ImageItem
from bench.api.errors import BenchError
from bench.api.reporting import Reporter, SilentReporter
from bench.config.run_config import SweepSpec
from bench.extraction.features import LoadedBackbone
from bench.plan.layers import LayerPlan, resolve_layer
from bench.plan.runs import check_timesteps, split_prompt
from bench.registry.tables import Registry
from bench.results.schema import RunResult

__all__ = [
    "LoadedBackbone",
    "descriptors",
    "feature_maps",
    "load_backbone",
    "open_dataset",
    "plugin_registry",
    "run",
    "score",
]


def plugin_registry(plugin_files: Sequence[str | Path] = ()) -> Registry:
    """Every component of the installed plugins (and of one-file ``plugin_files``)."""
    from bench.registry.manager import load_plugins

    return load_plugins([Path(p) for p in plugin_files]).build_registry()


def _registry(registry: Registry | None) -> Registry:
    return registry if registry is not None else plugin_registry()


def _checked(function: str, **settings: Any) -> SweepSpec:
    """``settings`` (fields of :class:`SweepSpec`: seed, batch_size, image_size, ...) checked as the
    command line checks them.

    Raises:
        BenchError: naming ``function`` and each setting of the wrong type or out of range, with
            what it allows.
    """
    from pydantic import ValidationError

    from bench.api.validation import schema_error

    try:
        return SweepSpec(**settings)
    except ValidationError as exc:
        raise schema_error(exc, f"{function}()", model=SweepSpec) from None


def load_backbone(
    backbone_id: str,
    *,
    weights: str | Path | None = None,
    image_size: int | None = None,
    device: str = "auto",
    dtype: str = "fp32",
    registry: Registry | None = None,
) -> LoadedBackbone:
    """Load a registered backbone (``bench list backbones``) as ``bench run`` does.

    Args:
        weights: a hub id or local directory (default: the backbone's).
        image_size: input resolution in pixels (default: the backbone's).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; dtype: ``fp32``, ``fp16``, ``bf16``.

    Raises:
        BenchError: an unknown backbone, a setting ``bench run`` would refuse (naming it), or
            weights that are not available.
    """
    from bench.api.components import resolve_target
    from bench.extraction.devices import resolve_device, resolve_dtype
    from bench.extraction.loading import load_backbone as load

    _checked("load_backbone", image_size=image_size, device=device, dtype=dtype)
    registry = _registry(registry)
    info = registry.backbones.get(backbone_id)
    weights = str(weights) if weights else info.weights
    if info.weights_check is not None:
        resolve_target(info.weights_check, f"the weights check of {info.id}")(weights)
    torch_device = resolve_device(device)
    return load(
        info,
        registry.backbones.owner(info.id),
        weights=weights,
        device=torch_device,
        dtype=resolve_dtype(dtype, torch_device),
        image_size=image_size or info.image_size,
    )


def open_dataset(
    dataset_id: str,
    *,
    data_root: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> Dataset:
    """Open a registered dataset (``bench list datasets``) with its root and options, checked as
    ``bench run`` checks them."""
    from bench.plan.runs import check_dataset_options, dataset_root
    from bench.plan.runs import open_dataset as open_checked

    spec = SweepSpec(
        dataset=(dataset_id,),
        data_root={dataset_id: str(data_root)} if data_root is not None else {},
        dataset_options=dict(options or {}),
    )
    registry = _registry(registry)
    info = registry.datasets.get(dataset_id)
    check_dataset_options(spec, [info])
    return open_checked(
        info, registry.datasets.owner(info.id), dataset_root(spec, info), spec.dataset_options
    )


def _condition(prompt: str, backbone: LoadedBackbone, registry: Registry) -> PromptCondition:
    from bench.api.components import resolve_target

    scheme_id, argument = split_prompt(prompt)
    scheme = registry.prompt_schemes.get(scheme_id)
    if scheme.needs_text_encoder and not backbone.info.accepts_text:
        raise BenchError(f"Prompt {prompt!r} needs a backbone whose features depend on text.")
    return resolve_target(scheme.build, f"prompt scheme {scheme_id!r}")(argument)


def _dataset_items(images: Sequence[Any], dataset: Dataset | None, modality: str) -> tuple[Dataset, list]:
    """``(dataset, items)`` for a dataset's items, or for PIL images of ``modality`` (then an
    in-memory dataset of them), so both go through one path."""
    if images and isinstance(images[0], ImageItem):
        if dataset is None:
            raise BenchError("Dataset items were given without their dataset.", "Pass dataset=DATASET.")
        return dataset, list(images)
    memory = _InMemoryImages(images, modality)
    return memory, memory.split("query")


def _images_and_seeds(dataset: Dataset, items: Sequence[ImageItem], seed: int) -> tuple[list[Any], list[int]]:
    """The items' PIL images and noise seeds (by content, as ``bench run`` seeds them)."""
    from bench.extraction.digests import item_digest, noise_seed

    images = [dataset.load_image(item) for item in items]
    return images, [noise_seed(seed, item_digest(dataset, item)) for item in items]


def _layer_and_timesteps(
    backbone: LoadedBackbone,
    layer: str | None,
    timesteps: Sequence[int],
    registry: Registry,
    pool: str | None = None,
) -> tuple[LayerPlan, tuple[int | None, ...]]:
    plan = resolve_layer(layer or backbone.info.default_layer, backbone.info, registry.layer_selectors, pool)
    return plan, tuple(check_timesteps(tuple(timesteps), backbone.info))


def _batches(count: int, batch_size: int) -> list[slice]:
    return [slice(start, start + batch_size) for start in range(0, count, batch_size)]


def descriptors(
    backbone: LoadedBackbone,
    images: Sequence[Any],
    *,
    dataset: Dataset | None = None,
    layer: str | None = None,
    pool: str | None = None,
    t: int | None = None,
    noise_samples: int = 1,
    seed: int = 0,
    modality: str = "photo",
    prompt: str = "none",
    batch_size: int = 16,
    registry: Registry | None = None,
) -> np.ndarray:
    """(len(images), D) float32 descriptors of PIL ``images`` (or a ``dataset``'s items, whose
    modality each item says): per noise draw pooled and L2-normalised, then averaged over draws.

    Args:
        layer: a tap, ``tap+tap`` or selector (default: the backbone's default layer).
        pool: ``gap``, ``gmp``, ``gem`` or ``flatten`` (default: the layer's).
        t: the diffusion timestep (diffusion backbones; None for image encoders).
        noise_samples, seed: noise draws averaged per image and the run seed.
        modality: ``"sketch"`` or ``"photo"`` for PIL images (selects the visual prompt).
        prompt: a prompt scheme value as for ``--prompt``.

    Raises:
        BenchError: a setting ``bench run`` would refuse (naming it and what it allows).
    """
    from bench.extraction.loop import ExtractionRequest, extract_descriptors

    _checked("descriptors", noise_samples=noise_samples, seed=seed, batch_size=batch_size)
    registry = _registry(registry)
    plan, steps = _layer_and_timesteps(backbone, layer, () if t is None else (t,), registry, pool)
    dataset, items = _dataset_items(images, dataset, modality)
    request = ExtractionRequest(
        layers=(plan,),
        timesteps=steps,
        noise_samples=noise_samples,
        seed=seed,
        prompt=_condition(prompt, backbone, registry),
        batch_size=batch_size,
    )  # the loop of `bench run`: batches of one modality, noise seeded by image content
    extraction = extract_descriptors(backbone, dataset, items, request, workers=0, strict=True)
    return extraction.descriptors[(steps[0], plan.name)]


class _InMemoryImages(Dataset):
    """PIL images as a dataset, so they go through the extraction loop; an image's key is its index."""

    def __init__(self, images: Sequence[Any], modality: str) -> None:
        self.images = list(images)
        self.items = [ImageItem(str(index), modality, "") for index in range(len(images))]  # type: ignore[arg-type]

    def split(self, name: str) -> list[ImageItem]:
        return self.items

    def load_image(self, item: ImageItem) -> Any:
        return self.images[int(item.key)]


def feature_maps(
    backbone: LoadedBackbone,
    images: Sequence[Any],
    *,
    dataset: Dataset | None = None,
    layer: str | None = None,
    timesteps: Sequence[int] = (),
    noise_samples: int = 1,
    seed: int = 0,
    modality: str = "photo",
    prompt: str = "none",
    batch_size: int = 4,
    registry: Registry | None = None,
    reporter: Reporter | None = None,
) -> dict[int | None, np.ndarray]:
    """``{t: (len(images), C, h, w)}`` float32 spatial maps of ``layer`` (its taps fused to the
    coarsest map), averaged over noise draws, for each timestep (``{None: ...}`` for an image
    encoder). Images and seeds as in :func:`descriptors`; ``modality`` applies to all of them.

    Raises:
        BenchError: the layer is a vector (no spatial map), or any invalid setting.
    """
    import torch

    from bench.extraction.features import layer_features
    from bench.extraction.pooling import fuse_taps

    _checked("feature_maps", noise_samples=noise_samples, seed=seed, batch_size=batch_size)
    registry = _registry(registry)
    reporter = reporter or SilentReporter()
    plan, steps = _layer_and_timesteps(backbone, layer, timesteps, registry)
    vectors = [tap for tap in plan.taps if backbone.info.layer(tap).stride == 0]  # type: ignore[union-attr]
    if vectors:
        maps = [info.name for info in backbone.info.layers if info.stride > 0]
        raise BenchError(
            f"Layer {plan.name!r} of backbone {backbone.info.id!r} is a vector ({', '.join(vectors)}), "
            "not a spatial feature map.",
            f"Layers of {backbone.info.id} with a map: {', '.join(maps) or '(none)'}.",
        )
    condition = _condition(prompt, backbone, registry)
    pixels_in, seeds = _images_and_seeds(*_dataset_items(images, dataset, modality), seed)
    chunks: dict[int | None, list[np.ndarray]] = {t: [] for t in steps}
    with reporter.progress(f"{backbone.info.id} {plan.name} maps", len(images)) as advance:
        for part in _batches(len(images), batch_size):
            with torch.inference_mode():
                features = layer_features(
                    backbone,
                    backbone.preprocess(pixels_in[part]),
                    modality=modality,
                    layers=(plan,),
                    timesteps=steps,
                    noise_samples=noise_samples,
                    noise_seeds=seeds[part],
                    prompt=condition,
                )
            for t in steps:
                fused = fuse_taps(features[(t, plan.name)])  # (B, N, C, h, w)
                chunks[t].append(fused.float().mean(dim=1).cpu().numpy())
            advance(len(pixels_in[part]))
    return {t: np.concatenate(parts) for t, parts in chunks.items()}


def run(
    config: str | Path | SweepSpec = "default",
    *,
    registry: Registry | None = None,
    reporter: Reporter | None = None,
    **overrides: Any,
) -> list[RunResult]:
    """Run a configuration as ``bench run --config CONFIG`` does and return its results (also
    written to ``output_dir`` as results files).

    Args:
        config: a named config, a config file, or a :class:`SweepSpec`.
        overrides: :class:`SweepSpec` fields to replace, e.g. ``backbone=("sd-tiny",)``,
            ``dataset=("synthetic",)``, ``output_dir="results"``.

    Raises:
        BenchError: an unknown setting, or a value the schema refuses (naming the setting, what it
            holds and what it allows), before anything runs.
    """
    from dataclasses import replace

    from pydantic import ValidationError

    from bench.api.validation import schema_error
    from bench.config.files import load_config
    from bench.execution.study import execute
    from bench.plan.study import plan_study

    spec = config if isinstance(config, SweepSpec) else load_config(str(config))
    unknown = sorted(set(overrides) - set(SweepSpec.__dataclass_fields__))
    if unknown:
        raise BenchError(
            f"run() got unknown setting(s): {', '.join(unknown)}.",
            f"Valid settings: {', '.join(SweepSpec.__dataclass_fields__)}.",
        )
    try:
        spec = replace(spec, **overrides)
    except ValidationError as exc:
        raise schema_error(exc, "run()", model=SweepSpec) from None
    registry = registry if registry is not None else plugin_registry(spec.plugins)
    finished, _ = execute(plan_study(spec, registry), registry, reporter or SilentReporter())
    return [item.result for item in finished]


def score(
    query_features: Any,
    gallery_features: Any,
    queries: Sequence[ImageItem],
    gallery: Sequence[ImageItem],
    *,
    dataset: str | None = None,
    task: str | None = None,
    metrics: Sequence[str] | None = None,
    per_class_gallery: bool | None = None,
    registry: Registry | None = None,
) -> dict[str, float]:
    """The metrics of a retrieval task, computed as ``bench run`` computes them.

    Args:
        query_features: (Q, D) descriptors of ``queries``; gallery_features: (G, D) of ``gallery``
            (numpy arrays or tensors; L2-normalised here).
        queries, gallery: the items (their labels and pairing ids decide what is relevant).
        dataset: a registered dataset id: its task, metrics and gallery split (``bench list
            datasets``); or give ``task``.
        task: a registered task id (``bench list tasks``), when no ``dataset`` is given.
        metrics: the metric names to compute (``bench list metrics``; ``@K`` with a number);
            default: the dataset's, else the task's.
        per_class_gallery: rank each query against its own class's items only; default: as the
            dataset's adapter does, else False.

    Returns:
        ``{metric name: value}`` in each metric's unit (fractions, percentages or ranks).

    Raises:
        BenchError: neither or both of ``dataset`` and ``task``, an unknown id or metric name, or a
            metric plugin that fails.
    """
    from bench.api.components import resolve_target
    from bench.evaluation.measures import MetricSet
    from bench.evaluation.protocol import evaluate

    if (dataset is None) == (task is None):
        raise BenchError(
            "score() takes a dataset id or a task id (one of them).", "See `bench list datasets`."
        )
    registry = _registry(registry)
    specs = registry.evaluation_specs()
    info = registry.datasets.get(dataset) if dataset is not None else None
    task_info = specs.task(info.task if info is not None else str(task))
    names = metrics or (info.metrics if info is not None else task_info.metrics)
    if per_class_gallery is None:
        adapter = resolve_target(info.target, f"dataset {info.id!r}") if info is not None else None
        per_class_gallery = bool(getattr(adapter, "group_by_label", False))
    evaluation = evaluate(
        task_info,
        MetricSet([specs.metric(name) for name in names]),
        list(queries),
        list(gallery),
        np.asarray(query_features, dtype=np.float32),
        np.asarray(gallery_features, dtype=np.float32),
        per_class_gallery=per_class_gallery,
    )
    return evaluation.metrics
