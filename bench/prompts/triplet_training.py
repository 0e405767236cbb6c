"""The triplet-training loop shared by everything ``bench train`` learns (a prompt,
:mod:`bench.prompts.trainer`; a linear probe, :mod:`bench.prompts.linear_probe`): an epoch's
triplets in micro-batches, AdamW steps, validation on the task's main metric with early stopping
(in the metric's direction: a lower-is-better metric improves by falling), and a checkpoint after
every epoch (``<output>.ckpt``) that ``resume`` continues from. The learned tensors saved are those
of the best validation epoch (the last one without validation).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.api.datasets import ImageItem
from bench.api.errors import BenchError
from bench.api.evaluation import ResolvedMetric
from bench.api.files import atomic_file, check_can_write
from bench.api.reporting import Reporter
from bench.api.tensor_names import load_complete
from bench.api.torch_files import read_torch_file
from bench.extraction.devices import peak_memory_mb
from bench.plan.runs import PlannedRun
from bench.prompts.train_subset import training_data_record, training_subset
from bench.prompts.triplets import Triplet, TripletSampler, split_validation

RESUME_IGNORES = ("epochs", "patience")  # may change between a run and its resumption


@dataclass
class TrainOutcome:
    """What training produced: the prompt file, its header, and the per-epoch history."""

    path: Path
    header: dict[str, Any]


class TripletTrainer:
    """What :func:`run_epochs` trains: the triplets of an epoch, micro-batches of them, AdamW steps.

    Subclasses set ``spec`` (``batch_size``, ``grad_accum``, ``steps_per_epoch``, ``epochs``,
    ``patience``, ``eval_train``), ``sampler`` (a :class:`TripletSampler` over ``train_items``),
    ``val_items``, ``optimizer``, ``device``, ``main`` (the validation metric, whose direction
    early stopping follows) and ``metric`` (its name), and implement :attr:`learned`,
    :meth:`step_loss` and :meth:`score`.
    """

    spec: Any
    sampler: TripletSampler
    train_items: list[ImageItem]
    val_items: list[ImageItem]
    optimizer: torch.optim.Optimizer
    device: torch.device
    main: ResolvedMetric
    metric: str

    @property
    def learned(self) -> Any:
        """The module being trained (``tensors()``, ``load_learned(tensors)``, a state dict)."""
        raise NotImplementedError

    def step_loss(self, triplets: list[Triplet], epoch: int, step: int) -> torch.Tensor:
        """The triplet loss of one micro-batch (a scalar with gradients to the learned tensors)."""
        raise NotImplementedError

    def score(self, items: list[ImageItem]) -> float:
        """The validation metric with the current learned tensors, sketches of ``items`` as queries
        against its photos."""
        raise NotImplementedError

    def split_items(self, items: list[ImageItem], run: PlannedRun) -> None:
        """Set ``val_items`` (the validation hold-out of the train split's ``items``), ``train_items``
        (the rest, or the subset ``spec`` asks for), ``training_data`` (the counts of both, for the
        file's header) and ``sampler``, by ``run``'s relevance and ``spec.seed``."""
        if not items:
            raise BenchError(
                f"Dataset {run.dataset.id!r} has no train split (its task is {run.task.id!r}): "
                "learned prompts and linear probes train on a dataset's seen classes.",
                "Train on a dataset with a train split (`bench list datasets`; e.g. synthetic, sketchy) "
                f"and evaluate the learned file on {run.dataset.id} with "
                "`bench run --prompt learned:FILE` or `--probe linear:FILE`.",
            )
        spec, relevance = self.spec, run.task.relevance
        available, self.val_items = split_validation(items, relevance, spec.val_split, spec.seed)
        self.train_items = training_subset(
            available, relevance, spec.seed, spec.train_fraction, spec.train_count
        )
        self.training_data = training_data_record(available, self.train_items, self.val_items, relevance)
        self.sampler = TripletSampler(self.train_items, relevance, spec.seed)

    def start_optimiser(self, parameters: Iterable[torch.nn.Parameter], run: PlannedRun) -> None:
        """Set ``optimizer`` (AdamW over ``parameters`` with ``spec``'s learning rate and weight
        decay) and the validation metric ``main`` (``run``'s main metric) and its name ``metric``."""
        self.optimizer = torch.optim.AdamW(parameters, lr=self.spec.lr, weight_decay=self.spec.weight_decay)
        self.main = run.main_metric
        self.metric = self.main.name

    def epoch_triplets(self, epoch: int) -> list[Triplet]:
        """The triplets epoch ``epoch`` trains on (capped by ``steps_per_epoch``)."""
        triplets = self.sampler.epoch(epoch)
        if self.spec.steps_per_epoch is not None:
            triplets = triplets[: self.spec.steps_per_epoch * self.spec.batch_size * self.spec.grad_accum]
        return triplets

    def steps_per_epoch(self) -> int:
        """Backward passes (micro-batches) per epoch."""
        return -(-len(self.epoch_triplets(1)) // self.spec.batch_size)

    def train_epoch(self, epoch: int, on_step: Callable[[float], object] | None = None) -> dict[str, Any]:
        """One epoch of AdamW steps on the learned tensors; ``on_step(seconds)`` after each micro-batch.

        Returns:
            ``{"epoch", "loss" (mean triplet loss of the epoch), "seconds"}``.
        """
        triplets = self.epoch_triplets(epoch)
        micro, accumulate = self.spec.batch_size, self.spec.grad_accum
        losses = []
        started = time.perf_counter()
        for step, start in enumerate(range(0, len(triplets), micro)):
            step_started = time.perf_counter()
            loss = self.step_loss(triplets[start : start + micro], epoch, step)
            (loss / accumulate).backward()
            losses.append(loss.item())
            if (step + 1) % accumulate == 0 or start + micro >= len(triplets):
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
            if on_step is not None:
                on_step(time.perf_counter() - step_started)
        return {
            "epoch": epoch,
            "loss": float(np.mean(losses)),
            "seconds": round(time.perf_counter() - started, 3),
        }


def validation_sides(items: list[ImageItem]) -> tuple[list[ImageItem], list[ImageItem]]:
    """(queries, gallery) of a training-side split: its sketches, and its photos once each."""
    queries = [i for i in items if i.modality == "sketch"]
    gallery = list({i.key: i for i in items if i.modality == "photo"}.values())
    return queries, gallery


def split_score(
    run: PlannedRun,
    dataset: Any,
    queries: list[ImageItem],
    gallery: list[ImageItem],
    features: np.ndarray,
) -> float:
    """The main metric of ``run`` (:attr:`PlannedRun.main_metric`) of ``queries`` against ``gallery``
    (``features``: their (Q + G, D) descriptors, queries first), scored as ``bench run`` scores the
    test split."""
    from bench.evaluation.measures import MetricSet
    from bench.evaluation.protocol import evaluate

    scored = evaluate(
        run.task,
        MetricSet(run.metrics),
        queries,
        gallery,
        features[: len(queries)],
        features[len(queries) :],
        per_class_gallery=dataset.group_by_label,
    )
    return float(scored.metrics[run.main_metric.name])


def _checkpoint_path(output: Path) -> Path:
    return output.with_name(output.name + ".ckpt")


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in RESUME_IGNORES}


def resume_state(output: Path, config: dict[str, Any], resume: bool) -> dict[str, Any] | None:
    """What to check before anything loads: ``output``'s folder must take the file and its
    checkpoints; with ``resume``, the checkpoint to continue from (of the same ``config``), else None.

    Raises:
        BenchError: the folder cannot be written, or (``resume``) the checkpoint is missing,
            unreadable, not one of ``bench train``, or of other settings.
    """
    check_can_write(output, f"--output {str(output)!r}", "Pass --output a file in a folder you can write to.")
    return _resume_state(_checkpoint_path(output), config) if resume else None


def run_epochs(
    trainer: TripletTrainer,
    output: Path,
    title: str,
    state: dict[str, Any] | None,
    reporter: Reporter,
    on_epoch: Callable[[dict[str, Any]], None] | None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any], list[dict[str, Any]]]:
    """Train ``trainer`` for ``trainer.spec.epochs`` epochs with early stopping on validation (when it
    has validation items), a checkpoint after every epoch (``<output>.ckpt``) and progress titled
    ``title``; from ``state`` (a checkpoint, :func:`resume_state`) when it is not None.

    Returns:
        (the learned tensors to save: the best validation epoch's, else the last; the metrics for
        the file's header; the per-epoch history).
    """
    spec = trainer.spec
    config = asdict(spec)
    if state is not None:
        _restore(trainer, state, _checkpoint_path(output))
        history, best, before = state["history"], state["best"], state["before"]
    else:
        history, (best, before) = [], _starting_scores(trainer, spec, reporter)
    first_epoch = len(history) + 1
    step_seconds: list[float] = []
    total = (spec.epochs - first_epoch + 1) * trainer.steps_per_epoch()
    with reporter.progress(title, total, "step") as advance:

        def stepped(seconds: float) -> None:
            step_seconds.append(seconds)
            advance(1)

        for epoch in range(first_epoch, spec.epochs + 1):
            record = trainer.train_epoch(epoch, on_step=stepped)
            stop = False
            if trainer.val_items:
                value = trainer.score(trainer.val_items)
                record[f"val_{trainer.metric}"] = value
                if trainer.main.better(value, best["value"]):
                    best = {"epoch": epoch, "value": value, "tensors": trainer.learned.tensors()}
                stop = epoch - best["epoch"] >= spec.patience
            history.append(record)
            _save_checkpoint(_checkpoint_path(output), config, trainer, history, best, before)
            reporter.status(_epoch_line(record, spec.epochs, trainer.metric))
            if on_epoch is not None:
                on_epoch(record)
            if stop:
                reporter.status(
                    f"early stop: no better validation {trainer.metric} for {spec.patience} epoch(s)"
                )
                break
    tensors = best["tensors"] if best else trainer.learned.tensors()
    metrics = _final_metrics(trainer, spec, tensors, history, best, before)
    if step_seconds:
        metrics["seconds_per_step"] = round(float(np.median(step_seconds)), 4)
    metrics["peak_memory_mb"] = round(peak_memory_mb(trainer.device), 1)
    return tensors, metrics, history


def _starting_scores(
    trainer: TripletTrainer, spec: Any, reporter: Reporter
) -> tuple[dict[str, Any] | None, dict[str, float]]:
    """(best so far, scores before training): the untrained state is the first candidate of early
    stopping when there is a validation split; ``eval_train`` scores the train split too."""
    best, before = None, {}
    if trainer.val_items:
        best = {"epoch": 0, "value": trainer.score(trainer.val_items), "tensors": trainer.learned.tensors()}
        before[f"val_{trainer.metric}_before"] = best["value"]
        reporter.status(f"validation {trainer.metric} before training: {best['value']:.4f}")
    if spec.eval_train:
        before[f"train_{trainer.metric}_before"] = trainer.score(trainer.train_items)
    return best, before


def _final_metrics(
    trainer: TripletTrainer,
    spec: Any,
    tensors: dict[str, torch.Tensor],
    history: list[dict[str, Any]],
    best: dict[str, Any] | None,
    before: dict[str, float],
) -> dict[str, Any]:
    """The header's metrics: scores before, losses of the first and last epoch, the best validation
    epoch, and (``eval_train``) the train split scored with the saved ``tensors``."""
    metrics: dict[str, Any] = {**before, "epochs_run": len(history)}
    if history:
        metrics.update(train_loss_first_epoch=history[0]["loss"], train_loss_last_epoch=history[-1]["loss"])
    if best:
        metrics.update({f"val_{trainer.metric}_best": best["value"], "best_epoch": best["epoch"]})
    if spec.eval_train:
        trainer.learned.load_learned(tensors)
        metrics[f"train_{trainer.metric}_after"] = trainer.score(trainer.train_items)
    return metrics


def _epoch_line(record: dict[str, Any], epochs: int, metric: str) -> str:
    line = f"epoch {record['epoch']}/{epochs}: triplet loss {record['loss']:.4f} ({record['seconds']:.1f} s)"
    if f"val_{metric}" in record:
        line += f", validation {metric} {record[f'val_{metric}']:.4f}"
    return line


def _save_checkpoint(
    path: Path,
    config: dict[str, Any],
    trainer: TripletTrainer,
    history: list[dict[str, Any]],
    best: dict[str, Any] | None,
    before: dict[str, Any],
) -> None:
    state = {
        "config": config,
        "prompt": trainer.learned.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "history": history,
        "best": best,
        "before": before,
    }
    with atomic_file(path) as temporary:
        torch.save(state, temporary)


CHECKPOINT_KEYS = frozenset({"config", "prompt", "optimizer", "history", "best", "before"})


def _resume_state(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint at ``path`` (read as tensors and plain values only: a planted file runs no
    code), checked to be a ``bench train`` checkpoint of the same settings.

    Raises:
        BenchError: it is missing, unreadable, not a ``bench train`` checkpoint, or of other settings.
    """
    if not path.is_file():
        raise BenchError(
            f"--resume: no checkpoint {str(path)!r} to continue from.",
            "Drop --resume to start training, or pass the --output of the interrupted run.",
        )
    again = "Delete it and train again (without --resume), or pass the --output of the interrupted run."
    state = read_torch_file(path, "--resume: checkpoint", again)
    if not (isinstance(state, dict) and set(state) == CHECKPOINT_KEYS and isinstance(state["config"], dict)):
        raise BenchError(f"--resume: {str(path)!r} is not a checkpoint of bench train.", again)
    if _comparable(state["config"]) != _comparable(config):
        changed = sorted(k for k in _comparable(config) if state["config"].get(k) != config[k])
        raise BenchError(
            f"--resume: checkpoint {str(path)!r} was made with other settings ({', '.join(changed)}).",
            "Resume with the same settings (only --epochs and --patience may change), or train anew.",
        )
    return state


def _restore(trainer: TripletTrainer, state: dict[str, Any], path: Path) -> None:
    """Load the checkpoint's learned tensors and optimizer state into ``trainer``.

    Raises:
        BenchError: they do not fit what it learns (a damaged or edited checkpoint).
    """
    again = "Delete it and train again (without --resume)."
    load_complete(trainer.learned, state["prompt"], f"--resume: the learned tensors in {str(path)!r}", again)
    try:
        trainer.optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(
            f"--resume: the optimizer state in {str(path)!r} does not fit: {exc}", again
        ) from exc
