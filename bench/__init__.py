"""sbir-bench: plugin-extensible benchmarking of sketch-based image retrieval backbones.

This module is the one import path for plugins and users: plugins import only names from
``bench`` (a test enforces it). What plugins implement and register (``bench.api``) imports
eagerly and without torch; the Python workflow functions (``load_backbone``, ``open_dataset``,
``descriptors``, ``feature_maps``, ``score``, ``run``) and the command-line helpers are imported on
first use.
"""

from __future__ import annotations

import importlib
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
from bench.api.checkpoints import (
    RANDOM,
    RANDOM_NOTE,
    check_checkpoint,
    check_random,
    checkpoint_file,
    hub_reachable,
    is_hub_id,
    local_checkpoint,
    unreadable_checkpoint,
)
from bench.api.components import (
    POOLINGS,
    BackboneFamily,
    BackboneInfo,
    DatasetInfo,
    LayerInfo,
    LayerSelector,
    PromptCondition,
    PromptScheme,
    resolve_target,
)
from bench.api.datasets import Dataset, ImageItem, SplitName
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
from bench.api.tensor_names import (
    TensorGaps,
    from_pretrained_part,
    load_complete,
    loading_info_gaps,
    model_gaps,
    require_complete,
)
from bench.api.torch_files import INTACT_FILE_HINT, read_state_dict, read_torch_file, tensor_shapes
from bench.api.version import __version__
from bench.api.vit import Tokens, VisionTransformerEncoder
from bench.api.vit_layers import EMBED, POOLED, TapPosition, tap_position, vit_layers
from bench.api.weight_files import (
    has_plain_weights,
    is_path_like,
    is_single_file,
    missing_weight_files,
    part_variant,
    split_base,
    split_revision,
    variants_in,
)

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
    "parse_option_values": "bench.config.values",
    "load_config": "bench.config.files",
    "RichReporter": "bench.cli.display",
    "listing_table": "bench.cli.display",
    "Registry": "bench.registry.tables",
}


def __getattr__(name: str) -> Any:
    """The lazily imported public names of ``_LAZY``."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "RANDOM",
    "RANDOM_NOTE",
    "check_checkpoint",
    "check_random",
    "checkpoint_file",
    "has_plain_weights",
    "hub_reachable",
    "is_hub_id",
    "missing_weight_files",
    "is_single_file",
    "split_base",
    "split_revision",
    "is_path_like",
    "read_block_inputs",
    "read_block_outputs",
    "seeded_noise",
    "to_model_device",
    "part_variant",
    "variants_in",
    "local_checkpoint",
    "unreadable_checkpoint",
    "TensorGaps",
    "from_pretrained_part",
    "load_complete",
    "loading_info_gaps",
    "model_gaps",
    "require_complete",
    "INTACT_FILE_HINT",
    "read_state_dict",
    "read_torch_file",
    "tensor_shapes",
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
    "ImageEncoder",
    "ImageEncoderBase",
    "ImageItem",
    "LayerInfo",
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
