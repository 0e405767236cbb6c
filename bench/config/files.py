"""Config files: named configs (``configs/NAME.toml``) and TOML/YAML files read into a :class:`SweepSpec`."""

from __future__ import annotations

import sys
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.api.bounded_read import read_bounded_text
from bench.api.choices import CONFIG_FORMATS
from bench.api.errors import BenchError
from bench.config.run_config import SweepSpec, spec_from_mapping
from bench.config.training import training_settings

CONFIG_SUFFIXES = tuple(CONFIG_FORMATS)
CONFIG_DIR_NAME = "configs"
DEFAULT_CONFIG = "default"
MAX_CONFIG_BYTES = 2**20  # a config is a few hundred bytes


def config_dirs() -> list[Path]:
    """Where named configs live: the source tree's ``configs/``, then the installed copy."""
    source_tree = Path(__file__).resolve().parents[2] / CONFIG_DIR_NAME
    installed = Path(sys.prefix) / "share" / "sbir-bench" / CONFIG_DIR_NAME
    return [source_tree, installed]


def find_config(name_or_path: str) -> Path:
    """A config file path, or the named config (``default`` -> ``configs/default.toml``,
    ``paper-ablation`` -> ``configs/paper-ablation.yaml``)."""
    path = Path(name_or_path)
    if path.suffix in CONFIG_SUFFIXES or path.exists():
        if path.is_dir():
            raise BenchError(
                f"Config file {name_or_path!r} is a directory.", "Pass a .toml or .yaml file inside it."
            )
        if not path.exists():  # anything else there is refused by the read (a FIFO)
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


def _parse_config(path: Path) -> Any:
    text = read_bounded_text(path, MAX_CONFIG_BYTES, "Config file")
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(str(exc)) from exc
    except RecursionError:
        raise ValueError("it nests tables or lists too deeply to parse") from None


def load_config(name_or_path: str = DEFAULT_CONFIG) -> SweepSpec:
    """Read a TOML or YAML run configuration (keys as in :class:`SweepSpec`, validated by it).

    Raises:
        BenchError: the file cannot be read or parsed, or breaks the schema (naming each key).
    """
    path = find_config(name_or_path)
    try:
        data = _parse_config(path)
    except ValueError as exc:  # TOMLDecodeError is a ValueError
        raise BenchError(f"Could not read config {str(path)!r}: {exc}", "Fix the file's syntax.") from exc
    spec = spec_from_mapping(data, str(path))
    training_settings(spec.train, f"{path}: train")
    if spec.plugins:  # relative to the config file, as its author wrote them
        plugins = tuple(str((path.parent / plugin).resolve()) for plugin in spec.plugins)
        spec = replace(spec, plugins=plugins)
    return spec
