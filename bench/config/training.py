"""What ``bench train`` learns with, as data (no torch): :class:`TrainSpec` and the training settings
a sweep may set for the learned prompt schemes it trains on the fly (``train`` in a config)."""

from __future__ import annotations

from dataclasses import field, fields
from typing import Annotated, Any

from pydantic import Field
from pydantic.dataclasses import dataclass

from bench.api.choices import DEVICE_PATTERN
from bench.api.errors import BenchError
from bench.api.validation import Name, PathText, Seed, Size, Timestep, validated
from bench.config.run_config import DATA_CONFIG, OptionValue, SweepSpec


def _int_range(low: int, high: int) -> Any:
    return Annotated[int, Field(ge=low, le=high, description=f"an integer from {low} to {high}")]


@dataclass(frozen=True, config=DATA_CONFIG)
class TrainSpec:
    """Everything ``bench train`` needs (recorded whole in the saved prompt's header).

    Attributes:
        backbone, dataset, layer, t: what the prompt is trained for (``layer`` None: the
            backbone's default; ``t`` None for backbones without timesteps).
        scheme: a prompt scheme that learns something (``visual``, ``textual``, ``visual+textual``).
        width: visual prompt border width in pixels at the backbone's input resolution.
        epochs: passes over the training sketches (each sketch is an anchor once per epoch).
        batch_size: triplets per backward pass; grad_accum: backward passes per optimiser step.
        steps_per_epoch: cap on optimiser steps per epoch (None: the whole split).
        lr, weight_decay: AdamW settings; margin: triplet margin on 1 - cosine.
        noise_samples: noise draws averaged per image during training (diffusion backbones).
        val_split: fraction of the train split's classes (instances, fine-grained) held out for
            validation; 0 trains without validation.
        patience: epochs without a better validation metric before stopping early.
        eval_train: also score the train split before and after training (costs two passes).
        bf16: run the backbone under bf16 autocast (the prompt and the loss stay float32).
        activation_checkpointing: recompute activations in the backward pass to save memory.
        seed: triplets, noise, validation hold-out and training subset derive from it.
        train_fraction, train_count: train on part of each class's training items (after the
            validation hold-out): the fraction (``ceil(fraction * n)``) or at most ``count`` of
            them, as nested seeded subsets (:mod:`bench.prompts.train_subset`); one of the two.
    """

    backbone: Name
    dataset: Name
    scheme: Name = "visual+textual"
    layer: Name | None = None
    t: Timestep | None = None
    width: _int_range(1, 4096) = 16
    epochs: _int_range(1, 100_000) = 5
    batch_size: _int_range(1, 65536) = 8
    grad_accum: _int_range(1, 65536) = 1
    steps_per_epoch: _int_range(1, 2**31 - 1) | None = None
    lr: Annotated[float, Field(gt=0, le=10, description="a number above 0, at most 10")] = 1e-3
    weight_decay: Annotated[float, Field(ge=0, le=10, description="a number from 0 to 10")] = 0.0
    margin: Annotated[float, Field(ge=0, le=2, description="a number from 0 to 2 (on 1 - cosine)")] = 0.3
    noise_samples: _int_range(1, 1024) = 1
    val_split: Annotated[float, Field(ge=0, lt=1, description="a fraction from 0 up to (not) 1")] = 0.0
    patience: _int_range(0, 100_000) = 2
    # the training subset (bench.prompts.train_subset)
    train_fraction: Annotated[float, Field(gt=0, le=1, description="a fraction above 0, at most 1")] = 1.0
    train_count: _int_range(1, 2**31 - 1) | None = None
    eval_train: bool = False
    bf16: bool = False
    activation_checkpointing: bool = False
    seed: Seed = 0
    device: Annotated[str, Field(pattern=DEVICE_PATTERN, description="auto, cpu, cuda, cuda:N or mps")] = (
        "auto"
    )
    image_size: Size | None = None
    weights: PathText | None = None
    data_root: PathText | None = None
    dataset_options: dict[Name, OptionValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.train_count is not None and self.train_fraction != 1.0:
            raise BenchError(
                f"Training on train_fraction {self.train_fraction} and on train_count {self.train_count} "
                "items per class at once: the two settings exclude each other.",
                "Give one: --train-fraction F or --train-count N (train_fraction or train_count in a "
                "config's train table).",
            )

    def sweep(self) -> SweepSpec:
        """The one-configuration sweep that resolves and validates the ids, layer and timestep."""
        return SweepSpec(
            backbone=(self.backbone,),
            layer=(self.layer,) if self.layer else (),
            t=(self.t,) if self.t is not None else (),
            dataset=(self.dataset,),
            prompt=(self.scheme,),
            noise_samples=self.noise_samples,
            seed=self.seed,
            batch_size=self.batch_size,
            device=self.device,
            image_size=self.image_size,
            weights={self.backbone: self.weights} if self.weights else {},
            data_root={self.dataset: self.data_root} if self.data_root else {},
            dataset_options=dict(self.dataset_options),
        )


# The fields of TrainSpec that are training settings (the rest say what is trained, and come from a
# sweep's configuration when a run trains a scheme itself).
TRAIN_SETTINGS = (
    "width",
    "epochs",
    "batch_size",
    "grad_accum",
    "steps_per_epoch",
    "lr",
    "weight_decay",
    "margin",
    "noise_samples",
    "val_split",
    "patience",
    "train_fraction",
    "train_count",
    "bf16",
    "activation_checkpointing",
)


# The training settings that apply to a linear probe (trained on cached descriptors: no prompt border,
# noise draws of its own, autocast or activation checkpointing).
PROBE_SETTINGS = tuple(
    setting
    for setting in TRAIN_SETTINGS
    if setting not in ("width", "noise_samples", "bf16", "activation_checkpointing")
)


# Settings added after runs and prompt files were first named: at these values (what training did
# before they existed) they are left out of identities, so earlier results and prompts keep their names.
LATER_SETTINGS_DEFAULTS: dict[str, Any] = {"train_fraction": 1.0, "train_count": None}


def identity_of_training(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` (training settings, or every field of a :class:`TrainSpec`) as they enter a run's
    identity and a trained prompt's file name: without the later settings at their old behaviour."""
    return {
        key: value
        for key, value in settings.items()
        if key not in LATER_SETTINGS_DEFAULTS or value != LATER_SETTINGS_DEFAULTS[key]
    }


def training_settings(overrides: dict[str, Any], source: str) -> dict[str, Any]:
    """Every training setting, from the defaults of :class:`TrainSpec` and ``overrides``.

    Raises:
        BenchError: ``overrides`` names a key that is not a training setting, or a value of the
            wrong type or range (``source`` says where).
    """
    unknown = sorted(set(overrides) - set(TRAIN_SETTINGS))
    if unknown:
        raise BenchError(
            f"{source} has unknown training setting(s): {', '.join(unknown)}.",
            f"Valid settings: {', '.join(TRAIN_SETTINGS)}.",
        )
    validated(TrainSpec, {"backbone": "-", "dataset": "-", **overrides}, source)
    defaults = {f.name: f.default for f in fields(TrainSpec) if f.name in TRAIN_SETTINGS}
    return {**defaults, **overrides}
