"""sbir-bench: plugin-extensible benchmarking of sketch-based image retrieval backbones.

This module is the one import path for plugins and users, with one public sub-namespace:
plugins import only names from ``bench`` and from ``bench.weights`` (locating, identifying and
checking weights; a test enforces it). What plugins implement and register (``bench.api``)
imports eagerly and without torch; the Python workflow functions (``load_backbone``,
``open_dataset``, ``descriptors``, ``feature_maps``, ``score``, ``run``) and the command-line
helpers are imported on first use. The weights names that used to live here
(:data:`MOVED_TO_WEIGHTS`) still import from ``bench``, with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from bench.api.backbones import (
    ActivationCheckpointing,
    Backbone,
    Compilable,
    DiffusionBackbone,
    ImageEncoder,
    TextContext,
)
from bench.api.block_taps import read_block_inputs, read_block_outputs
from bench.api.components import (
    POOLINGS,
    BackboneFamily,
    BackboneInfo,
    DatasetInfo,
    LayerSelector,
    PromptCondition,
    PromptScheme,
    TapInfo,
    resolve_target,
)
from bench.api.datasets import Dataset, ImageItem, SplitName
from bench.api.diffusion import (
    DDPMSchedule,
    DenoiserInputs,
    DiffusionBackboneBase,
    RectifiedFlowSchedule,
    rows_per_sample,
)
from bench.api.encoders import ImageEncoderBase, PixelNormalization
from bench.api.errors import BenchError, closest_match
from bench.api.evaluation import (
    RELEVANCE,
    UNITS,
    EvaluationSpecs,
    LeaderboardFormat,
    MetricInfo,
    Rankings,
    ResolvedMetric,
    TaskInfo,
)
from bench.api.files import atomic_file, output_problem, write_text_atomic
from bench.api.hookspecs import hookimpl
from bench.api.images import load_rgb
from bench.api.noise import seeded_noise, to_model_device
from bench.api.reporting import Reporter, SilentReporter
from bench.api.version import __version__
from bench.api.vit import Tokens, VisionTransformerEncoder
from bench.api.vit_layers import EMBED, POOLED, TapPosition, tap_position, vit_layers

_LAZY: dict[str, str] = {
    # Python workflows (import torch when called)
    "load_backbone": "bench.workflows",
    "LoadedBackbone": "bench.workflows",
    "descriptors": "bench.workflows",
    "open_dataset": "bench.workflows",
    "feature_maps": "bench.workflows",
    "score": "bench.workflows",
    "run": "bench.workflows",
    "plugin_registry": "bench.workflows",
    # learned prompt files (``bench train``)
    "learned_condition": "bench.prompts.files",
    "check_prompt_file": "bench.prompts.files",
    "read_header": "bench.prompts.files",
    # linear probe files (``bench train --probe linear``)
    "load_probe": "bench.plan.probes",
    "apply_probe": "bench.plan.probes",
    # results files (plots and leaderboards read them)
    "RunResult": "bench.results.schema",
    "read_result": "bench.results.schema",
    "find_result_files": "bench.results.schema",
    # per-query logs and re-ranked results files (bench rescore, bench plot retrievals)
    "QueryLog": "bench.evaluation.samples",
    "QueryRecord": "bench.evaluation.samples",
    "read_query_log": "bench.evaluation.samples",
    "rescore": "bench.evaluation.log_rescoring",
    "Reranked": "bench.execution.reranking",
    "rerank_results": "bench.execution.reranking",
    # leaderboards (the built-in formats, and what a plugin's format renders)
    "Leaderboard": "bench.results.leaderboard.model",
    "leaderboard_data": "bench.results.leaderboard.exports",
    "leaderboard_markdown": "bench.results.leaderboard.markdown",
    "leaderboard_csv": "bench.results.leaderboard.exports",
    "leaderboard_latex": "bench.results.leaderboard.exports",
    "leaderboard_json": "bench.results.leaderboard.exports",
    "leaderboard_html": "bench.results.leaderboard.html_page",
    "LeaderboardFigure": "bench.results.leaderboard.html_page",
    "natural_key": "bench.results.naming",
    # plugin commands
    "plugin_option": "bench.cli.options",
    "command_registry": "bench.cli.options",
    "command_console": "bench.cli.console",
    "parse_option_values": "bench.config.values",
    "load_config": "bench.config.files",
    "RichReporter": "bench.cli.display",
    "listing_table": "bench.cli.display",
    "Registry": "bench.registry.tables",
}


MOVED_TO_WEIGHTS = frozenset(
    {
        "INTACT_FILE_HINT",
        "RANDOM",
        "RANDOM_NOTE",
        "TensorGaps",
        "check_checkpoint",
        "check_random",
        "checkpoint_file",
        "from_pretrained_part",
        "has_plain_weights",
        "hub_reachable",
        "is_hub_id",
        "is_path_like",
        "is_single_file",
        "load_complete",
        "loading_info_gaps",
        "local_checkpoint",
        "missing_weight_files",
        "model_gaps",
        "part_variant",
        "read_state_dict",
        "read_torch_file",
        "require_complete",
        "split_base",
        "split_revision",
        "tensor_shapes",
        "unreadable_checkpoint",
        "variants_in",
    }
)
"""Names that moved from ``bench`` to ``bench.weights``: deprecated aliases here, which warn."""


_RENAMED: dict[str, str] = {
    "LayerInfo": "TapInfo",  # third-party plugins describe their taps with it
}
"""Old public names that still work, with a DeprecationWarning: old name -> the name to use."""


def __getattr__(name: str) -> Any:
    """The lazily imported public names of ``_LAZY``, the deprecated aliases of
    :data:`MOVED_TO_WEIGHTS` and the renamed names of ``_RENAMED`` (each alias access warns, naming
    the new place)."""
    if name in _RENAMED:
        warnings.warn(
            f"bench.{name} is deprecated: import bench.{_RENAMED[name]} (the same class, renamed).",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[_RENAMED[name]]
    if name in MOVED_TO_WEIGHTS:
        warnings.warn(
            f"bench.{name} moved to bench.weights: use `from bench.weights import {name}` "
            "(the alias in bench will be removed).",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("bench.weights"), name)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "read_block_inputs",
    "read_block_outputs",
    "seeded_noise",
    "to_model_device",
    "EMBED",
    "POOLED",
    "POOLINGS",
    "RELEVANCE",
    "UNITS",
    "EvaluationSpecs",
    "LeaderboardFormat",
    "MetricInfo",
    "Rankings",
    "ResolvedMetric",
    "TaskInfo",
    "ActivationCheckpointing",
    "Backbone",
    "BackboneFamily",
    "BackboneInfo",
    "BenchError",
    "Compilable",
    "Dataset",
    "DatasetInfo",
    "DiffusionBackbone",
    "DiffusionBackboneBase",
    "DenoiserInputs",
    "DDPMSchedule",
    "RectifiedFlowSchedule",
    "rows_per_sample",
    "ImageEncoder",
    "ImageEncoderBase",
    "ImageItem",
    "TapInfo",
    "LayerSelector",
    "PixelNormalization",
    "PromptCondition",
    "PromptScheme",
    "Reporter",
    "SilentReporter",
    "SplitName",
    "TapPosition",
    "TextContext",
    "Tokens",
    "VisionTransformerEncoder",
    "__version__",
    "atomic_file",
    "closest_match",
    "hookimpl",
    "load_rgb",
    "resolve_target",
    "tap_position",
    "vit_layers",
    "output_problem",
    "write_text_atomic",
    *_LAZY,
]
