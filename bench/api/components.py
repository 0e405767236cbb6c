"""Descriptions of the components plugins register: pure data, importable without torch.

Each component names a lazy ``target`` ("package.module:attribute", or a callable) that is
imported only when a run uses the component.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.api.errors import BenchError

Target = str | Callable[..., Any]
POOLINGS = ("gap", "gmp", "gem", "flatten")
FLATTEN_GRID = 4  # ``flatten`` pools a map to FLATTEN_GRID x FLATTEN_GRID cells, then flattens


def resolve_target(target: Target, what: str) -> Callable[..., Any]:
    """Import ``"module:attribute"`` (or return a callable unchanged).

    Raises:
        BenchError: when the module cannot be imported or lacks the attribute.
    """
    if callable(target):
        return target
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BenchError(
            f"Could not import {module_name!r} for {what}: {exc}",
            "Install the package that provides it (see `bench plugins`), or use another component.",
        ) from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise BenchError(f"{module_name!r} has no attribute {attribute!r} (needed for {what}).") from exc


@dataclass(frozen=True)
class TapInfo:
    """A feature tap a backbone offers (a place in its forward pass whose output a descriptor reads).

    Formerly ``LayerInfo``: ``bench.LayerInfo`` still works (the same class), with a DeprecationWarning.

    Attributes:
        name: e.g. ``"up1"`` (output of ``unet.up_blocks[1]``) or ``"block-1"``.
        channels: feature channels C of the tap.
        stride: input pixels per feature-map cell (the map is ``image_size / stride`` wide);
            0 for a tap that is a vector, not a map.
        description: what the tap is, in words.
    """

    name: str
    channels: int
    stride: int
    description: str = ""


@dataclass(frozen=True)
class BackboneInfo:
    """A registered backbone.

    Attributes:
        id: the name users type (``--backbone``).
        target: factory ``(info, *, weights, device, dtype, image_size) -> Backbone``.
        description: one line for ``bench list``.
        layers: the taps the backbone offers, in forward order.
        default_layer: the layer used when none is given.
        weights: default weights (hub id, local directory, or ``"random"`` for seeded random weights).
        image_size: default input resolution in pixels (square).
        num_timesteps: diffusion training steps (``--t`` must lie in 0..num_timesteps-1);
            ``None`` for backbones without a timestep.
        accepts_text: whether text prompts condition extraction.
        note: a label carried into results (e.g. that weights are random).
        weights_check: optional lazy ``(weights: str) -> None`` that raises :class:`BenchError`
            quickly when the weights are not available, before any run starts.
        weights_location: optional lazy ``(weights: str) -> str | None``: where ``weights`` are on
            this machine (a file or directory), or None when they would have to be downloaded.
            Looks only at the local disk, never the network (``bench list backbones`` calls it).
        facts: what the extraction does (e.g. latent and noise choices), recorded in results.
        learnable_prompts: the learned prompt parts gradients reach through this backbone's
            ``extract`` (``"visual"``: pixels; ``"textual"``: the (77, d) text context); empty for
            backbones ``bench train`` cannot train prompts on.
        licence: the licence of the default weights in a few words (``"apache-2.0"``,
            ``"DINOv3 License (gated)"``), shown by ``bench list backbones``; None when not stated.
    """

    id: str
    target: Target
    description: str
    layers: tuple[TapInfo, ...]
    default_layer: str
    weights: str
    image_size: int
    num_timesteps: int | None = None
    accepts_text: bool = False
    note: str | None = None
    weights_check: Target | None = None
    weights_location: Target | None = None
    facts: dict[str, str] = field(default_factory=dict)
    learnable_prompts: tuple[str, ...] = ()
    licence: str | None = None

    def layer(self, name: str) -> TapInfo | None:
        return next((layer for layer in self.layers if layer.name == name), None)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)


@dataclass(frozen=True)
class BackboneFamily:
    """Backbones named ``<prefix>:<name>`` instead of registered one by one (``timm:<model>``).

    A family answers for every name of a model library: when a run (or ``bench list layers
    --backbone``) names ``prefix:name`` and no backbone has that id, the family's ``resolve``
    builds its :class:`BackboneInfo`, typically from the library's configuration without loading
    weights.

    Attributes:
        prefix: what comes before the first colon (``"timm"``); the family's id.
        resolve: lazy ``(name: str) -> BackboneInfo``, ``name`` being the part after ``prefix:``;
            the returned info's id must be the full ``prefix:name``. Raises :class:`BenchError`
            when the library has no such model, saying what is valid.
        usage: the form users type, e.g. ``"timm:<model>[.<tag>]"`` (quoted in errors and listings).
        description: one line for ``bench list backbones``.
        example: a full name that resolves, e.g. ``"timm:vit_small_patch16_dinov3.lvd1689m"``.
    """

    prefix: str
    resolve: Target
    usage: str
    description: str
    example: str = ""

    @property
    def id(self) -> str:
        return self.prefix


@dataclass(frozen=True)
class LayerSelector:
    """A named set of taps, each pooled, their pooled features concatenated into one descriptor.

    Attributes:
        id: the name users type (``--layer coarse``).
        taps: tap names, e.g. ``("up0", "up1")``.
        description: one line for ``bench list layers``.
        pool: ``"gap"`` (global average), ``"gmp"`` (global max), ``"gem"`` (generalised mean, p=3)
            or ``"flatten"`` (average-pooled to a 4 x 4 grid, then flattened: keeps layout, for
            fine-grained retrieval).
        backbones: ids of the backbones it applies to; ``None`` means every backbone offering all taps.
    """

    id: str
    taps: tuple[str, ...]
    description: str
    pool: str = "gap"
    backbones: tuple[str, ...] | None = None

    def applies_to(self, backbone: BackboneInfo) -> bool:
        if self.backbones is not None and backbone.id not in self.backbones:
            return False
        return all(backbone.layer(tap) is not None for tap in self.taps)


@dataclass(frozen=True)
class PromptCondition:
    """What conditions one extraction.

    Attributes:
        text: text encoded by the backbone's text encoder ("" = the empty prompt).
        text_embedding: a (77, d) tensor that replaces the text encoder's output (a learned
            textual prompt), or None.
        visual: modality ("sketch"/"photo") -> (3, S, S) tensor added to the preprocessed pixels
            of that modality (a learned visual prompt, in the backbone's input value range at its
            input resolution S), or None.
        item_texts: one text per image of the batch being extracted (sketch+text queries,
            ``bench run --query-text``), or None. Text i takes the place of ``text`` for image i;
            with a ``text_embedding``, image i's context is text i's tokens followed by the learned
            context. Set by the extractor for each batch, never by a prompt scheme; a backbone with
            ``accepts_text`` must honour it.
    """

    text: str = ""
    text_embedding: Any = None
    visual: Any = None
    item_texts: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PromptScheme:
    """A registered prompt scheme (``--prompt ID`` or ``--prompt ID:ARGUMENT``).

    Attributes:
        id: scheme name.
        description: one line for ``bench list prompts``.
        build: ``(argument: str | None) -> PromptCondition``.
        takes_argument: whether ``ID:ARGUMENT`` is required (True) or forbidden (False).
        needs_text_encoder: whether only backbones with ``accepts_text`` can use it.
        learns: the parts ``bench train`` learns for this scheme (``"visual"``, ``"textual"``);
            a scheme that learns something is trained first and then used as ``learned:FILE``.
        check: optional lazy ``(argument, backbone: BackboneInfo, image_size: int) -> None`` run when
            a sweep is planned, raising :class:`BenchError` when the prompt cannot serve that
            backbone (e.g. a learned prompt file trained on another model).
    """

    id: str
    description: str
    build: Target
    takes_argument: bool = False
    needs_text_encoder: bool = False
    learns: tuple[str, ...] = ()
    check: Target | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """A registered benchmark.

    Attributes:
        id: the name users type (``--dataset``).
        target: factory ``(root: Path, **options) -> bench.Dataset`` (``(**options)`` when
            ``needs_root`` is False).
        task: the id of its task (``bench list tasks``), checked when the dataset registers.
        description: one line for ``bench list datasets``.
        columns: the metrics papers report for it, in their order (printed first); default: the
            task's paper columns.
        needs_root: whether ``--data-root`` is required.
        expected_layout: the directory layout it reads, shown when a root is wrong.
        options: the keyword options the factory takes (name -> help), set with ``--dataset-option``.
        metrics: the metrics it reports, in order, as concrete names (``"Hits@all"``, ``"Hits@200"``);
            default: the task's.
    """

    id: str
    target: Target
    task: str
    description: str
    columns: tuple[str, ...] = ()
    needs_root: bool = True
    expected_layout: str = ""
    options: dict[str, str] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
