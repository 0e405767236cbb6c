"""The run identity: what determines a configuration's numbers, derived in one place.

Everything that names or keys a run comes from here: the configuration recorded in its results
file (and so the file's name), the fields that key its descriptors in the feature cache, the key of
its extraction group, and the file name of a prompt trained for it. Settings that do not apply to a
backbone (``t`` and noise draws on an image encoder, the seed where nothing is random) are left out
of its identity, so they cannot split one set of descriptors into two results; settings that change
numbers (the cache's precision, the query texts, the training settings) are in it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.config.run_config import SweepSpec
from bench.config.training import TrainSpec, identity_of_training
from bench.plan.runs import PlannedRun
from bench.results.naming import backbone_slug, slug

PROMPTS_DIR = "prompts"
PROBES_DIR = "probes"


def results_config(
    run: PlannedRun, trained_prompt: str | None = None, probe_content: str | None = None
) -> dict[str, Any]:
    """The configuration recorded in ``run``'s results file: everything that determines its numbers.

    ``weights_identity`` appears for weights named by a path or hub id; ``t``, ``noise_samples``
    and ``seed`` only where they apply (see :class:`PlannedRun`);
    ``train`` only for learned prompt schemes; ``query_text`` only for sketch+text queries;
    ``limit`` only for a ``--limit`` subset; ``probe`` and ``probe_dim`` only with a linear probe
    (``probe_train`` for one the run trains).

    Args:
        trained_prompt: for a learned prompt scheme, the content hash of the prompt it trained or
            reused (``prompt_content``): a prompt file changed since it was trained makes another
            configuration, never a silent rerun of this one. None while the prompt is not known
            (the planned configuration, e.g. to find an ensemble's members).
        probe_content: with a probe, the content hash of its weight (``probe_content``), the same
            way; None while it is not known.
    """
    config: dict[str, Any] = {
        "backbone": run.backbone.id,
        "weights": run.weights,
        "layer": run.layer.name,
        "pool": run.layer.pool,
        "t": run.t,
        "prompt": run.prompt,
        "dataset": run.dataset.id,
        "dataset_options": dict(sorted(run.dataset_options.items())),
        "dtype": run.dtype,
        "cache_dtype": run.cache_dtype,
        "image_size": run.image_size,
    }
    if run.weights_identity != run.weights:  # the snapshot or content hash the name resolved to
        config["weights_identity"] = run.weights_identity
    if run.noise_samples is not None:
        config["noise_samples"] = run.noise_samples
    if run.seed is not None:
        config["seed"] = run.seed
    if run.train is not None:
        config["train"] = identity_of_training(run.train)
        if trained_prompt is not None:
            config["prompt_content"] = trained_prompt
    if run.query_text is not None:
        config["query_text"] = run.query_text
    if run.limit is not None:
        config["limit"] = run.limit
    if run.probe is not None:
        config.update(probe=run.probe, probe_dim=run.probe_dim)
        if run.probe_train is not None:
            config["probe_train"] = identity_of_training(run.probe_train)
        if probe_content is not None:
            config["probe_content"] = probe_content
    return config


def dataset_key(run: PlannedRun) -> tuple:
    """What identifies an opened dataset: its id, root, options and limit."""
    return (run.dataset.id, str(run.data_root), tuple(sorted(run.dataset_options.items())), run.limit)


def backbone_key(run: PlannedRun) -> tuple:
    """What identifies a loaded backbone: its id, weights and input resolution."""
    return (run.backbone.id, run.weights, run.image_size)


def group_key(run: PlannedRun) -> tuple:
    """Runs with one group key share their extraction: every layer and timestep of the group is read
    from the same batches. A learned prompt is trained for one (layer, t), so it is its own group."""
    own = (run.layer.name, run.t) if run.train is not None else ()
    return (*backbone_key(run), *dataset_key(run), run.prompt, run.query_text, own)


def cache_fields(run: PlannedRun, *, code: str, prompt_content: str) -> dict[str, Any]:
    """The fields that key the cache stores of ``run``'s group (the layer and timestep are added per
    store): every setting that changes a descriptor, and nothing else; the weights by their
    identity (content hash or resolved snapshot, :mod:`bench.weights.identity`), never by name alone.

    Args:
        code: a hash of the backbone's code.
        prompt_content: a hash of the prompt's text and learned tensors.
    """
    return {
        "backbone": run.backbone.id,
        "weights": run.weights_identity,
        "code": code,
        "image_size": run.image_size,
        "dtype": run.dtype,
        "noise_samples": run.noise_samples,
        "seed": run.seed if run.noise_samples is not None else None,
        "prompt": run.prompt,
        "prompt_content": prompt_content,
    }


def descriptor_source(run: PlannedRun) -> dict[str, Any]:
    """What a learned file (a prompt or a probe) was trained on the descriptors of, as its header
    records it: the backbone, weights, layer, pooling, t and resolution, and the dataset with its
    options."""
    return {
        "backbone": run.backbone.id,
        "weights": run.weights,
        "layer": run.layer.name,
        "pool": run.layer.pool,
        "t": run.t,
        "image_size": run.image_size,
        "dataset": run.dataset.id,
        "dataset_options": dict(sorted(run.dataset_options.items())),
    }


def trained_prompt_path(output_dir: Path, train: TrainSpec) -> Path:
    """``<output_dir>/prompts/<backbone>_<layer>_t<t>_<scheme>-<hash12>.safetensors``: the name hashes
    every field of ``train``, so a run with other training settings never reuses the file."""
    named = identity_of_training(asdict(train))
    digest = hashlib.sha256(json.dumps(named, sort_keys=True, default=str).encode()).hexdigest()
    name = f"{prompt_file_stem(train.backbone, train.layer, train.t, train.scheme)}-{digest[:12]}"
    return Path(output_dir) / PROMPTS_DIR / f"{name}.safetensors"


def prompt_file_stem(backbone: str, layer: str, t: int | None, scheme: str) -> str:
    """``<backbone>_<layer>_t<t>_<scheme>`` of a trained prompt's file, safe characters only (a
    backbone id like ``dit:sd3-tiny/ditf`` or ``hf:/models/x`` names no folder; ``+`` reads ``-``)."""
    parts = (backbone_slug(backbone), slug(layer), f"t{slug(t)}", slug(scheme))
    return "_".join(parts).replace("+", "-")


def trained_probe_path(output_dir: Path, run: PlannedRun, trained_prompt: str | None) -> Path:
    """``<output_dir>/probes/<backbone>_<layer>_t<t>_linear-<hash12>.safetensors`` for the probe a
    run of ``run``'s configuration trains: the name hashes everything that determines it (the
    descriptors' configuration, with ``trained_prompt``, the learned prompt's content hash, and the
    probe's dimension and training settings), not what only the test split sees (``limit``, query
    texts)."""
    config = results_config(run, trained_prompt)
    determining = {k: v for k, v in config.items() if k not in ("limit", "query_text")}
    digest = hashlib.sha256(json.dumps(determining, sort_keys=True, default=str).encode()).hexdigest()
    name = f"{prompt_file_stem(run.backbone.id, run.layer.name, run.t, 'linear')}-{digest[:12]}"
    return Path(output_dir) / PROBES_DIR / f"{name}.safetensors"


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
