"""Numbers papers reported (``leaderboard/reported.toml``), read and checked."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from bench.results.leaderboard.model import ReportedRow, is_accuracy, is_number

REPORTED_FIELDS = ("dataset", "method", "backbone", "source", "metrics")


def load_reported(path: Path) -> list[ReportedRow]:
    """Read ``[[reported]]`` entries from a TOML file, in file order.

    Raises ``ValueError`` naming the file (and the entry) for unreadable TOML, an unknown or
    missing field, a non-numeric or out-of-range metric, or a repeated (source, method, backbone,
    dataset).
    """
    data = _read_toml(Path(path))
    unknown = sorted(set(data) - {"reported"})
    if unknown:
        keys = ", ".join(unknown)
        raise ValueError(f"{path}: unknown top-level key(s) {keys}; expected [[reported]] entries")
    entries = data.get("reported", [])
    if not isinstance(entries, list):
        raise ValueError(f"{path}: 'reported' must be an array of tables ([[reported]])")
    rows = [_reported_row(f"{path}: entry {index}", entry) for index, entry in enumerate(entries, start=1)]
    _check_unique(path, rows)
    return rows


def _read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; raise ``ValueError`` naming it when it cannot be read or parsed."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: not a readable TOML file ({exc})") from exc


def _reported_row(where: str, entry: object) -> ReportedRow:
    """Validate one ``[[reported]]`` table (``where`` names it in errors) and build its row."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a table, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(REPORTED_FIELDS))
    if unknown:
        allowed = ", ".join(REPORTED_FIELDS)
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {allowed}")
    missing = [name for name in REPORTED_FIELDS if name not in entry]
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
    texts = {name: entry[name] for name in REPORTED_FIELDS if name != "metrics"}
    for name, value in texts.items():
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: field {name!r} must be a non-empty string")
    where = f"{where} ({texts['source']}, {texts['method']}, {texts['dataset']})"
    return ReportedRow(**texts, metrics=_reported_metrics(where, entry["metrics"]))


def _reported_metrics(where: str, metrics: object) -> dict[str, float]:
    """Validate a metrics table: numbers, Acc@K within 0..100, every other metric within 0..1."""
    if not isinstance(metrics, dict) or not metrics:
        raise ValueError(f"{where}: 'metrics' must be a non-empty table of metric name = number")
    checked = {}
    for name, value in metrics.items():
        if not is_number(value):
            raise ValueError(f"{where}: metric {name!r} is not a number ({value!r})")
        upper = 100.0 if is_accuracy(name) else 1.0
        if not 0.0 <= value <= upper:
            unit = "x100" if upper == 100.0 else "a fraction"
            raise ValueError(f"{where}: metric {name!r} = {value} is outside 0..{upper:g} (must be {unit})")
        checked[name] = float(value)
    return checked


def _check_unique(path: Path, rows: list[ReportedRow]) -> None:
    """Raise ``ValueError`` when two rows share (source, method, backbone, dataset)."""
    seen: set[tuple[str, str, str, str]] = set()
    for row in rows:
        key = (*reported_identity(row), row.dataset)
        if key in seen:
            raise ValueError(f"{path}: more than one entry for {', '.join(key)}")
        seen.add(key)


def reported_identity(row: ReportedRow) -> tuple[str, str, str]:
    """What tells reported rows of one dataset apart: (source, method, backbone)."""
    return row.source, row.method, row.backbone
