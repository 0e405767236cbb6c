"""Training a linear probe (:mod:`bench.plan.probes`) on descriptors already extracted: the prompts'
triplets, triplet loss, AdamW, validation hold-out and early stopping (:mod:`bench.prompts.triplet_training`),
with the backbone out of the loop, so an epoch costs a few matrix products.

The map starts at the identity when it is square (so epoch 0 scores exactly as the frozen
descriptors do); otherwise at a seeded random matrix with orthonormal rows (fewer outputs: a random
projection) or columns (more outputs: it keeps every cosine, so epoch 0 equals the frozen baseline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.api.datasets import ImageItem
from bench.api.reporting import Reporter, SilentReporter
from bench.api.version import __version__
from bench.config.training import PROBE_SETTINGS
from bench.plan.probes import WEIGHT_KEY, save_probe
from bench.plan.runs import PlannedRun
from bench.prompts.learnable import triplet_loss
from bench.prompts.triplet_training import (
    TrainOutcome,
    TripletTrainer,
    run_epochs,
    split_score,
    validation_sides,
)
from bench.prompts.triplets import Triplet


@dataclass(frozen=True)
class ProbeTraining:
    """The settings of one probe's training (:data:`~bench.config.training.PROBE_SETTINGS`, as
    :class:`~bench.config.training.TrainSpec` defines them, and the run's seed and output dimension)."""

    epochs: int
    batch_size: int
    grad_accum: int
    steps_per_epoch: int | None
    lr: float
    weight_decay: float
    margin: float
    val_split: float
    patience: int
    train_fraction: float
    train_count: int | None
    seed: int
    output_dim: int
    eval_train: bool = True  # the train split is scored before and after (it costs nothing here)


class LinearProbe(torch.nn.Module):
    """y = W (x / |x|), then y / |y|: a (B, D_in) batch of descriptors to (B, D_out).

    Attributes:
        weight: (D_out, D_in) parameter (see the module docstring for its start).
    """

    def __init__(self, input_dim: int, output_dim: int, seed: int) -> None:
        super().__init__()
        if input_dim == output_dim:
            start = torch.eye(input_dim)
        else:
            start = torch.empty(output_dim, input_dim)
            torch.nn.init.orthogonal_(start, generator=torch.Generator().manual_seed(seed))
        self.weight = torch.nn.Parameter(start)

    def forward(self, descriptors: torch.Tensor) -> torch.Tensor:
        return F.normalize(F.normalize(descriptors, dim=-1) @ self.weight.T, dim=-1)

    def tensors(self) -> dict[str, torch.Tensor]:
        """``{"weight": W}``, a detached copy (the probe file's tensor)."""
        return {WEIGHT_KEY: self.weight.detach().clone()}

    @torch.no_grad()
    def load_learned(self, tensors: dict[str, torch.Tensor]) -> None:
        """Set W from :meth:`tensors`-style values (e.g. the best epoch's)."""
        self.weight.copy_(tensors[WEIGHT_KEY])


@dataclass(frozen=True)
class ProbeData:
    """What a probe learns from.

    Attributes:
        run: the configuration the descriptors come from (its dataset's task and metric).
        dataset: the opened dataset (scores validation as ``bench run`` scores its test split).
        items: the train split's items with a descriptor (sketches and photos).
        descriptors: (len(items), D_in) float32, row i describing ``items[i]``.
        facts: what the descriptors are (the fields of :class:`~bench.plan.probes.ProbeHeader`).
        extraction: how many train-split images were extracted and how many read from the cache.
    """

    run: PlannedRun
    dataset: Any
    items: list[ImageItem]
    descriptors: np.ndarray
    facts: dict[str, Any]
    extraction: dict[str, int]


class LinearProbeTrainer(TripletTrainer):
    """Triplet training of a :class:`LinearProbe` on the fixed descriptors of ``data``, with the
    settings ``spec``, on ``device``."""

    def __init__(self, spec: ProbeTraining, data: ProbeData, device: torch.device) -> None:
        self.spec, self.run, self.dataset, self.device = spec, data.run, data.dataset, device
        self.row = {id(item): row for row, item in enumerate(data.items)}
        self.features = torch.from_numpy(np.ascontiguousarray(data.descriptors, dtype=np.float32)).to(device)
        self.split_items(data.items, data.run)
        self.probe = LinearProbe(data.descriptors.shape[1], spec.output_dim, spec.seed).to(device)
        self.start_optimiser(self.probe.parameters(), data.run)

    @property
    def learned(self) -> LinearProbe:
        """The probe being learned."""
        return self.probe

    def _mapped(self, items: list[ImageItem]) -> torch.Tensor:
        rows = torch.tensor([self.row[id(item)] for item in items], device=self.device)
        return self.probe(self.features[rows])

    def step_loss(self, triplets: list[Triplet], epoch: int, step: int) -> torch.Tensor:
        items = self.train_items
        anchors = self._mapped([items[t.anchor] for t in triplets])
        positives = self._mapped([items[t.positive] for t in triplets])
        negatives = self._mapped([items[t.negative] for t in triplets])
        return triplet_loss(anchors, positives, negatives, self.spec.margin)

    @torch.no_grad()
    def score(self, items: list[ImageItem]) -> float:
        queries, gallery = validation_sides(items)
        mapped = self._mapped(queries + gallery).cpu().numpy()
        return split_score(self.run, self.dataset, queries, gallery, mapped)


def train_linear_probe(
    spec: ProbeTraining,
    data: ProbeData,
    output: Path,
    *,
    device: torch.device,
    state: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainOutcome:
    """Train a probe on ``data`` (see :class:`LinearProbeTrainer`) and save it to ``output`` with a
    header of ``data.facts``, its training settings, history and metrics (with ``data.extraction``).

    Args:
        state: the checkpoint to continue from (:func:`~bench.prompts.triplet_training.resume_state`, checked
            before the descriptors were read), or None to start.
        on_epoch: called with each epoch's record.

    Raises:
        BenchError: no usable triplet, or an invalid validation split.
    """
    reporter = reporter or SilentReporter()
    output = Path(output).expanduser()
    trainer = LinearProbeTrainer(spec, data, device)
    title = f"training a linear probe on {data.run.backbone.id} {data.run.layer.name}"
    tensors, metrics, history = run_epochs(trainer, output, title, state, reporter, on_epoch)
    header = {
        **data.facts,
        "input_dim": data.descriptors.shape[1],
        "output_dim": spec.output_dim,
        "training": {key: getattr(spec, key) for key in PROBE_SETTINGS},
        "training_data": trainer.training_data,
        "metrics": {**data.extraction, **metrics},
        "history": history,
        "sbir_bench_version": __version__,
    }
    return TrainOutcome(save_probe(output, tensors[WEIGHT_KEY], header), header)
