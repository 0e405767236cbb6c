"""Resolving a :class:`SweepSpec` against the registry into concrete, validated configurations.

All checks that do not need a model (ids, layers, timesteps, prompts, data roots, weights) run
here, before any extraction, so a mistake in the tenth configuration of a sweep fails in seconds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.api.components import BackboneInfo, DatasetInfo, PromptCondition, PromptScheme, resolve_target
from bench.api.errors import BenchError
from bench.api.evaluation import ResolvedMetric, TaskInfo
from bench.config.run_config import SweepSpec
from bench.config.training import PROBE_SETTINGS, training_settings
from bench.plan.dataset_views import CheckedImages
from bench.plan.layers import LayerPlan, resolve_layer
from bench.plan.per_backbone import PerBackbone, resolve_axis, split_axis
from bench.plan.probes import LINEAR, NONE, check_probe_file, split_probe
from bench.plan.settings import ExecutionSettings
from bench.registry.tables import Registry
from bench.weights import weights_identity


@dataclass(frozen=True)
class PlannedRun:
    """One configuration of a sweep, resolved.

    Attributes:
        backbone, dataset: the registered components.
        weights: the weights to load.
        image_size: input resolution in pixels.
        prompt: the ``--prompt`` value as given (``none``, ``text:...``).
        t: timestep (None for backbones without one).
        layer: the resolved layer plan.
        data_root: the dataset root (None for generated datasets).
        dataset_options: options passed to the dataset adapter.
        settings: how it executes (device, precisions, workers, strictness, seed, batch size); the
            one source of :attr:`seed`, :attr:`dtype` and :attr:`cache_dtype`.
        train: for a learned prompt scheme (``visual``, ``textual``, ``visual+textual``), the
            training settings the run trains it with before evaluating it; None otherwise.
        noise_samples: noise draws per image (None for a backbone without noise).
        query_text: the sketch+text query source (``--query-text``), or None.
        backbone_plugin, dataset_plugin: the plugins that registered them (named in errors).
        weights_identity: what the weights are (:func:`bench.weights.weights_identity`).
        limit: at most this many queries and gallery items (``--limit``), or None for all.
        task: the dataset's task (its relevance rule and main metric); metrics: the metrics the
            dataset reports, resolved.
        probe: the ``--probe`` value (``linear``, ``linear:FILE``), or None without a probe.
        probe_dim: the probe's output dimension (None without a probe).
        probe_train: for a ``linear`` probe the run trains, its training settings
            (:data:`~bench.config.training.PROBE_SETTINGS`); None otherwise.
    """

    backbone: BackboneInfo
    dataset: DatasetInfo
    weights: str
    image_size: int
    prompt: str
    t: int | None
    layer: LayerPlan
    data_root: Path | None
    dataset_options: dict[str, Any]
    settings: ExecutionSettings
    train: dict[str, Any] | None = None
    noise_samples: int | None = None
    query_text: str | None = None
    backbone_plugin: str = "?"
    dataset_plugin: str = "?"
    weights_identity: str = ""
    limit: int | None = None
    task: TaskInfo | None = None
    metrics: tuple[ResolvedMetric, ...] = ()
    probe: str | None = None
    probe_dim: int | None = None
    probe_train: dict[str, Any] | None = None

    @property
    def seed(self) -> int | None:
        """The run seed where it changes numbers (noise draws, prompt or probe training), else None."""
        random = self.noise_samples is not None or self.train is not None or self.probe_train is not None
        return self.settings.seed if random else None

    @property
    def dtype(self) -> str:
        """The model precision (a name of :data:`~bench.api.choices.DTYPE_NAMES`)."""
        return self.settings.dtype

    @property
    def cache_dtype(self) -> str:
        """The precision of the cached descriptors."""
        return self.settings.cache_dtype

    @property
    def descriptor_dim(self) -> int:
        """The length of the descriptors this run scores: the probe's output, else the layer's."""
        return self.probe_dim or self.layer.dim

    def open_dataset(self) -> Any:
        """The dataset adapter with this run's root and options (a ``bench.Dataset``), checked, and
        cut to the run's ``limit``."""
        dataset = open_dataset(self.dataset, self.dataset_plugin, self.data_root, self.dataset_options)
        if self.limit is None:
            return dataset
        from bench.plan.subset import LimitedDataset

        paired = self.task is not None and self.task.relevance == "paired"
        return LimitedDataset(dataset, self.limit, keep_pairs=paired)

    @property
    def main_metric(self) -> ResolvedMetric:
        """The metric ``bench train`` validates on: the task's main metric, or the dataset's first
        paper column when the dataset does not report that one."""
        names = [metric.name for metric in self.metrics]
        wanted = (
            self.task.main if self.task is not None and self.task.main in names else self.dataset.columns[0]
        )
        return self.metrics[names.index(wanted)]

    def prompt_condition(self, registry: Registry) -> PromptCondition:
        """What ``--prompt`` conditions extraction on, built by its prompt scheme."""
        return prompt_condition(self.prompt, registry)


def _options_text(options: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(options.items())) or "none"


def open_dataset(info: DatasetInfo, plugin: str, root: Path | None, options: dict[str, Any]) -> Any:
    """The adapter of ``info`` opened at ``root`` with ``options``, behind a view that checks each image
    it loads (:class:`~bench.plan.dataset_views.CheckedImages`); its test splits must not be empty.

    Raises:
        BenchError: the adapter rejects the root or the options (its message is passed on), gives
            an empty query or gallery split, or its first query is not a PIL image (the message
            names its plugin).
    """
    factory = resolve_target(info.target, f"dataset {info.id!r}")
    try:
        dataset = factory(root, **options) if info.needs_root else factory(**options)
    except (ValueError, FileNotFoundError) as exc:
        raise BenchError(
            f"Dataset {info.id!r} could not be opened: {exc}",
            "Check --data-root and --dataset-option values (`bench list datasets` shows the options).",
        ) from exc
    for split in ("query", "gallery"):
        if not dataset.split(split):
            raise BenchError(
                f"Dataset {info.id!r} (plugin {plugin!r}) has an empty {split} split with these "
                f"options ({_options_text(options)}): nothing to evaluate.",
                "Check --data-root and --dataset-option values; an adapter's split('query') and "
                "split('gallery') must list the test sketches and photos.",
            )
    checked = CheckedImages(dataset, info.id, plugin)
    checked.check_first_image()
    return checked


NO_PROMPT = "none"  # the prompt of a backbone no --prompt value of a sweep applies to


def split_prompt(value: str) -> tuple[str, str | None]:
    """``"text:a photo of a"`` -> ``("text", "a photo of a")``; ``"none"`` -> ``("none", None)``."""
    scheme, sep, argument = value.partition(":")
    return scheme, (argument if sep else None)


def prompt_condition(value: str, registry: Registry) -> PromptCondition:
    """What the prompt ``value`` (checked by :func:`check_prompt`) conditions extraction on, built by
    its prompt scheme."""
    scheme_id, argument = split_prompt(value)
    scheme = registry.prompt_schemes.get(scheme_id)
    return resolve_target(scheme.build, f"prompt scheme {scheme_id!r}")(argument)


def check_prompt(
    value: str, backbone: BackboneInfo, registry: Registry, image_size: int, option: str = "--prompt"
) -> PromptScheme:
    """The prompt scheme of ``value``, once the value suits it and ``backbone`` at ``image_size``
    (the one check of a prompt, for ``bench run`` and the Python workflows alike; ``option`` names
    the setting in hints: ``--prompt``, or ``prompt`` in a Python call).

    Raises:
        BenchError: an unknown scheme, a missing or unexpected argument, a text prompt for a backbone
            whose features do not depend on text, a prompt part the backbone cannot learn, or what
            the scheme's own check refuses (a learned prompt file for another backbone or size).
    """
    scheme_id, argument = split_prompt(value)
    scheme = registry.prompt_schemes.get(scheme_id)
    if scheme.takes_argument and not argument:
        raise BenchError(
            f"Prompt scheme {scheme_id!r} needs an argument.",
            f"Use {_typed_text(option, f'{scheme_id}:...')}.",
        )
    if not scheme.takes_argument and argument is not None:
        raise BenchError(
            f"Prompt scheme {scheme_id!r} takes no argument (got {value!r}).",
            f"Use {_typed_text(option, scheme_id)}.",
        )
    if scheme.needs_text_encoder and not backbone.accepts_text:
        raise BenchError(
            f"Prompt {value!r} conditions features on text, and the image features of backbone "
            f"{backbone.id!r} do not depend on text.",
            f"Use {_typed_text(option, 'visual')} (a learned pixel border) or "
            f"{_typed_text(option, 'none')} with this backbone."
            if "visual" in backbone.learnable_prompts
            else f"Use {_typed_text(option, 'none')} with this backbone.",
        )
    missing = [part for part in scheme.learns if part not in backbone.learnable_prompts]
    if missing:
        supported = backbone.learnable_prompts
        raise BenchError(
            f"Prompt {value!r} learns a {' and '.join(missing)} prompt, and gradients cannot reach one "
            f"through backbone {backbone.id!r}"
            + (f" (it learns only {', '.join(supported)})." if supported else " (its plugin declares none)."),
            f"Use {_typed_text(option, supported[0])} with it."
            if supported
            else f"Use {_typed_text(option, 'none')} with it, or a backbone that learns prompts "
            "(SD, DINO, CLIP).",
        )
    if scheme.check is not None:
        resolve_target(scheme.check, f"the check of prompt scheme {scheme_id!r}")(
            argument, backbone, image_size
        )
    return scheme


def typed_as(option: str, value: object) -> str:
    """A setting as the user gave it: ``--t 200`` for a command-line ``option`` (``--t``), ``t=200``
    for a Python keyword (``t``)."""
    return f"{option} {value}" if option.startswith("--") else f"{option}={value}"


def _typed_text(option: str, value: str) -> str:
    """A text setting as the user gives it: ``--prompt none``, or ``prompt='none'`` in Python."""
    return typed_as(option, value if option.startswith("--") else repr(value))


def check_timesteps(
    timesteps: tuple[int, ...], backbone: BackboneInfo, option: str = "--t"
) -> list[int | None]:
    """``timesteps`` (each once), checked against ``backbone``'s own schedule; ``[None]`` for a
    backbone without timesteps. ``option`` names the setting in messages (``--t``, or the keyword of
    a Python call)."""
    if backbone.num_timesteps is None:
        return [None]
    if not timesteps:
        raise BenchError(
            f"Backbone {backbone.id!r} needs a diffusion timestep.", f"Pass {typed_as(option, 200)}."
        )
    last = backbone.num_timesteps - 1
    for t in timesteps:
        if not 0 <= t <= last:
            usual = " (Koley et al. use 273)" if _ddpm_schedule(backbone) else ""
            raise BenchError(
                f"{typed_as(option, t)} is outside the schedule of backbone {backbone.id!r} (0..{last}).",
                f"Use a timestep in 0..{last}{usual}.",
            )
    return list(dict.fromkeys(timesteps))


def _ddpm_schedule(backbone: BackboneInfo) -> bool:
    """Whether ``backbone`` noises with the DDPM forward process (the SD UNets, as its ``noise`` fact
    says), the schedule of Koley et al.'s timestep; flow models noise otherwise."""
    return backbone.facts.get("noise", "").startswith("DDPM")


def check_image_size(image_size: int, backbone: BackboneInfo, option: str = "--image-size") -> None:
    """Raise :class:`BenchError` when ``image_size`` (pixels) is smaller than ``backbone``'s finest
    tap stride (its patch size, or its first downsampling): its feature maps would have no cell.
    ``option`` names the setting (``--image-size``, or ``image_size`` in a Python call). A size
    that is no multiple of the coarsest stride is allowed (see
    :func:`~bench.plan.setting_warnings.inapplicable_settings`)."""
    strides = [tap.stride for tap in backbone.layers if tap.stride > 0]
    if not strides or image_size >= min(strides):
        return
    finest, coarsest = min(strides), max(strides)
    raise BenchError(
        f"{typed_as(option, image_size)} is smaller than the finest tap stride of backbone "
        f"{backbone.id!r} ({finest} px: patch size or downsampling), so its feature maps would be empty.",
        f"Use {typed_as(option, finest)} to 8192, best a multiple of {coarsest} "
        f"(its default is {backbone.image_size}).",
    )


def dataset_root(spec: SweepSpec, dataset: DatasetInfo) -> Path | None:
    raw = spec.data_root.get(dataset.id, spec.data_root.get("*"))
    if not dataset.needs_root:
        return Path(raw) if raw and dataset.id in spec.data_root else None
    layout = f"\nExpected layout:\n{dataset.expected_layout}" if dataset.expected_layout else ""
    if not raw:
        raise BenchError(
            f"Dataset {dataset.id!r} reads files and no --data-root was given.",
            f"Pass --data-root DIR (--data-root {dataset.id}=DIR in a sweep over several datasets).{layout}",
        )
    root = Path(raw).expanduser()
    if not root.is_dir():
        raise BenchError(
            f"--data-root {raw!r} for dataset {dataset.id!r} is not a directory.",
            f"Point it at the extracted dataset.{layout}",
        )
    try:
        empty = not any(root.iterdir())
    except OSError as exc:
        raise BenchError(
            f"--data-root {raw!r} for dataset {dataset.id!r} cannot be listed: {exc.strerror or exc}.",
            "Let this user read it (e.g. chmod -R a+rX on the dataset), or point --data-root at a copy "
            "it can read.",
        ) from exc
    if empty:
        raise BenchError(
            f"--data-root {raw!r} for dataset {dataset.id!r} is empty.", f"Extract the dataset there.{layout}"
        )
    return root


def check_dataset_options(spec: SweepSpec, datasets: list[DatasetInfo]) -> None:
    declared = {name for dataset in datasets for name in dataset.options}
    unknown = sorted(set(spec.dataset_options) - declared)
    if unknown:
        valid = ", ".join(sorted(declared)) or "(none)"
        raise BenchError(
            f"No dataset of this run takes the option(s) {', '.join(unknown)}.",
            f"Options of {', '.join(d.id for d in datasets)}: {valid} (see `bench list datasets`).",
        )


def checked_weights(spec: SweepSpec, backbone: BackboneInfo) -> str:
    """The weights ``backbone`` loads in ``spec`` (``--weights``, else its default), passed through
    its plugin's weights check (a :class:`BenchError` naming what is missing and how to get it)."""
    weights = spec.weights.get(backbone.id, spec.weights.get("*", backbone.weights))
    if backbone.weights_check is not None:
        resolve_target(backbone.weights_check, f"the weights check of {backbone.id}")(weights)
    return weights


@dataclass(frozen=True)
class _SweepAxes:
    """What a sweep's configurations are made of, resolved and checked once: its datasets (with
    their roots), training settings, weights, and per backbone its layers, prompts (each with
    whether it is learned) and probes."""

    spec: SweepSpec
    registry: Registry
    datasets: list[DatasetInfo]
    roots: dict[str, Path | None]
    train: dict[str, Any]
    weights: dict[str, str]
    layers: PerBackbone[LayerPlan]
    prompts: PerBackbone[tuple[str, bool]]
    probes: PerBackbone[str]

    @property
    def notes(self) -> list[str]:
        return [*self.layers.notes, *self.prompts.notes, *self.probes.notes]


def _sweep_axes(spec: SweepSpec, registry: Registry, backbones: list[BackboneInfo]) -> _SweepAxes:
    """Every check of ``spec`` that needs no configuration of it (see :func:`plan_sweep`)."""
    datasets = [registry.datasets.get(d) for d in dict.fromkeys(spec.dataset)]
    check_dataset_options(spec, datasets)
    roots = {dataset.id: dataset_root(spec, dataset) for dataset in datasets}
    train = training_settings(spec.train, "The config's train table")
    weights = {backbone.id: checked_weights(spec, backbone) for backbone in backbones}
    for backbone in backbones:
        check_image_size(spec.image_size or backbone.image_size, backbone)

    def prompt(value: str, backbone: BackboneInfo) -> tuple[str, bool]:
        scheme = check_prompt(value, backbone, registry, spec.image_size or backbone.image_size)
        return value, bool(scheme.learns)

    return _SweepAxes(
        spec,
        registry,
        datasets,
        roots,
        train,
        weights,
        layers=resolve_axis(
            split_axis(spec.layer, spec.backbone, "--layer"),
            backbones,
            lambda value, backbone: resolve_layer(value, backbone, registry.layer_selectors, spec.pool),
            lambda backbone: backbone.default_layer,
        ),
        prompts=resolve_axis(
            split_axis(spec.prompt, spec.backbone, "--prompt"), backbones, prompt, lambda _: NO_PROMPT
        ),
        probes=resolve_axis(
            split_axis(spec.probe, spec.backbone, "--probe"), backbones, _checked_probe, lambda _: NONE
        ),
    )


def plan_sweep(spec: SweepSpec, registry: Registry, notes: list[str] | None = None) -> list[PlannedRun]:
    """Every configuration of ``spec``, validated; raises :class:`BenchError` on the first mistake.

    ``--layer``, ``--prompt`` and ``--probe`` values may be a backbone's own (``sd-mini=up0``); a
    plain value that does not apply to some backbone leaves that combination out, with a line
    appended to ``notes`` (see :mod:`bench.plan.per_backbone`). Ranges (noise draws, batch size,
    ...) were checked when ``spec`` was built (:class:`SweepSpec` is the schema).
    """
    if not spec.backbone or not spec.dataset:
        raise BenchError("A run needs at least one --backbone and one --dataset.", "See `bench list`.")
    backbones = [registry.backbones.get(b) for b in dict.fromkeys(spec.backbone)]
    axes = _sweep_axes(spec, registry, backbones)
    if notes is not None:
        notes += axes.notes
    settings = ExecutionSettings.of(spec)
    return [run for backbone in backbones for run in _backbone_runs(axes, backbone, settings)]


def _backbone_runs(axes: _SweepAxes, backbone: BackboneInfo, settings: ExecutionSettings) -> list[PlannedRun]:
    """The configurations of ``backbone`` in the sweep of ``axes``, in sweep order."""
    spec, registry = axes.spec, axes.registry
    specs = registry.evaluation_specs()
    weights = axes.weights[backbone.id]
    identity = weights_identity(weights)
    learned = dict(axes.prompts.values[backbone.id])
    diffusion = backbone.num_timesteps is not None
    runs: list[PlannedRun] = []
    for dataset, prompt, t, layer, probe in itertools.product(
        axes.datasets,
        list(learned),
        check_timesteps(spec.t, backbone),
        axes.layers.values[backbone.id],
        axes.probes.values[backbone.id],
    ):
        probe_dim, probe_train = _probe_plan(probe, backbone, layer, spec, axes.train)
        runs.append(
            PlannedRun(
                backbone=backbone,
                dataset=dataset,
                weights=weights,
                image_size=spec.image_size or backbone.image_size,
                prompt=prompt,
                t=t,
                layer=layer,
                data_root=axes.roots[dataset.id],
                dataset_options={k: v for k, v in spec.dataset_options.items() if k in dataset.options},
                train=axes.train if learned[prompt] else None,
                noise_samples=spec.noise_samples if diffusion else None,
                settings=settings,
                query_text=spec.query_text,
                backbone_plugin=registry.backbones.owner(backbone.id),
                dataset_plugin=registry.datasets.owner(dataset.id),
                weights_identity=identity,
                limit=spec.limit,
                task=registry.tasks.get(dataset.task),
                metrics=tuple(specs.metric(name) for name in dataset.metrics),
                probe=None if probe == NONE else probe,
                probe_dim=probe_dim,
                probe_train=probe_train,
            )
        )
    return runs


def _checked_probe(value: str, backbone: BackboneInfo) -> str:
    """``value`` as given, once it names a probe (a saved one is checked against each layer later).

    Raises:
        BenchError: an unknown probe (see :func:`~bench.plan.probes.split_probe`).
    """
    split_probe(value)
    return value


def _probe_plan(
    probe: str, backbone: BackboneInfo, layer: LayerPlan, spec: SweepSpec, train: dict[str, Any]
) -> tuple[int | None, dict[str, Any] | None]:
    """(output dimension, training settings) of ``--probe probe`` on ``layer``: (None, None) without
    a probe; a saved probe is checked against the layer (it must map its descriptors)."""
    kind, path = split_probe(probe)
    if kind == NONE:
        return None, None
    if path is not None:
        header = check_probe_file(path, backbone.id, layer.name, layer.pool, layer.dim)
        return header["output_dim"], None
    assert kind == LINEAR
    return spec.probe_dim or layer.dim, {key: train[key] for key in PROBE_SETTINGS}
