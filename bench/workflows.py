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

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack, get_args

import numpy as np

from bench.api.components import DatasetInfo, PromptCondition
from bench.api.datasets import Dataset, ImageItem, Modality
from bench.api.errors import BenchError
from bench.api.reporting import Reporter, SilentReporter
from bench.config.run_config import SweepSpec
from bench.extraction.features import LoadedBackbone
from bench.plan.layers import LayerPlan, resolve_layer
from bench.plan.runs import check_prompt, check_timesteps, prompt_condition
from bench.plan.setting_warnings import timestep_warnings
from bench.plan.settings import ExecutionSettings
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


def _checked(function: str, keywords: Mapping[str, str] | None = None, **settings: Any) -> SweepSpec:
    """``settings`` (fields of :class:`SweepSpec`: seed, batch_size, image_size, ...) checked as the
    command line checks them; ``keywords`` maps a field to the keyword ``function`` takes it as
    (``{"t": "timesteps"}``), where the two differ.

    Raises:
        BenchError: naming ``function`` and each setting of the wrong type or out of range, with
            what it allows.
    """
    from pydantic import ValidationError

    from bench.api.validation import schema_error

    names = dict(keywords or {})
    try:
        return SweepSpec(**settings)
    except ValidationError as exc:
        raise schema_error(
            exc, f"{function}()", model=SweepSpec, key_name=lambda field: names.get(field, field)
        ) from None


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
    from bench.extraction.devices import resolve_device, resolve_dtype
    from bench.extraction.loading import load_backbone as load
    from bench.plan.runs import check_image_size, checked_weights

    given = {backbone_id: str(weights)} if weights else {}
    spec = _checked("load_backbone", image_size=image_size, device=device, dtype=dtype, weights=given)
    registry = _registry(registry)
    info = registry.backbones.get(backbone_id)
    if image_size is not None:
        check_image_size(image_size, info, "image_size")
    torch_device = resolve_device(device)
    return load(
        info,
        registry.backbones.owner(info.id),
        weights=checked_weights(spec, info),  # as `bench run` checks them
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
    """The condition of ``prompt``, checked as ``bench run`` checks it (:func:`check_prompt`), for the
    backbone at the resolution it was loaded for."""
    check_prompt(prompt, backbone.info, registry, backbone.image_size or backbone.info.image_size, "prompt")
    return prompt_condition(prompt, registry)


def _dataset_items(
    function: str, images: Sequence[Any], dataset: Dataset | None, modality: str
) -> tuple[Dataset, list]:
    """``(dataset, items)`` for a dataset's items, or for PIL images of ``modality`` (then an
    in-memory dataset of them), so both go through one path.

    Raises:
        BenchError: no images, or dataset items without their dataset.
    """
    if not len(images):
        raise BenchError(f"{function}() got no images.", "Pass at least one PIL image or dataset item.")
    if isinstance(images[0], ImageItem):
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


class DescriptorOptions(TypedDict, total=False):
    """The keyword settings of :func:`descriptors` (each described there)."""

    layer: str | None
    pool: str | None
    t: int | None
    noise_samples: int
    seed: int
    modality: str
    prompt: str
    batch_size: int


class FeatureMapOptions(TypedDict, total=False):
    """The keyword settings of :func:`feature_maps` (each described there)."""

    layer: str | None
    timesteps: Sequence[int]
    noise_samples: int
    seed: int
    modality: str
    prompt: str
    batch_size: int


@dataclass(frozen=True)
class ExtractionCall:
    """What a :func:`descriptors` or :func:`feature_maps` call asks for, checked as ``bench run``
    checks a configuration, and planned for one loaded backbone.

    Attributes:
        layer: the resolved layer; timesteps: checked against the backbone's schedule (``(None,)``
            for an image encoder); condition: the prompt's conditioning; modality: of PIL images.
        settings: the seed and batch size (images read in the loop, an unreadable one an error).
        noise_samples: noise draws averaged per image.
    """

    layer: LayerPlan
    timesteps: tuple[int | None, ...]
    condition: PromptCondition
    modality: str
    settings: ExecutionSettings
    noise_samples: int

    @classmethod
    def plan(
        cls, function: str, options: Mapping[str, Any], backbone: LoadedBackbone, registry: Registry
    ) -> ExtractionCall:
        """The call ``function(backbone, ..., **options)`` (``options`` of :class:`DescriptorOptions`
        or :class:`FeatureMapOptions`), checked and planned; a timestep or noise draws given for an
        image encoder warn (:class:`UserWarning`) as ``bench run`` warns.

        Raises:
            BenchError: an unknown setting, a value the schema refuses, an unknown layer, pooling or
                modality, a timestep outside the backbone's schedule, a prompt ``bench run`` would
                refuse.
        """
        given = _with_defaults(function, options, ("dataset", "registry"))
        keyword = "timesteps" if "timesteps" in given else "t"  # how the call names the timesteps
        timesteps = () if given[keyword] is None else given[keyword]
        settings = {k: given[k] for k in ("noise_samples", "seed", "batch_size")}
        spec = _checked(function, {"t": keyword}, t=timesteps, **settings)
        _check_modality(function, given["modality"])
        info = backbone.info
        typed = {"t"} if spec.t else set()
        typed |= {"noise_samples"} if "noise_samples" in options else set()
        keywords = {"t": keyword}
        for warning in timestep_warnings(spec, [info], typed, lambda name: keywords.get(name, name)):
            warnings.warn(warning, UserWarning, stacklevel=3)
        layer = resolve_layer(
            given["layer"] or info.default_layer, info, registry.layer_selectors, given.get("pool")
        )
        return cls(
            layer=layer,
            timesteps=tuple(check_timesteps(spec.t, info, keyword)),
            condition=_condition(given["prompt"], backbone, registry),
            modality=given["modality"],
            settings=ExecutionSettings(seed=spec.seed, batch_size=spec.batch_size, workers=0, strict=True),
            noise_samples=spec.noise_samples,
        )


def _check_modality(function: str, modality: object) -> None:
    """Raise :class:`BenchError` unless ``modality`` is ``"sketch"`` or ``"photo"``."""
    valid = get_args(Modality)
    if modality not in valid:
        raise BenchError(
            f"{function}() got modality={modality!r}.",
            f"Use modality={valid[0]!r} or {valid[1]!r} (what the PIL images are).",
        )


_SHARED_DEFAULTS = {"layer": None, "noise_samples": 1, "seed": 0, "modality": "photo", "prompt": "none"}
OPTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "descriptors": {**_SHARED_DEFAULTS, "pool": None, "t": None, "batch_size": 16},
    "feature_maps": {**_SHARED_DEFAULTS, "timesteps": (), "batch_size": 4},
    "score": {"metrics": None, "per_class_gallery": None},
}
"""Per function, its keyword settings (the keys of its ``...Options`` TypedDict) and their defaults:
the one list of the keywords each takes."""


def _with_defaults(function: str, options: Mapping[str, Any], named: Sequence[str]) -> dict[str, Any]:
    """``options`` completed with ``function``'s defaults (:data:`OPTION_DEFAULTS`).

    Raises:
        BenchError: a keyword ``function`` does not take (it takes ``named`` and its settings).
    """
    _refuse_unknown(function, options, (*named, *OPTION_DEFAULTS[function]))
    return {**OPTION_DEFAULTS[function], **options}


def _refuse_unknown(function: str, options: Mapping[str, Any], valid: Sequence[str]) -> None:
    """Raise :class:`BenchError` naming the keyword settings of ``options`` that ``function`` does
    not take (of ``valid``, the keywords it takes)."""
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise BenchError(
            f"{function}() got unknown setting(s): {', '.join(unknown)}.",
            f"Valid settings: {', '.join(valid)}.",
        )


def _batches(count: int, batch_size: int) -> list[slice]:
    return [slice(start, start + batch_size) for start in range(0, count, batch_size)]


def descriptors(
    backbone: LoadedBackbone,
    images: Sequence[Any],
    *,
    dataset: Dataset | None = None,
    registry: Registry | None = None,
    **options: Unpack[DescriptorOptions],
) -> np.ndarray:
    """(len(images), D) float32 descriptors of PIL ``images`` (or a ``dataset``'s items, whose
    modality each item says): per noise draw pooled and L2-normalised, then averaged over draws.

    Args:
        options: the settings, all optional, checked as ``bench run`` checks them:
            ``layer``: a tap, ``tap+tap`` or selector (default: the backbone's default layer);
            ``pool``: ``gap``, ``gmp``, ``gem`` or ``flatten`` (default: the layer's);
            ``t``: the diffusion timestep (diffusion backbones; None for image encoders);
            ``noise_samples`` (1), ``seed`` (0): noise draws averaged per image and the run seed;
            ``modality``: ``"sketch"`` or ``"photo"`` (default) for PIL images (selects the visual
            prompt); ``prompt``: a prompt scheme value as for ``--prompt`` (``"none"``);
            ``batch_size``: images per backbone call (16).

    Raises:
        BenchError: a setting ``bench run`` would refuse (naming it and what it allows).
    """
    from bench.extraction.loop import ExtractionRequest, extract_descriptors

    registry = _registry(registry)
    call = ExtractionCall.plan("descriptors", options, backbone, registry)
    dataset, items = _dataset_items("descriptors", images, dataset, call.modality)
    request = ExtractionRequest(
        layers=(call.layer,),
        timesteps=call.timesteps,
        noise_samples=call.noise_samples,
        prompt=call.condition,
        settings=call.settings,
    )  # the loop of `bench run`: batches of one modality, noise seeded by image content
    extraction = extract_descriptors(backbone, dataset, items, request)
    return extraction.descriptors[(call.timesteps[0], call.layer.name)]


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
    registry: Registry | None = None,
    reporter: Reporter | None = None,
    **options: Unpack[FeatureMapOptions],
) -> dict[int | None, np.ndarray]:
    """``{t: (len(images), C, h, w)}`` float32 spatial maps of ``layer`` (its taps fused to the
    coarsest map), averaged over noise draws, for each timestep (``{None: ...}`` for an image
    encoder). Images, seeds and settings as in :func:`descriptors`, with ``timesteps`` (a list)
    for ``t``, no ``pool``, and ``batch_size`` 4 by default; ``modality`` applies to all images.

    Raises:
        BenchError: the layer is a vector (no spatial map), or any invalid setting.
    """
    registry = _registry(registry)
    call = ExtractionCall.plan("feature_maps", options, backbone, registry)
    _check_spatial(backbone, call.layer)
    pixels_in, seeds = _images_and_seeds(
        *_dataset_items("feature_maps", images, dataset, call.modality), call.settings.seed
    )
    chunks: dict[int | None, list[np.ndarray]] = {t: [] for t in call.timesteps}
    with (reporter or SilentReporter()).progress(
        f"{backbone.info.id} {call.layer.name} maps", len(images)
    ) as advance:
        for part in _batches(len(images), call.settings.batch_size):
            for t, fused in _fused_maps(backbone, call, pixels_in[part], seeds[part]).items():
                chunks[t].append(fused)
            advance(len(pixels_in[part]))
    return {t: np.concatenate(parts) for t, parts in chunks.items()}


def _check_spatial(backbone: LoadedBackbone, layer: LayerPlan) -> None:
    """Raise :class:`BenchError` when a tap of ``layer`` is a vector (no spatial map)."""
    vectors = [tap for tap in layer.taps if backbone.info.layer(tap).stride == 0]  # type: ignore[union-attr]
    if vectors:
        maps = [info.name for info in backbone.info.layers if info.stride > 0]
        raise BenchError(
            f"Layer {layer.name!r} of backbone {backbone.info.id!r} is a vector ({', '.join(vectors)}), "
            "not a spatial feature map.",
            f"Layers of {backbone.info.id} with a map: {', '.join(maps) or '(none)'}.",
        )


def _fused_maps(
    backbone: LoadedBackbone, call: ExtractionCall, images: list[Any], seeds: list[int]
) -> dict[int | None, np.ndarray]:
    """``{t: (len(images), C, h, w)}`` float32 maps of one batch, averaged over noise draws."""
    import torch

    from bench.extraction.features import layer_features
    from bench.extraction.pooling import fuse_taps

    with torch.inference_mode():
        features = layer_features(
            backbone,
            backbone.preprocess(images),
            modality=call.modality,
            layers=(call.layer,),
            timesteps=call.timesteps,
            noise_samples=call.noise_samples,
            noise_seeds=seeds,
            prompt=call.condition,
        )
    # fuse_taps: (B, N, C, h, w)
    return {
        t: fuse_taps(features[(t, call.layer.name)]).float().mean(dim=1).cpu().numpy() for t in call.timesteps
    }


def run(
    config: str | Path | SweepSpec | None = None,
    *,
    registry: Registry | None = None,
    reporter: Reporter | None = None,
    **overrides: Any,
) -> list[RunResult]:
    """Run a configuration as ``bench run`` does and return its results (also written to
    ``output_dir`` as results files): the same request, planned by the same path
    (:func:`bench.execution.planning.plan_request`), gives the same configurations. What ``bench run``
    prints before it runs goes to ``reporter``'s status (the settings a trained file's header filled,
    the combinations left out), and a setting nothing uses warns (:class:`UserWarning`).

    Args:
        config: a named config, a config file, or a :class:`SweepSpec`; None: the default config
            as ``bench run`` without ``--config`` reads it (then, as there, a ``learned:FILE``
            prompt or ``linear:FILE`` probe fills the settings not in ``overrides`` from its
            file's header: the file is evaluated as trained).
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
    from bench.config.run_config import set_values
    from bench.execution.planning import PlanningReport, RunRequest, plan_request
    from bench.execution.study import execute

    spec = config if isinstance(config, SweepSpec) else load_config(str(config or "default"))
    _refuse_unknown("run", overrides, tuple(SweepSpec.__dataclass_fields__))
    try:
        spec = replace(spec, **overrides)
    except ValidationError as exc:
        raise schema_error(exc, "run()", model=SweepSpec) from None
    registry = registry if registry is not None else plugin_registry(spec.plugins)
    request = RunRequest(spec, frozenset(set_values(overrides)), config_named=config is not None)
    plan = plan_request(request, registry)
    reporter = reporter or SilentReporter()
    report = PlanningReport.of(plan)  # what `bench run` prints before the run
    for line in [*report.header, *report.notes]:
        reporter.status(line)
    for warning in report.warnings:
        warnings.warn(warning, UserWarning, stacklevel=2)
    finished, _ = execute(plan, registry, reporter)
    return [item.result for item in finished]


class ScoreOptions(TypedDict, total=False):
    """The keyword settings of :func:`score` besides ``dataset`` and ``task`` (described there)."""

    metrics: Sequence[str] | None
    per_class_gallery: bool | None


def score(
    query_features: Any,
    gallery_features: Any,
    queries: Sequence[ImageItem],
    gallery: Sequence[ImageItem],
    *,
    dataset: str | None = None,
    task: str | None = None,
    registry: Registry | None = None,
    **options: Unpack[ScoreOptions],
) -> dict[str, float]:
    """The metrics of a retrieval task, computed as ``bench run`` computes them.

    Args:
        query_features: (Q, D) descriptors of ``queries``; gallery_features: (G, D) of ``gallery``
            (numpy arrays or tensors; L2-normalised here).
        queries, gallery: the items (their labels and pairing ids decide what is relevant).
        dataset: a registered dataset id: its task, metrics and gallery split (``bench list
            datasets``); or give ``task``.
        task: a registered task id (``bench list tasks``), when no ``dataset`` is given.
        options: ``metrics``: the metric names to compute (``bench list metrics``; ``@K`` with a
            number), default: the dataset's, else the task's; ``per_class_gallery``: rank each
            query against its own class's items only, default: as the dataset's adapter does,
            else False.

    Returns:
        ``{metric name: value}`` in each metric's unit (fractions, percentages or ranks).

    Raises:
        BenchError: neither or both of ``dataset`` and ``task``, an unknown id or metric name (or
            ``metrics`` as one text), features that do not fit the items, a metric plugin that fails.
    """
    from bench.evaluation.measures import MetricSet
    from bench.evaluation.protocol import evaluate

    if (dataset is None) == (task is None):
        raise BenchError(
            "score() takes a dataset id or a task id (one of them).", "See `bench list datasets`."
        )
    given = _with_defaults("score", options, ("dataset", "task", "registry"))
    _check_features(query_features, gallery_features, queries, gallery)
    registry = _registry(registry)
    specs = registry.evaluation_specs()
    info = registry.datasets.get(dataset) if dataset is not None else None
    task_info = specs.task(info.task if info is not None else str(task))
    names = _metric_names(given["metrics"], info.metrics if info is not None else task_info.metrics)
    per_class_gallery = given["per_class_gallery"]
    if per_class_gallery is None:  # as the dataset's adapter ranks
        per_class_gallery = info is not None and _groups_by_label(info)
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


def _groups_by_label(info: DatasetInfo) -> bool:
    """Whether the adapter of ``info`` ranks each query against its own class's items only."""
    from bench.api.components import resolve_target

    return bool(getattr(resolve_target(info.target, f"dataset {info.id!r}"), "group_by_label", False))


def _metric_names(metrics: Sequence[str] | None, default: Sequence[str]) -> Sequence[str]:
    """The metrics :func:`score` computes: ``metrics``, else ``default`` (the dataset's or task's).

    Raises:
        BenchError: ``metrics`` is one text, not a list of names.
    """
    if isinstance(metrics, str):
        raise BenchError(
            f"score() takes metrics as a list of names, and got the text {metrics!r}.",
            f"Pass metrics=[{metrics!r}].",
        )
    return metrics or default


def _check_features(
    query_features: Any, gallery_features: Any, queries: Sequence[ImageItem], gallery: Sequence[ImageItem]
) -> None:
    """Raise :class:`BenchError` unless the features are (Q, D) and (G, D), finite, one row per item
    (the ranking's own checks, named for :func:`score`)."""
    import torch

    from bench.evaluation.ranking.inputs import check_length, features_pair

    try:
        query_rows, gallery_rows = features_pair(query_features, gallery_features)
        check_length(torch.arange(len(queries)), query_rows, "queries", "query_features")
        check_length(torch.arange(len(gallery)), gallery_rows, "gallery", "gallery_features")
    except ValueError as exc:
        raise BenchError(
            f"score() cannot rank these features: {exc}",
            "Pass query_features of shape (len(queries), D) and gallery_features of shape "
            "(len(gallery), D), finite, with one D (query_feats and gallery_feats above).",
        ) from None
