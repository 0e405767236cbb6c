"""sbir-bench: plugin-extensible benchmarking of sketch-based image retrieval backbones.

The public API for plugin authors is importable from here without importing torch.
"""

from bench.components import (
    BackboneInfo,
    DatasetInfo,
    LayerInfo,
    LayerSelector,
    PromptCondition,
    PromptScheme,
)
from bench.datasets import Dataset, ImageItem
from bench.errors import BenchError
from bench.hookspecs import hookimpl
from bench.images import load_rgb

__version__ = "0.1.0"

__all__ = [
    "BackboneInfo",
    "BenchError",
    "Dataset",
    "DatasetInfo",
    "ImageItem",
    "LayerInfo",
    "LayerSelector",
    "PromptCondition",
    "PromptScheme",
    "__version__",
    "hookimpl",
    "load_rgb",
]
