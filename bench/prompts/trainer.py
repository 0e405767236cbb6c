"""``bench train``: learn a prompt scheme on a dataset's train split with the backbone frozen.

Each step draws a batch of triplets (:mod:`bench.prompts.triplets`), extracts the anchors' sketch
descriptors and the photos' descriptors *with gradients* through the frozen backbone (the same
layer, timestep, pooling and noise averaging as ``bench run``), and minimises the triplet loss
(:func:`bench.prompt_learning.triplet_loss`) with AdamW over the prompt's parameters only. The
backbone's parameters never reach the optimiser and stay in eval mode; gradients flow through them
to the pixels (visual prompt) and to the text context (textual prompt).

The validation hold-out (classes or instances, ``val_split``) is taken first; training then uses
the whole rest or, with ``train_fraction`` / ``train_count``, a nested subset of it per class
(:mod:`bench.prompts.train_subset`); the header records the counts of both.

After every epoch: optional validation (held-out classes or instances, ``val_split``) on the task's
main metric with early stopping (in the metric's direction: a lower-is-better metric improves by
falling), and a checkpoint (``<output>.ckpt``) that ``resume`` continues from. The saved prompt is
the one with the best validation metric (the last one without validation).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.api.backbones import ActivationCheckpointing, TextContext
from bench.api.components import PromptCondition
from bench.api.datasets import ImageItem
from bench.api.errors import BenchError
from bench.api.evaluation import ResolvedMetric
from bench.api.files import atomic_file, check_writable_folder
from bench.api.reporting import Reporter, SilentReporter
from bench.api.tensor_names import load_complete
from bench.api.torch_files import read_torch_file
from bench.api.version import __version__
from bench.config.training import TrainSpec
from bench.extraction.devices import peak_memory_mb
from bench.extraction.features import layer_features
from bench.extraction.pooling import descriptor
from bench.plan.runs import PlannedRun, plan_sweep
from bench.prompts.files import save_prompt
from bench.prompts.learnable import LearnablePrompt, triplet_loss
from bench.prompts.train_subset import training_data_record, training_subset
from bench.prompts.triplets import Triplet, TripletSampler, split_validation
from bench.registry.tables import Registry

RESUME_IGNORES = ("epochs", "patience")  # may change between a run and its resumption


@dataclass
class TrainOutcome:
    """What training produced: the prompt file, its header, and the per-epoch history."""

    path: Path
    header: dict[str, Any]


@dataclass(frozen=True)
class TrainingPlan:
    """A checked training: the resolved configuration and the prompt parts its scheme learns."""

    run: PlannedRun
    parts: tuple[str, ...]


def plan_training(spec: TrainSpec, registry: Registry) -> TrainingPlan:
    """The resolved configuration and the parts the scheme learns; every check that needs no model.

    Raises:
        BenchError: an unknown id, a scheme with nothing to learn, a backbone gradients cannot flow
            through to the scheme's parts, or an invalid number.
    """
    scheme = registry.prompt_schemes.get(spec.scheme)
    trainable = [e.component.id for e in registry.prompt_schemes if e.component.learns]
    if not scheme.learns:
        raise BenchError(
            f"Prompt scheme {spec.scheme!r} has nothing to learn.",
            f"Train one of: {', '.join(trainable)}.",
        )
    run = plan_sweep(spec.sweep(), registry)[0]  # checks that gradients reach the parts
    return TrainingPlan(run, scheme.learns)


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


class PromptTrainer(TripletTrainer):
    """The training loop for one planned configuration (see the module docstring).

    Args:
        spec: the training settings.
        run: from :func:`plan_training`.
        parts: the learned parts.
        reporter: progress bars and per-epoch status lines.
        backbone: the backbone already loaded (float32, on ``spec.device``), or None to load it.
    """

    def __init__(
        self,
        spec: TrainSpec,
        run: PlannedRun,
        parts: tuple[str, ...],
        reporter: Reporter,
        backbone: Any = None,
    ) -> None:
        from bench.extraction.devices import resolve_device, slow_dtype_warning

        self.spec, self.run, self.reporter = spec, run, reporter
        self.device = resolve_device(spec.device)
        if spec.bf16:
            warning = slow_dtype_warning(torch.bfloat16, self.device)
            if warning:
                reporter.status(warning)
        self.dataset = run.open_dataset()  # a wrong dataset or empty split fails before the model loads
        relevance = run.task.relevance
        available, self.val_items = split_validation(
            self.dataset.split("train"), relevance, spec.val_split, spec.seed
        )
        self.train_items = training_subset(
            available, relevance, spec.seed, spec.train_fraction, spec.train_count
        )
        self.training_data = training_data_record(available, self.train_items, self.val_items, relevance)
        self.sampler = TripletSampler(self.train_items, relevance, spec.seed)
        if backbone is None:
            from bench.extraction.loading import load_planned_backbone

            reporter.status(f"loading backbone {run.backbone.id} ({run.weights})")
            backbone = load_planned_backbone(run, device=self.device, dtype=torch.float32)
        self.backbone = backbone
        if spec.activation_checkpointing:
            self._enable_checkpointing()
        empty = self._empty_context() if "textual" in parts else None
        self.prompt = LearnablePrompt(
            parts, image_size=run.image_size, width=spec.width, empty_context=empty
        ).to(self.device)
        self.optimizer = torch.optim.AdamW(
            self.prompt.parameters(), lr=spec.lr, weight_decay=spec.weight_decay
        )
        self.main = run.main_metric
        self.metric = self.main.name

    @property
    def learned(self) -> LearnablePrompt:
        """The prompt being learned."""
        return self.prompt

    def _enable_checkpointing(self) -> None:
        if not isinstance(self.backbone.model, ActivationCheckpointing):
            self.reporter.status(
                f"backbone {self.run.backbone.id} offers no activation checkpointing; training without it"
            )
        else:
            self.backbone.model.enable_activation_checkpointing()

    def _empty_context(self) -> torch.Tensor:
        """The (77, d) context of the empty text: where a learned textual prompt starts."""
        if not isinstance(self.backbone.model, TextContext):
            raise BenchError(
                f"Backbone {self.run.backbone.id!r} (plugin {self.run.backbone_plugin!r}) declares a "
                "learnable textual prompt but has no text_context(text) method.",
                "Its plugin must implement bench.TextContext, or not list 'textual' in learnable_prompts.",
            )
        return self.backbone.model.text_context("")

    # -- one step ---------------------------------------------------------------------------------

    def _describe(
        self, items: list[ImageItem], modality: str, condition: PromptCondition, seeds: np.ndarray
    ) -> torch.Tensor:
        """(len(items), D) descriptors with gradients to ``condition``'s learned tensors."""
        pixels = self.backbone.preprocess([self.dataset.load_image(item) for item in items])
        plan = self.run.layer
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.spec.bf16):
            features = layer_features(
                self.backbone,
                pixels,
                modality=modality,
                layers=(plan,),
                timesteps=(self.run.t,),
                noise_samples=self.spec.noise_samples,
                noise_seeds=[int(s) for s in seeds],
                prompt=condition,
            )
        described = descriptor([tap.float() for tap in features[(self.run.t, plan.name)]], plan.pool)
        if torch.is_grad_enabled() and not described.requires_grad:  # (no_grad: a caller evaluating)
            raise self._no_gradients_error()
        return described

    def _no_gradients_error(self) -> BenchError:
        """A backbone whose features carry no gradients to the prompt (the backward pass would end in
        "element 0 of tensors does not require grad")."""
        backbone = self.run.backbone
        return BenchError(
            f"Backbone {backbone.id!r} (plugin {self.run.backbone_plugin!r}) returned layer "
            f"{self.run.layer.name!r} features without gradients, so no prompt can be learned through "
            "it: its features() runs under torch.no_grad() or torch.inference_mode(), or detaches "
            "its output.",
            "Remove torch.no_grad() / inference_mode() / .detach() from the plugin's features() (bench "
            "run already extracts without gradients), or leave learnable_prompts out of its BackboneInfo.",
        )

    def step_loss(self, triplets: list[Triplet], epoch: int, step: int) -> torch.Tensor:
        """The triplet loss of one micro-batch (a scalar with gradients to the prompt)."""
        items = self.train_items
        seeds = np.random.default_rng([self.spec.seed, epoch, step]).integers(0, 2**62, 3 * len(triplets))
        condition = self.prompt.condition()
        anchors = self._describe(
            [items[t.anchor] for t in triplets], "sketch", condition, seeds[: len(triplets)]
        )
        photos = [items[t.positive] for t in triplets] + [items[t.negative] for t in triplets]
        photo_descriptors = self._describe(photos, "photo", condition, seeds[len(triplets) :])
        positives, negatives = photo_descriptors.split(len(triplets))
        return triplet_loss(anchors, positives, negatives, self.spec.margin)

    # -- evaluation -------------------------------------------------------------------------------

    def score(self, items: list[ImageItem]) -> float:
        """The task's main metric with the current prompt, sketches of ``items`` as queries against
        its photos, extracted exactly as ``bench run`` does (no gradients)."""
        from bench.extraction.loop import ExtractionRequest, extract_descriptors
        from bench.plan.settings import ExecutionSettings

        queries, gallery = validation_sides(items)
        request = ExtractionRequest(
            layers=(self.run.layer,),
            timesteps=(self.run.t,),
            noise_samples=self.spec.noise_samples,
            prompt=self.prompt.condition(),
            settings=ExecutionSettings(seed=self.spec.seed, batch_size=self.spec.batch_size, workers=0),
        )
        rows = extract_descriptors(self.backbone, self.dataset, queries + gallery, request)
        features = rows.descriptors[(self.run.t, self.run.layer.name)]
        return split_score(self.run, self.dataset, queries, gallery, features)


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
    check_writable_folder(
        output.parent, f"--output {str(output)!r}", "Pass --output a file in a folder you can write to."
    )
    return _resume_state(_checkpoint_path(output), config) if resume else None


def train_prompt(
    spec: TrainSpec,
    plan: TrainingPlan,
    output: Path,
    *,
    resume: bool = False,
    reporter: Reporter | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    backbone: Any = None,
) -> TrainOutcome:
    """Train ``spec.scheme`` and save it to ``output`` (see the module docstring).

    Args:
        resume: continue from ``<output>.ckpt`` (which must come from the same settings, apart
            from ``epochs`` and ``patience``).
        on_epoch: called with each epoch's record (epoch, loss, validation metric, seconds).
        backbone: the backbone already loaded (float32), or None to load it.

    Raises:
        BenchError: any planning error, a missing or mismatched checkpoint with ``resume``.
    """
    reporter = reporter or SilentReporter()
    run, parts = plan.run, plan.parts
    output = Path(output).expanduser()
    config = asdict(spec)
    state = resume_state(output, config, resume)  # before the backbone loads
    trainer = PromptTrainer(spec, run, parts, reporter, backbone)
    title = f"training {spec.scheme} on {run.backbone.id}"
    tensors, metrics, history = run_epochs(trainer, output, title, state, reporter, on_epoch)
    header = {
        "backbone": run.backbone.id,
        "weights": run.weights,
        "layer": run.layer.name,
        "pool": run.layer.pool,
        "t": run.t,
        "image_size": run.image_size,
        "scheme": spec.scheme,
        "parts": list(parts),
        "width": spec.width,
        "dataset": run.dataset.id,
        "dataset_options": dict(sorted(run.dataset_options.items())),
        "training": config,
        "training_data": trainer.training_data,
        "metrics": metrics,
        "history": history,
        "sbir_bench_version": __version__,
    }
    return TrainOutcome(save_prompt(output, tensors, header), header)


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
