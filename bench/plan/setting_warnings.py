"""Warnings about settings a user gave that a planned run cannot use: each is left out of the
run's identity (:mod:`bench.plan.identity`) or honoured only by cropping or interpolating."""

from __future__ import annotations

from collections.abc import Callable

from bench.api.choices import option_name
from bench.api.components import BackboneInfo
from bench.config.run_config import SweepSpec
from bench.plan.runs import PlannedRun, typed_as


def inapplicable_settings(
    spec: SweepSpec, runs: list[PlannedRun], given: set[str] | None = None
) -> list[str]:
    """One warning per setting the user gave that no configuration of ``runs`` uses (it is left out
    of their identity), or that the backbone can only honour by cropping or interpolating.

    ``given`` names the settings typed or set by a named config file (None: every setting that is
    not :class:`SweepSpec`'s default); it matters for ``t`` and ``noise_samples``, whose defaults
    are also values a user can type. Mappings and overrides (data roots, weights, training
    settings, pooling, image size) count as given whenever they are set.
    """
    defaults = SweepSpec()
    if given is None:
        given = {name for name in ("t", "noise_samples") if getattr(spec, name) != getattr(defaults, name)}
    return [
        *timestep_warnings(spec, [run.backbone for run in runs], given),
        *_unused_mapping_warnings(spec, runs),
        *_pool_warnings(spec, runs),
        *_image_size_warnings(spec, runs),
    ]


def timestep_warnings(
    spec: SweepSpec,
    backbones: list[BackboneInfo],
    given: set[str],
    name: Callable[[str], str] = option_name,
) -> list[str]:
    """``--t`` and ``--noise-samples`` given for image encoders only (ignored), and a ``--t`` sweep
    their configurations collapse; ``name`` says how a setting was given (``--t`` on the command
    line, a keyword such as ``t`` in a Python call)."""
    encoders = [b.id for b in {b.id: b for b in backbones}.values() if b.num_timesteps is None]
    warnings = []
    if encoders and len(encoders) == len({b.id for b in backbones}):
        listed = ", ".join(encoders)
        if spec.t and "t" in given:
            values = typed_as(name("t"), ", ".join(map(str, spec.t)))
            warnings.append(f"{values} does not apply to {listed} (no diffusion timestep): ignored.")
        if "noise_samples" in given and spec.noise_samples != SweepSpec().noise_samples:
            samples = typed_as(name("noise_samples"), spec.noise_samples)
            warnings.append(f"{samples} does not apply to {listed} (no noise draws): ignored.")
    elif encoders and len(spec.t) > 1 and "t" in given:
        warnings.append(
            f"{', '.join(encoders)} has no diffusion timestep: its configurations of the {name('t')} "
            "sweep are one configuration, run once."
        )
    return warnings


def _unused_mapping_warnings(spec: SweepSpec, runs: list[PlannedRun]) -> list[str]:
    """Data roots of generated datasets, weights of backbones the run does not use, and training
    settings when no prompt is trained."""
    warnings = []
    datasets = {run.dataset.id: run.dataset for run in runs}
    generated = [info.id for info in datasets.values() if not info.needs_root]
    for key in spec.data_root:
        if key == "*":
            unused = generated if generated and len(generated) == len(datasets) else []
        else:
            unused = [key] if key in generated else []
        if unused:
            warnings.append(
                f"--data-root does not apply to {', '.join(unused)} (generated, not read from disk): ignored."
            )
    backbones = {run.backbone.id for run in runs}
    for key in spec.weights:
        if key != "*" and key not in backbones:
            warnings.append(
                f"--weights {key}=...: no backbone {key!r} in this run (it runs "
                f"{', '.join(sorted(backbones))}): ignored."
            )
    if spec.train and all(run.train is None and run.probe_train is None for run in runs):
        warnings.append(
            "--train-option / train settings apply only to learned prompt schemes (--prompt visual, "
            "textual or visual+textual) and linear probes (--probe linear), which this run does not "
            "train: ignored."
        )
    if spec.probe_dim is not None and all(run.probe_train is None for run in runs):
        warnings.append(
            f"--probe-dim {spec.probe_dim} applies only to the linear probes a run trains (--probe "
            "linear), which this run does not train: ignored."
        )
    return warnings


def _pool_warnings(spec: SweepSpec, runs: list[PlannedRun]) -> list[str]:
    """``--pool`` on layers whose taps are all vectors (nothing to pool)."""
    if spec.pool is None:
        return []
    vectors = {
        f"{run.backbone.id} {run.layer.name}"
        for run in runs
        if all((tap := run.backbone.layer(name)) is not None and tap.stride == 0 for name in run.layer.taps)
    }
    if not vectors:
        return []
    return [f"--pool {spec.pool} does not apply to {', '.join(sorted(vectors))} (a vector): ignored."]


def _image_size_warnings(spec: SweepSpec, runs: list[PlannedRun]) -> list[str]:
    """``--image-size`` values the backbone's coarsest feature map does not divide."""
    if spec.image_size is None:
        return []
    warnings = []
    for backbone in {run.backbone.id: run.backbone for run in runs}.values():
        stride = max((layer.stride for layer in backbone.layers), default=0)
        if stride and spec.image_size % stride:
            lower = max(stride, spec.image_size // stride * stride)
            warnings.append(
                f"--image-size {spec.image_size} is not a multiple of {backbone.id}'s coarsest stride "
                f"({stride} px: patch size or total downsampling); its feature maps crop or interpolate "
                f"the input. Use --image-size {lower} or {lower + stride}."
            )
    return warnings
