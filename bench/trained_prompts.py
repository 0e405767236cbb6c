"""Learned prompt schemes inside a sweep: train once per configuration, reuse the saved file.

``bench run --prompt visual+textual`` (or an ablation that varies the prompt) trains the scheme for
each (backbone, weights, layer, t, image size, dataset, seed, training settings) it is evaluated
with, on the dataset's train split, and saves it under ``<output_dir>/prompts/`` with a name that
hashes all of these; a later run with the same configuration reads the file instead of training.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bench.components import PromptCondition
from bench.planning import PlannedRun
from bench.prompt_file import learned_condition, read_header
from bench.registry import Registry
from bench.sweep import SweepSpec
from bench.train_spec import TrainSpec

PROMPTS_DIR = "prompts"


def train_spec_for(run: PlannedRun, spec: SweepSpec) -> TrainSpec:
    """What training the learned scheme of ``run`` means (its ``train`` settings, the run's ids)."""
    assert run.train is not None, "only runs of learned prompt schemes are trained"
    return TrainSpec(
        backbone=run.backbone.id,
        dataset=run.dataset.id,
        scheme=run.prompt,
        layer=run.layer.name,
        t=run.t,
        seed=spec.seed,
        device=spec.device,
        image_size=run.image_size,
        weights=run.weights,
        data_root=str(run.data_root) if run.data_root else None,
        dataset_options=dict(run.dataset_options),
        **run.train,
    )


def prompt_path(output_dir: Path, train: TrainSpec) -> Path:
    """``<output_dir>/prompts/<backbone>_<layer>_t<t>_<scheme>-<hash12>.safetensors``."""
    digest = hashlib.sha256(json.dumps(asdict(train), sort_keys=True, default=str).encode()).hexdigest()
    name = f"{train.backbone}_{train.layer}_t{train.t}_{train.scheme}-{digest[:12]}.safetensors"
    return Path(output_dir) / PROMPTS_DIR / name.replace("+", "-")


def trained_condition(
    run: PlannedRun,
    spec: SweepSpec,
    registry: Registry,
    reporter: Any,
    load_backbone: Callable[[], Any] | None = None,
) -> tuple[PromptCondition, Path]:
    """The learned prompt of ``run`` (training it first when no saved file matches) and its file.

    ``load_backbone``: returns the run's backbone in float32 for training to reuse (called only
    when training is needed); None lets training load its own.
    """
    from bench.training import train_prompt

    train = train_spec_for(run, spec)
    path = prompt_path(Path(spec.output_dir), train)
    if path.is_file():  # its name hashes every training setting; loading it checks the file
        reporter.status(f"using the {run.prompt} prompt trained before: {path}")
    else:
        reporter.status(f"training the {run.prompt} prompt for {run.backbone.id} {run.layer.name} t={run.t}")
        backbone = load_backbone() if load_backbone is not None else None
        train_prompt(train, registry, path, reporter=reporter, backbone=backbone)
    return learned_condition(path), path


def settings_from_learned_prompt(spec: SweepSpec, given: set[str]) -> tuple[SweepSpec, dict[str, Any]]:
    """With exactly one ``learned:FILE`` prompt, fill the sweep settings ``given`` does not name from
    the file's header (what it was trained for): backbone, weights, layer, t, image size, dataset and
    its options. Returns the sweep and the settings filled in (empty when nothing applies)."""
    learned = [prompt for prompt in spec.prompt if prompt.startswith("learned:")]
    if len(learned) != 1:
        return spec, {}
    header = read_header(Path(learned[0].partition(":")[2]))
    recorded = {
        "backbone": (header["backbone"],),
        "weights": {header["backbone"]: header.get("weights")},
        "layer": (header.get("layer"),),
        "t": (header.get("t"),),
        "image_size": header["image_size"],
        "dataset": (header.get("dataset"),),
        "dataset_options": header.get("dataset_options"),
    }
    unrecorded = (None, (None,), {header["backbone"]: None})  # a header written by hand may omit them
    filled = {key: value for key, value in recorded.items() if key not in given and value not in unrecorded}
    return replace(spec, **filled), filled
