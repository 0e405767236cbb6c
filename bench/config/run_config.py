"""The run configuration: what a ``bench run`` asks for, from a config file and the command line.

Repeatable axes (backbone, layer, t, prompt, dataset, probe) form a product; every other field applies
to every configuration of the sweep.
"""

from __future__ import annotations

import os
from dataclasses import field, replace
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic.dataclasses import dataclass

from bench.api.choices import (
    CACHE_DTYPE_NAMES,
    DEVICE_PATTERN,
    DTYPE_NAMES,
    ENSEMBLE_METHODS,
    STUDY_AXES,
    option_name,
)
from bench.api.components import POOLINGS
from bench.api.validation import (
    MAX_NESTING,
    STRICT,
    Name,
    PathText,
    Scalar,
    SchemaModel,
    Seed,
    Size,
    Timestep,
    as_tuple_of,
    check_nesting,
    schema_error,
    validated,
)

DATA_CONFIG = STRICT.copy()
del DATA_CONFIG["frozen"]  # a pydantic dataclass takes frozen= itself

OptionValue = Scalar | list[Scalar]


def _star_mapping(value: Any) -> Any:
    """One path (or weights id) for everything: ``"DIR"`` (or ``Path("DIR")``) -> ``{"*": "DIR"}``."""
    return {"*": value} if isinstance(value, (str, os.PathLike)) else value


class AblationTable(SchemaModel):
    """A config's ``ablation`` table: the study's name and, per axis, the values to try."""

    name: Name
    vary: dict[
        Literal[STUDY_AXES],
        Annotated[list[Scalar | None], Field(min_length=1, description="a non-empty list of values")],
    ] = Field(min_length=1)


def _checked_ablation(value: dict[str, Any]) -> dict[str, Any]:
    if value:
        AblationTable.model_validate(value)
    return value


PathMapping = Annotated[
    dict[Name, PathText],
    BeforeValidator(_star_mapping),
    Field(description="a path, or a table of id = path"),
]


@dataclass(frozen=True, config=DATA_CONFIG)
class SweepSpec:
    """Everything a ``bench run`` needs, before ids are resolved against the registry.

    It is also the schema of the run configuration: a config file and the command line are both
    validated by constructing it (strict types, unknown keys refused, ranges checked), and every
    ``dataclasses.replace`` validates again.

    Attributes:
        backbone, layer, t, prompt, dataset, probe: the sweep axes (an empty ``layer`` means each
            backbone's default layer; an empty ``t`` means 0 for backbones without timesteps).
            ``probe``: ``none``, ``linear`` (a linear probe the run trains) or ``linear:FILE``
            (a saved one; see ``bench.plan.probes``). ``layer``, ``prompt`` and ``probe`` values
            written ``BACKBONE=VALUE`` are that backbone's own (``bench.plan.per_backbone``).
        probe_dim: the output dimension of the ``linear`` probes a run trains (None: each
            descriptor's own dimension, a square map starting at the identity).
        noise_samples: noise draws averaged per image (diffusion backbones).
        seed: the run seed (noise, and anything random in adapters).
        batch_size: images per backbone call.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        dtype: ``fp32``, ``tf32`` (CUDA only), ``fp16`` or ``bf16`` (model precision; descriptors
            are float32; see ``bench.extraction.devices``).
        pool: pooling override (``gap``, ``gmp``, ``gem``, ``flatten``), or None for each layer's
            default.
        image_size: input resolution override in pixels, or None for each backbone's default.
        data_root: dataset id -> root directory; key ``"*"`` applies to every dataset.
        weights: backbone id -> weights (hub id or directory); key ``"*"`` applies to every backbone.
        dataset_options: option name -> value, passed to every dataset of the run that declares it.
        output_dir: where results files are written.
        workers: threads reading and preprocessing images ahead of the backbone (0: in the loop).
        strict: stop at the first unreadable image instead of skipping (and counting) it.
        compile: ``torch.compile`` the backbone (those that offer a ``compile()`` method).
        cache_dir: the feature cache (None: ``$SBIR_BENCH_CACHE`` or the user cache directory).
        cache_dtype: precision of cached descriptors, ``fp16`` or ``fp32``; results always use
            descriptors read back from the cache, so reruns give identical numbers.
        ensemble: also score the sweep's configurations of each dataset combined (one of
            :data:`ENSEMBLE_METHODS`; see ``bench.plan.ensembles``), or None.
        train: training settings for the learned prompt schemes (``visual``, ``textual``,
            ``visual+textual``) and the ``linear`` probes a run trains before it evaluates them
            (keys as ``bench train``'s options: epochs, lr, width, ...; see
            ``bench.config.training.TRAIN_SETTINGS``; probes use ``PROBE_SETTINGS`` of them).
        ablation: a one-factor-at-a-time study around this configuration (the base):
            ``{"name": str, "vary": {axis: [values]}}`` with axes from :data:`STUDY_AXES`
            (:class:`AblationTable`); ``bench run`` runs the base and every variant, and
            ``bench leaderboard`` renders them as one table.
        ensemble_weights: score-sum weights, one per configuration of a dataset in sweep order
            (empty: 1 each).
        plugins: one-file plugins (``--plugin FILE``) the configuration needs; a config file's
            relative paths are relative to the file.
        query_text: sketch+text queries: ``"caption"`` (each query sketch is conditioned on its
            caption, or its instance's photo's) or ``"text:<words>"`` (one text for every query);
            None for sketch-only queries (see ``bench.plan.query_text``).
        limit: evaluate at most this many queries and gallery items (``bench.plan.subset``), or
            None for the whole test split; recorded in the run identity.
        log_samples: also write each result's per-query log (``bench.evaluation.samples``).
        skip_existing: leave configurations whose results file already exists alone (neither
            extracted nor scored again).
    """

    backbone: as_tuple_of(Name) = ()
    layer: as_tuple_of(Name) = ()
    t: as_tuple_of(Timestep) = ()
    prompt: as_tuple_of(Name) = ("none",)
    dataset: as_tuple_of(Name) = ()
    probe: as_tuple_of(Name) = ("none",)
    probe_dim: Annotated[int, Field(ge=1, le=2**20, description="an integer from 1 to 1048576")] | None = None
    noise_samples: Annotated[int, Field(ge=1, le=1024, description="an integer from 1 to 1024")] = 1
    seed: Seed = 0
    batch_size: Annotated[int, Field(ge=1, le=65536, description="an integer from 1 to 65536")] = 16
    device: Annotated[str, Field(pattern=DEVICE_PATTERN, description="auto, cpu, cuda, cuda:N or mps")] = (
        "auto"
    )
    dtype: Literal[DTYPE_NAMES] = "fp32"
    pool: Literal[POOLINGS] | None = None
    image_size: Size | None = None
    data_root: PathMapping = field(default_factory=dict)
    weights: PathMapping = field(default_factory=dict)
    dataset_options: dict[Name, OptionValue] = field(default_factory=dict)
    output_dir: PathText = "results"
    workers: Annotated[int, Field(ge=0, le=256, description="an integer from 0 to 256")] = 2
    strict: bool = False
    compile: bool = False
    cache_dir: PathText | None = None
    cache_dtype: Literal[CACHE_DTYPE_NAMES] = "fp16"
    ensemble: Literal[ENSEMBLE_METHODS] | None = None
    ensemble_weights: as_tuple_of(float) = ()
    query_text: Name | None = None
    limit: Annotated[int, Field(ge=1, le=2**31 - 1, description="an integer >= 1")] | None = None
    log_samples: bool = False
    skip_existing: bool = False
    train: dict[Name, Any] = field(default_factory=dict)  # checked by bench.config.training
    ablation: Annotated[dict[str, Any], AfterValidator(_checked_ablation)] = field(default_factory=dict)
    plugins: as_tuple_of(PathText) = ()

    def overridden(self, **values: Any) -> SweepSpec:
        """A copy with every given value replaced (None, False and empty tuples/dicts keep the old one).

        Raises:
            BenchError: a value breaks the schema; it is named as the command-line option it came
                from (``--batch-size``), since overrides come from the command line.
        """
        try:
            return replace(self, **set_values(values))
        except ValidationError as exc:
            raise schema_error(exc, "the command line", model=SweepSpec, key_name=option_name) from None


def set_values(values: dict[str, Any]) -> dict[str, Any]:
    """The values of ``values`` that were set: all but None, False and empty tuples and dicts (what an
    option not given holds; 0 is a value)."""
    return {
        key: value
        for key, value in values.items()
        if not (value is None or value is False or value in ((), {}))
    }


def spec_from_mapping(data: Any, source: str) -> SweepSpec:
    """A :class:`SweepSpec` from a parsed config mapping, validated against the schema.

    Raises:
        BenchError: naming ``source``, each key that is unknown or holds a value of the wrong type
            or range, and what it allows.
    """
    check_nesting(data, source, MAX_NESTING)
    return validated(SweepSpec, data, source)
