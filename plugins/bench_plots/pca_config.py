"""``bench plot pca --config``: the PCA figure's settings from a run configuration and the command line.

A config for the figure names one backbone, layer, dataset and prompt, the timesteps (one column group
each) and how features are computed (noise draws, seed, weights, data root, dataset options, device,
dtype, image size). The command line overrides each of them; a config that sets anything a PCA figure
does not use (an ablation, training, probes, ...) is refused, so no setting is silently dropped.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from bench import BenchError

SINGLE = ("backbone", "layer", "dataset", "prompt")  # one value each: the figure shows one of them
SCALARS = ("noise_samples", "seed", "device", "dtype", "image_size")
USED = {*SINGLE, *SCALARS, "t", "weights", "data_root", "dataset_options", "plugins"}


def _default(field: Any) -> Any:
    return field.default_factory() if field.default is MISSING else field.default


def _refuse_unused(config: Any, source: str) -> None:
    unused = [f.name for f in fields(config) if f.name not in USED and getattr(config, f.name) != _default(f)]
    if unused:
        raise BenchError(
            f"Config {source!r} sets {', '.join(unused)}, which a PCA figure does not use.",
            "Give `bench plot pca` a config of the figure's settings only (as configs/koley2024/pca.yaml); "
            "`bench run --config` runs the others.",
        )


def _one(config: Any, key: str, source: str) -> str | None:
    values = getattr(config, key)
    if len(values) > 1:
        raise BenchError(
            f"Config {source!r} has {len(values)} values of {key} ({', '.join(values)}), and a PCA figure "
            f"shows one.",
            f"Pass --{key} to pick one.",
        )
    return values[0] if values else None


def _for(mapping: dict[str, str], key: str | None) -> str | None:
    """A per-id setting (weights, data root) for ``key``, else the one for every id (``*``)."""
    return mapping.get(key, mapping.get("*")) if key else mapping.get("*")


def merged_options(options: dict[str, Any], given: set[str], config: Any, source: str) -> dict[str, Any]:
    """``bench plot pca``'s options with the config's values wherever the command line gave none.

    Args:
        options: the command's options (click parameter names, ``timesteps`` for ``--t``), with
            ``dataset_options`` parsed from ``--dataset-option``.
        given: the options the command line set.
        config: the loaded config (:func:`bench.load_config`).
        source: the config as named, for messages.

    Raises:
        BenchError: the config sets something the figure does not use, or several values of a
            setting the command line does not pick.
    """
    _refuse_unused(config, source)
    merged = dict(options)
    for key in SINGLE:
        if key not in given:
            merged[key] = _one(config, key, source) or options[key]
    for key in SCALARS:
        if key not in given:
            merged[key] = getattr(config, key) if getattr(config, key) is not None else options[key]
    if "timesteps" not in given:
        merged["timesteps"] = config.t
    if "weights" not in given:
        merged["weights"] = _for(config.weights, merged["backbone"])
    if "data_root" not in given:
        merged["data_root"] = _for(config.data_root, merged["dataset"])
    merged["dataset_options"] = {**config.dataset_options, **options["dataset_options"]}
    return merged
