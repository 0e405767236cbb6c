"""Run configurations: a TOML file, overridden by command-line options, expanded into a sweep.

Repeatable axes (backbone, layer, t, prompt, dataset) form a product; every other field applies
to every configuration of the sweep.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bench.errors import BenchError

SWEEP_AXES = ("backbone", "layer", "t", "prompt", "dataset")
ABLATION_AXES = (*SWEEP_AXES, "noise_samples", "pool", "image_size")
CONFIG_SUFFIXES = (".toml", ".yaml", ".yml")
DTYPE_NAMES = ("fp32", "fp16", "bf16")
ENSEMBLE_METHODS = ("mean", "concat", "score-sum")
CONFIG_DIR_NAME = "configs"
DEFAULT_CONFIG = "default"


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
            :data:`ENSEMBLE_METHODS`; see ``bench.ensemble``), or None.
        train: training settings for the learned prompt schemes (``visual``, ``textual``,
            ``visual+textual``) a run trains before it evaluates them (keys as ``bench train``'s
            options: epochs, lr, width, ...; see ``bench.train_spec.TRAIN_SETTINGS``).
        ablation: a one-factor-at-a-time study around this configuration (the base):
            ``{"name": str, "vary": {axis: [values]}}`` with axes from :data:`ABLATION_AXES`;
            ``bench run`` runs the base and every variant, and ``bench leaderboard`` renders them
            as one table.
        ensemble_weights: score-sum weights, one per configuration of a dataset in sweep order
            (empty: 1 each).
        query_text: sketch+text queries: ``"caption"`` (each query sketch is conditioned on its
            caption, or its instance's photo's) or ``"text:<words>"`` (one text for every query);
            None for sketch-only queries (see ``bench.query_text``).
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


def _as_weights(value: Any, what: str) -> tuple[float, ...]:
    """A list of numbers as a tuple of floats; :class:`BenchError` naming ``what`` otherwise."""
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in items):
        raise BenchError(
            f"{what} is not a list of numbers.",
            "Give one weight per configuration: --ensemble-weights 1,0.5, or ensemble_weights = [1, 0.5].",
        )
    return tuple(float(item) for item in items)


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
        elif key in ("data_root", "weights"):
            values[key] = {"*": value} if isinstance(value, str) else dict(value)
        elif key in ("train", "ablation"):
            if not isinstance(value, dict):
                raise BenchError(f"Config value {key} in {source} must be a table of settings.")
            values[key] = dict(value)
        elif key == "ensemble_weights":
            values[key] = _as_weights(value, f"Config value ensemble_weights = {value!r}")
        else:
            values[key] = value
    try:
        return SweepSpec(**values)
    except TypeError as exc:
        raise BenchError(f"Config {source} is malformed: {exc}.") from exc


def config_dirs() -> list[Path]:
    """Where named configs live: the source tree's ``configs/``, then the installed copy."""
    source_tree = Path(__file__).resolve().parent.parent / CONFIG_DIR_NAME
    installed = Path(sys.prefix) / "share" / "sbir-bench" / CONFIG_DIR_NAME
    return [source_tree, installed]


def find_config(name_or_path: str) -> Path:
    """A config file path, or the named config (``default`` -> ``configs/default.toml``,
    ``paper-ablation`` -> ``configs/paper-ablation.yaml``)."""
    path = Path(name_or_path)
    if path.suffix in CONFIG_SUFFIXES or path.exists():
        if not path.is_file():
            raise BenchError(
                f"Config file {name_or_path!r} does not exist.", "Pass an existing .toml or .yaml file."
            )
        return path
    for directory in config_dirs():
        for suffix in CONFIG_SUFFIXES:
            candidate = directory / f"{name_or_path}{suffix}"
            if candidate.is_file():
                return candidate
    named = sorted(
        {p.stem for d in config_dirs() if d.is_dir() for p in d.iterdir() if p.suffix in CONFIG_SUFFIXES}
    )
    raise BenchError(
        f"No config named {name_or_path!r}.",
        f"Named configs: {', '.join(named) or '(none found)'}; or pass a path to a .toml or .yaml file.",
    )


def _parse_config(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        return tomllib.loads(text)
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(data, dict):
        raise ValueError("the file is not a mapping of config keys")
    return data


def load_config(name_or_path: str = DEFAULT_CONFIG) -> SweepSpec:
    """Read a TOML or YAML run configuration (keys as in :class:`SweepSpec`)."""
    path = find_config(name_or_path)
    try:
        data = _parse_config(path)
    except (OSError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        raise BenchError(f"Could not read config {str(path)!r}: {exc}", "Fix the file's syntax.") from exc
    return spec_from_mapping(data, str(path))


def parse_assignments(values: tuple[str, ...], option: str, key_name: str) -> dict[str, str]:
    """``("DIR",)`` -> ``{"*": "DIR"}``; ``("sketchy=DIR",)`` -> ``{"sketchy": "DIR"}``."""
    parsed: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if sep and key and "/" not in key and "\\" not in key:
            parsed[key] = rest
        else:
            parsed["*"] = value
    if not all(parsed.values()):
        raise BenchError(f"{option} got an empty value.", f"Use {option} VALUE or {option} {key_name}=VALUE.")
    return parsed


def parse_option_values(values: tuple[str, ...], option: str = "--dataset-option") -> dict[str, Any]:
    """``("num_unseen=4", "split=sempcyc")`` -> ``{"num_unseen": 4, "split": "sempcyc"}``."""
    options: dict[str, Any] = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if not sep or not key:
            raise BenchError(f"{option} {value!r} is not KEY=VALUE.", f"Example: {option} seed=1.")
        options[key] = _parse_scalar(raw)
    return options


def parse_weights(value: str | None) -> tuple[float, ...]:
    """``"1,0.5"`` -> ``(1.0, 0.5)`` (``--ensemble-weights``); None -> ``()``."""
    if value is None:
        return ()
    scalars = [_parse_scalar(part.strip()) for part in value.split(",")]
    return _as_weights(scalars, f"--ensemble-weights {value!r}")


def _parse_scalar(raw: str) -> Any:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            pass
    return raw
