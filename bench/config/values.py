"""Values typed on the command line: ``KEY=VALUE`` options, ``ID=VALUE`` assignments, weight lists."""

from __future__ import annotations

import re
from typing import Any

from bench.api.errors import BenchError

FAMILY_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]+:[^/\\]")  # timm:..., hf:org/x (not C:\\ or ./a:b)


def as_weights(value: Any, what: str) -> tuple[float, ...]:
    """A list of numbers as a tuple of floats; :class:`BenchError` naming ``what`` otherwise."""
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in items):
        raise BenchError(
            f"{what} is not a list of numbers.",
            "Give one weight per configuration: --ensemble-weights 1,0.5, or ensemble_weights = [1, 0.5].",
        )
    return tuple(float(item) for item in items)


def parse_assignments(values: tuple[str, ...], option: str, key_name: str) -> dict[str, str]:
    """``("DIR",)`` -> ``{"*": "DIR"}``; ``("sketchy=DIR",)`` -> ``{"sketchy": "DIR"}``.

    Text before ``=`` is an id unless it looks like a path (holds ``/`` or ``\\``); an id of a
    backbone family (``hf:org/model=DIR``, ``open_clip:arch/tag=FILE``) is an id despite its ``/``.
    """
    parsed: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if sep and key and (FAMILY_ID.match(key) or ("/" not in key and "\\" not in key)):
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
    return as_weights(scalars, f"--ensemble-weights {value!r}")


def _parse_scalar(raw: str) -> Any:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            pass
    return raw
