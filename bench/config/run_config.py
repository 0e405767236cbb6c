"""The run configuration: what a ``bench run`` asks for, from a config file and the command line.

Repeatable axes (backbone, layer, t, prompt, dataset) form a product; every other field applies
to every configuration of the sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from bench.api.errors import BenchError
from bench.config.values import as_weights

SWEEP_AXES = ("backbone", "layer", "t", "prompt", "dataset")
ABLATION_AXES = (*SWEEP_AXES, "noise_samples", "pool", "image_size")
DTYPE_NAMES = ("fp32", "fp16", "bf16")
ENSEMBLE_METHODS = ("mean", "concat", "score-sum")


@dataclass(frozen=True)
class SweepSpec:
    """Everything a ``bench run`` needs, before ids are resolved against the registry.

    Attributes:
        backbone, layer, t, prompt, dataset: the sweep axes (an empty ``layer`` means each
            backbone's default layer; an empty ``t`` means 0 for backbones without timesteps).
        noise_samples: noise draws averaged per image (diffusion backbones).
        seed: the run seed (noise, and anything random in adapters).
        batch_size: images per backbone call.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        dtype: ``fp32``, ``fp16`` or ``bf16`` (model precision; descriptors are float32).
        pool: pooling override (``gap``, ``gmp``, ``gem``), or None for each layer's default.
        image_size: input resolution override in pixels, or None for each backbone's default.
        data_root: dataset id -> root directory; key ``"*"`` applies to every dataset.
        weights: backbone id -> weights (hub id or directory); key ``"*"`` applies to every backbone.
        dataset_options: option name -> value, passed to every dataset of the run that declares it.
        output_dir: where results files are written.
        workers: threads reading and preprocessing images ahead of the backbone (0: in the loop).
        strict: stop at the first unreadable image instead of skipping (and counting) it.
        compile: ``torch.compile`` the backbone (those that offer a ``compile()`` method).
        cache_dir: the feature cache (None: ``$SBIR_BENCH_CACHE`` or the user cache directory).
        cache_dtype: precision of cached descriptors, ``fp16`` or ``fp32``; results always use
            descriptors read back from the cache, so reruns give identical numbers.
        ensemble: also score the sweep's configurations of each dataset combined (one of
            :data:`ENSEMBLE_METHODS`; see ``bench.plan.ensembles``), or None.
        train: training settings for the learned prompt schemes (``visual``, ``textual``,
            ``visual+textual``) a run trains before it evaluates them (keys as ``bench train``'s
            options: epochs, lr, width, ...; see ``bench.train_spec.TRAIN_SETTINGS``).
        ablation: a one-factor-at-a-time study around this configuration (the base):
            ``{"name": str, "vary": {axis: [values]}}`` with axes from :data:`ABLATION_AXES`;
            ``bench run`` runs the base and every variant, and ``bench leaderboard`` renders them
            as one table.
        ensemble_weights: score-sum weights, one per configuration of a dataset in sweep order
            (empty: 1 each).
        plugins: one-file plugins (``--plugin FILE``) the configuration needs; a config file's
            relative paths are relative to the file.
        query_text: sketch+text queries: ``"caption"`` (each query sketch is conditioned on its
            caption, or its instance's photo's) or ``"text:<words>"`` (one text for every query);
            None for sketch-only queries (see ``bench.plan.query_text``).
    """

    backbone: tuple[str, ...] = ()
    layer: tuple[str, ...] = ()
    t: tuple[int, ...] = ()
    prompt: tuple[str, ...] = ("none",)
    dataset: tuple[str, ...] = ()
    noise_samples: int = 1
    seed: int = 0
    batch_size: int = 16
    device: str = "auto"
    dtype: str = "fp32"
    pool: str | None = None
    image_size: int | None = None
    data_root: dict[str, str] = field(default_factory=dict)
    weights: dict[str, str] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    output_dir: str = "results"
    workers: int = 2
    strict: bool = False
    compile: bool = False
    cache_dir: str | None = None
    cache_dtype: str = "fp16"
    ensemble: str | None = None
    ensemble_weights: tuple[float, ...] = ()
    query_text: str | None = None
    train: dict[str, Any] = field(default_factory=dict)
    ablation: dict[str, Any] = field(default_factory=dict)
    plugins: tuple[str, ...] = ()

    def overridden(self, **values: Any) -> SweepSpec:
        """A copy with every given value replaced (None, False and empty tuples/dicts keep the old one)."""
        given = {
            key: value
            for key, value in values.items()
            if not (value is None or value is False or value in ((), {}))
        }
        return replace(self, **given)


def _field_names() -> list[str]:
    return [f.name for f in fields(SweepSpec)]


def _as_tuple(name: str, value: Any) -> tuple:
    items = value if isinstance(value, list) else [value]
    expected = int if name == "t" else str
    for item in items:
        if not isinstance(item, expected) or isinstance(item, bool):
            raise BenchError(
                f"Config value {name} = {value!r} has an item of the wrong type.",
                f"{name} takes a {expected.__name__} or a list of them.",
            )
    return tuple(items)


def spec_from_mapping(data: dict[str, Any], source: str) -> SweepSpec:
    """A :class:`SweepSpec` from a parsed config mapping; unknown keys are an error naming ``source``."""
    valid = _field_names()
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise BenchError(
            f"Config {source} has unknown key(s): {', '.join(unknown)}.", f"Valid keys: {', '.join(valid)}."
        )
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in SWEEP_AXES:
            values[key] = _as_tuple(key, value)
        elif key == "plugins":
            values[key] = tuple(value) if isinstance(value, list) else (value,)
        elif key in ("data_root", "weights"):
            values[key] = {"*": value} if isinstance(value, str) else dict(value)
        elif key in ("train", "ablation"):
            if not isinstance(value, dict):
                raise BenchError(f"Config value {key} in {source} must be a table of settings.")
            values[key] = dict(value)
        elif key == "ensemble_weights":
            values[key] = as_weights(value, f"Config value ensemble_weights = {value!r}")
        else:
            values[key] = value
    try:
        return SweepSpec(**values)
    except TypeError as exc:
        raise BenchError(f"Config {source} is malformed: {exc}.") from exc
