"""Markdown tables of the sd-mini studies, read from the results files `bench run` wrote.

docs/sd-mini.md's tables are this script's output (`benchmarks/sd_mini_studies.sh tables` runs it
and writes results/sd-mini/tables.md); it computes nothing but means and ranges over seeds.

    python benchmarks/sd_mini_tables.py [results/sd-mini]
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

METRIC = {"synthetic": "mAP@all", "synthetic-fg": "Acc@1"}
SECOND = {"synthetic": "P@10", "synthetic-fg": "Acc@5"}
COLUMNS = "synthetic mAP@all | synthetic P@10 | synthetic-fg Acc@1 | synthetic-fg Acc@5 |"
LAYERS = ("up0", "up1", "up2", "up3", "coarse", "fine")


def load(folder: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*/*.json"))]


def fmt(dataset: str, value: float) -> str:
    return f"{value:.2f}" if dataset.endswith("-fg") else f"{value:.3f}"


def compare(results: list[dict]) -> list[str]:
    lines = ["| backbone | layer | t | " + COLUMNS]
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    rows: dict[tuple, dict] = defaultdict(dict)
    for r in results:
        c = r["config"]
        rows[(c["backbone"], c["layer"], c["t"])][c["dataset"]] = r["metrics"]
    for (backbone, layer, t), by in rows.items():
        s, f = by.get("synthetic", {}), by.get("synthetic-fg", {})
        lines.append(
            f"| `{backbone}` | {layer} | {'-' if t is None else t} | {s.get('mAP@all', float('nan')):.3f} | "
            f"{s.get('P@10', float('nan')):.3f} | {f.get('Acc@1', float('nan')):.2f} | "
            f"{f.get('Acc@5', float('nan')):.2f} |"
        )
    return lines


def grid(results: list[dict], dataset: str, metric: str) -> list[str]:
    values = {(r["config"]["layer"], r["config"]["t"]): r["metrics"][metric] for r in results
              if r["config"]["dataset"] == dataset}  # fmt: skip
    ts = sorted({t for _, t in values})
    layers = [layer for layer in LAYERS if any((layer, t) in values for t in ts)]
    best = max(values.values())
    lines = [f"| {metric} | " + " | ".join(f"t={t}" for t in ts) + " |", "|---|" + "---:|" * len(ts)]
    for layer in layers:
        cells = []
        for t in ts:
            value = values.get((layer, t))
            text = "" if value is None else fmt(dataset, value)
            cells.append(f"**{text}**" if value == best else text)
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    return lines


def over_seeds(results: list[dict], key) -> dict:
    """key(result) -> group; returns group -> {dataset: {metric: [values over seeds]}}."""
    groups: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in results:
        dataset = r["config"]["dataset"]
        for metric in (METRIC[dataset], SECOND[dataset]):
            groups[key(r)][dataset][metric].append(r["metrics"][metric])
    return groups


def mean_range(dataset: str, values: list[float]) -> str:
    mean = sum(values) / len(values)
    if len(values) == 1:
        return fmt(dataset, mean)
    return f"{fmt(dataset, mean)} ({fmt(dataset, min(values))}-{fmt(dataset, max(values))})"


def noise(results: list[dict]) -> list[str]:
    groups = over_seeds(
        results, lambda r: (r["config"]["layer"], r["config"]["t"], r["config"]["noise_samples"])
    )
    seeds = sorted({r["config"]["seed"] for r in results})
    lines = [
        "| layer | t | noise draws | " + COLUMNS,
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for layer, t, n in sorted(groups, key=lambda k: (LAYERS.index(k[0]), k[1], k[2])):
        g = groups[(layer, t, n)]
        cells = [
            mean_range(d, g[d][m]) for d in ("synthetic", "synthetic-fg") for m in (METRIC[d], SECOND[d])
        ]
        lines.append(f"| {layer} | {t} | {n} | " + " | ".join(cells) + " |")
    lines.append(f"\nMean over run seeds {', '.join(map(str, seeds))} (range in brackets).")
    return lines


def prompts(results: list[dict]) -> list[str]:
    """none against the learned prompt files of sd_mini_studies.sh (named <set>_<scheme>_s<seed>)."""

    def scheme_and_seed(prompt: str) -> tuple[str, int | None]:
        found = re.search(r"_(visual|textual|visual-textual)_s(\d+)\.safetensors$", prompt)
        return (found[1].replace("-", "+"), int(found[2])) if found else (prompt, None)

    groups: dict = defaultdict(lambda: defaultdict(dict))
    for r in results:
        c = r["config"]
        scheme, seed = scheme_and_seed(c["prompt"])
        groups[(c["dataset"], c["layer"], c["t"])][scheme][seed] = r["metrics"]
    lines = []
    for (dataset, layer, t), by_scheme in sorted(groups.items()):
        metric, second = METRIC[dataset], SECOND[dataset]
        seeds = sorted({s for runs in by_scheme.values() for s in runs if s is not None})
        lines += [
            f"\n`{dataset}`, {layer}, t = {t}, training seeds {', '.join(map(str, seeds))}:\n",
            f"| prompt | {metric} | {second} | {metric} per seed |",
            "|---|---:|---:|---|",
        ]
        for name in ("none", "visual", "textual", "visual+textual"):
            if name not in by_scheme:
                continue
            runs = by_scheme[name]
            each = ", ".join(
                fmt(dataset, runs[s][metric]) for s in sorted(runs, key=lambda s: -1 if s is None else s)
            )
            lines.append(
                f"| {name} | {mean_range(dataset, [m[metric] for m in runs.values()])} | "
                f"{mean_range(dataset, [m[second] for m in runs.values()])} | {each} |"
            )
    return lines


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results/sd-mini")
    out: list[str] = []
    if (root / "compare").is_dir():
        out += ["## compare", "", *compare(load(root / "compare"))]
    for study in ("sweep", "sweep-flatten"):
        if (root / study).is_dir():
            results = load(root / study)
            for dataset in ("synthetic", "synthetic-fg"):
                if any(r["config"]["dataset"] == dataset for r in results):
                    for metric in (METRIC[dataset], SECOND[dataset]):
                        out += ["", f"## {study}: {dataset}, {metric}", "", *grid(results, dataset, metric)]
    if (root / "noise").is_dir():
        out += ["", "## noise", "", *noise(load(root / "noise"))]
    if (root / "prompts").is_dir():
        out += ["", "## prompts", *prompts(load(root / "prompts"))]
    print("\n".join(out))


if __name__ == "__main__":
    main()
