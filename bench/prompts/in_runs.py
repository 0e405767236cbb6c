"""Learned prompt schemes inside a sweep: train once per configuration, reuse the saved file.

``bench run --prompt visual+textual`` (or an ablation that varies the prompt) trains the scheme for
each (backbone, weights, layer, t, image size, dataset, seed, training settings) it is evaluated
with, on the dataset's train split, and saves it under ``<output_dir>/prompts/`` with a name that
hashes all of these; a later run with the same configuration reads the file instead of training.
What the file holds is part of the run's identity (``prompt_content`` in its results), so a file
changed since it was trained gives another results file, never a silent rewrite of the first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.api.components import PromptCondition
from bench.config.run_config import SweepSpec
from bench.plan.identity import train_spec_for, trained_prompt_path
from bench.plan.runs import PlannedRun
from bench.prompts.files import learned_condition
from bench.registry.tables import Registry


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
    from bench.prompts.trainer import plan_training, train_prompt

    train = train_spec_for(run, spec)
    path = trained_prompt_path(Path(spec.output_dir), train)
    if path.is_file():  # its name hashes every training setting; loading it checks the file
        reporter.status(f"using the {run.prompt} prompt trained before: {path}")
    else:
        reporter.status(f"training the {run.prompt} prompt for {run.backbone.id} {run.layer.name} t={run.t}")
        backbone = load_backbone() if load_backbone is not None else None
        train_prompt(train, plan_training(train, registry), path, reporter=reporter, backbone=backbone)
    return learned_condition(path), path


def saved_prompt_content(run: PlannedRun, spec: SweepSpec) -> str | None:
    """The content hash (``prompt_content``) of the prompt a run of ``run``'s configuration trained
    and saved before, or None when none is saved (the run would train it)."""
    from bench.extraction.fingerprints import prompt_fingerprint

    path = trained_prompt_path(Path(spec.output_dir), train_spec_for(run, spec))
    return prompt_fingerprint(learned_condition(path)) if path.is_file() else None
