"""The results-file schema (one JSON file per run), written atomically at a deterministic path.

A results file holds everything needed to reproduce and to rank a run::

    {
      "schema_version": 1,
      "name": "sd-tiny_up1_t200_none_n2_s0_fp32-1a2b3c4d",   # == the file stem
      "task": "zs-sbir" | "fg-sbir",
      "config": {backbone, weights, layer, t, prompt, dataset, dataset_options,
                 noise_samples, seed, dtype, image_size,
                 query_text (sketch+text queries only)},       # what determines the numbers
      "backbone_note": "random weights (architecture check only)" | null,
      "extractor": {what the backbone's extraction does, e.g. latent and noise choices},
      "dataset": {id, columns, num_queries, num_gallery, gallery_unique,
                  queries_without_relevant, text_conditioned_queries (sketch+text),
                  ...adapter facts},
      "metrics": {"mAP@all": 0.41, ...},   # zs-sbir: fractions; fg-sbir: Acc@K x100
      "runtime": {device, batch_size, extract_seconds, evaluate_seconds, images, images_per_second},
      "versions": {"sbir-bench": ..., "python": ..., "torch": ..., ...},
      "ablation": [{"study", "axis", "value", "base", "order"}, ...]   # only in ablation studies
    }

Only ``config``, ``task``, ``backbone_note``, ``dataset``, ``metrics`` and ``ablation`` are deterministic; the
leaderboard reads nothing else, so it renders the same from the same runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.api.errors import BenchError
from bench.api.files import write_text_atomic
from bench.results.naming import run_name, slug

SCHEMA_VERSION = 1


@dataclass
class RunResult:
    """One evaluated configuration (see the module docstring for the meaning of each field)."""

    task: str
    config: dict[str, Any]
    dataset: dict[str, Any]
    metrics: dict[str, float]
    backbone_note: str | None = None
    extractor: dict[str, str] = field(default_factory=dict)
    runtime: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    ablation: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Deterministic run name: a readable slug plus a hash of the full configuration."""
        return run_name(self.config)

    def to_dict(self) -> dict[str, Any]:
        data = {"schema_version": SCHEMA_VERSION, "name": self.name, **asdict(self)}
        if not self.ablation:
            del data["ablation"]  # files of plain runs keep their form
        return data


def result_path(output_dir: Path, result: RunResult) -> Path:
    """``<output_dir>/<dataset>/<run name>.json``."""
    return Path(output_dir) / slug(result.config["dataset"]) / f"{result.name}.json"


def write_result(output_dir: Path, result: RunResult) -> Path:
    """Write ``result`` atomically (temporary file + rename) and return its path."""
    path = result_path(output_dir, result)
    try:
        return write_text_atomic(path, json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise BenchError(
            f"Cannot write the results file {str(path)!r}: {exc.strerror}.",
            "Free space there or pass --output-dir DIR; the descriptors are cached, so a rerun only "
            "scores and writes.",
        ) from exc


def read_result(path: Path) -> RunResult:
    """Read one results file; raises ``ValueError`` naming the file when it is not a results file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable JSON results file ({exc})") from exc
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: not an sbir-bench results file (schema_version {SCHEMA_VERSION} expected)")
    missing = [key for key in ("task", "config", "dataset", "metrics") if key not in data]
    if missing:
        raise ValueError(f"{path}: results file lacks {', '.join(missing)}")
    return RunResult(
        task=data["task"],
        config=data["config"],
        dataset=data["dataset"],
        metrics=data["metrics"],
        backbone_note=data.get("backbone_note"),
        extractor=data.get("extractor", {}),
        runtime=data.get("runtime", {}),
        versions=data.get("versions", {}),
        ablation=data.get("ablation", []),
    )


def find_result_files(results_dir: Path) -> list[Path]:
    """Every ``*.json`` below ``results_dir``, sorted by path (deterministic)."""
    return sorted(p for p in Path(results_dir).rglob("*.json") if not p.name.startswith("."))
