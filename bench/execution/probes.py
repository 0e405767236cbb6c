"""Linear probes inside runs: the probe of a configuration, read from its file or trained first.

``--probe linear:FILE`` reads the file. ``--probe linear`` trains one probe per configuration (the
descriptors' backbone, weights, layer, t, prompt, dataset, seed, and the probe's dimension and
training settings) on the train split's descriptors, extracted through the feature cache like the
test split's (so a second probe of the same configuration extracts nothing), and saves it under
``<output_dir>/probes/`` with a name that hashes all of it (:func:`bench.plan.identity.trained_probe_path`);
a later run with the same configuration reads the file instead of training. The content hash of the
probe's weight is part of the run identity (``probe_content``), as a trained prompt's is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.api.datasets import ImageItem
from bench.api.reporting import Reporter
from bench.config.run_config import SweepSpec
from bench.extraction.cached import GroupDescriptors
from bench.plan.identity import descriptor_source, trained_probe_path
from bench.plan.probes import load_probe, probe_content, split_probe
from bench.plan.runs import PlannedRun


@dataclass(frozen=True)
class RunProbe:
    """A run's probe: its (D_out, D_in) weight, content hash, file, and (trained by sbir-bench) the
    counts of what it was trained on."""

    weight: np.ndarray
    content: str
    path: Path
    training_data: dict[str, Any] | None


def probe_path(run: PlannedRun, spec: SweepSpec, trained_prompt: str | None) -> Path:
    """The file of ``run``'s probe: the one named by ``linear:FILE``, or where a trained one is saved."""
    assert run.probe is not None, "only runs with a probe have a probe file"
    _, path = split_probe(run.probe)
    return path if path is not None else trained_probe_path(Path(spec.output_dir), run, trained_prompt)


def needs_training(run: PlannedRun, spec: SweepSpec, trained_prompt: str | None) -> bool:
    """Whether ``run`` has a probe to train (``--probe linear`` and no file saved for it yet)."""
    return run.probe_train is not None and not probe_path(run, spec, trained_prompt).is_file()


def saved_probe_content(run: PlannedRun, spec: SweepSpec, trained_prompt: str | None) -> str | None:
    """The content hash of ``run``'s probe, or None when it is still to be trained."""
    path = probe_path(run, spec, trained_prompt)
    return probe_content(load_probe(path)[1]) if path.is_file() else None


def read_run_probe(run: PlannedRun, spec: SweepSpec, trained_prompt: str | None) -> RunProbe:
    """The probe of ``run`` from its file (saved before, or just trained)."""
    path = probe_path(run, spec, trained_prompt)
    header, weight = load_probe(path)
    return RunProbe(weight, probe_content(weight), path, header.get("training_data"))


def probe_training(run: PlannedRun, spec: SweepSpec) -> Any:
    """The :class:`~bench.prompts.linear_probe.ProbeTraining` of ``run``'s ``linear`` probe."""
    from bench.prompts.linear_probe import ProbeTraining

    assert run.probe_train is not None and run.probe_dim is not None, "only a `linear` probe is trained"
    return ProbeTraining(**run.probe_train, seed=spec.seed, output_dim=run.probe_dim)


def descriptor_facts(run: PlannedRun, spec: SweepSpec, prompt_content: str) -> dict[str, Any]:
    """What a probe trained for ``run`` maps (its file's header fields): the descriptors' source
    (:func:`~bench.plan.identity.descriptor_source`), prompt and its content hash, noise draws and
    seed."""
    return {
        **descriptor_source(run),
        "prompt": run.prompt,
        "prompt_content": prompt_content,
        "noise_samples": run.noise_samples,
        "seed": spec.seed,
    }


@dataclass(frozen=True)
class TrainSplit:
    """The train split a probe learns from: the opened dataset, its items, and their descriptors as
    read through the cache (``descriptors.skipped``: the items whose image could not be read)."""

    dataset: Any
    items: list[ImageItem]
    descriptors: GroupDescriptors


def train_run_probe(
    run: PlannedRun,
    spec: SweepSpec,
    train: TrainSplit,
    output: Path,
    prompt_content: str,
    *,
    device: Any,
    reporter: Reporter,
    state: dict[str, Any] | None = None,
) -> Any:
    """Train ``run``'s probe on the descriptors of ``train`` and save it to ``output``, from the
    checkpoint ``state`` if given (:func:`~bench.prompts.triplet_training.resume_state`); returns the
    :class:`~bench.prompts.triplet_training.TrainOutcome`. Images that could not be read are left out."""
    from bench.prompts.linear_probe import ProbeData, train_linear_probe

    key = (run.t, run.layer.name)
    split = train.descriptors
    missing = {row for row, _ in split.skipped}
    kept = [row for row in range(len(train.items)) if row not in missing]
    data = ProbeData(
        run,
        train.dataset,
        [train.items[row] for row in kept],
        split.descriptors[key][kept],
        descriptor_facts(run, spec, prompt_content),
        {"train_images": len(kept), "train_images_extracted": split.extracted},
    )
    training = probe_training(run, spec)
    return train_linear_probe(training, data, output, device=device, state=state, reporter=reporter)
