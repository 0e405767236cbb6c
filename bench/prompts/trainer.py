"""``bench train``: learn a prompt scheme on a dataset's train split with the backbone frozen.

Each step draws a batch of triplets (:mod:`bench.prompts.triplets`), extracts the anchors' sketch
descriptors and the photos' descriptors *with gradients* through the frozen backbone (the same
layer, timestep, pooling and noise averaging as ``bench run``), and minimises the triplet loss
(:func:`bench.prompts.learnable.triplet_loss`) with AdamW over the prompt's parameters only. The
backbone's parameters never reach the optimiser and stay in eval mode; gradients flow through them
to the pixels (visual prompt) and to the text context (textual prompt).

The validation hold-out (classes or instances, ``val_split``) is taken first; training then uses
the whole rest or, with ``train_fraction`` / ``train_count``, a nested subset of it per class
(:mod:`bench.prompts.train_subset`); the header records the counts of both.

The epochs, validation with early stopping, and checkpoints are the shared triplet-training loop
(:mod:`bench.prompts.triplet_training`); the saved prompt is the one with the best validation
metric (the last one without validation).
"""

from __future__ import annotations

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
from bench.api.reporting import Reporter, SilentReporter
from bench.api.version import __version__
from bench.config.training import TrainSpec
from bench.extraction.features import layer_features
from bench.extraction.pooling import descriptor
from bench.plan.identity import descriptor_source
from bench.plan.runs import PlannedRun, plan_sweep
from bench.prompts.files import save_prompt
from bench.prompts.learnable import LearnablePrompt, triplet_loss
from bench.prompts.triplet_training import (
    TrainOutcome,
    TripletTrainer,
    resume_state,
    run_epochs,
    split_score,
    validation_sides,
)
from bench.prompts.triplets import Triplet
from bench.registry.tables import Registry


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
        self.split_items(self.dataset.split("train"), run)
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
        self.start_optimiser(self.prompt.parameters(), run)

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
            try:
                self.backbone.model.enable_activation_checkpointing()
            except BenchError as exc:
                raise BenchError(
                    f"Backbone {self.run.backbone.id!r} (plugin {self.run.backbone_plugin!r}): {exc.message}",
                    exc.hint,
                ) from exc

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
        **descriptor_source(run),
        "scheme": spec.scheme,
        "parts": list(parts),
        "width": spec.width,
        "training": config,
        "training_data": trainer.training_data,
        "metrics": metrics,
        "history": history,
        "sbir_bench_version": __version__,
    }
    return TrainOutcome(save_prompt(output, tensors, header), header)
