"""What ``bench list`` and ``bench plugins`` show: sections of typed rows, for people and programs.

Each :class:`ListingSection` holds rows of typed values (ints, bools, lists, ``None`` for missing) under
snake_case keys: ``--json`` prints them as they are; a person gets a table of a few of those
columns, each rendered as text (:func:`display_value`). Imports no torch, numpy or pydantic: weight
availability is read from the local disk by each backbone's ``weights_location`` hook.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.api.components import BackboneInfo, TapInfo, resolve_target
from bench.registry.manager import PluginSet
from bench.registry.tables import Registry

LIST_KINDS = ("backbones", "layers", "prompts", "datasets", "tasks", "metrics", "formats")
OVERVIEW_KINDS = ("backbones", "prompts", "datasets")  # ``bench list``: no per-tap rows
RANDOM_WEIGHTS = "random"
MISSING = "–"
WEIGHTS_STATUS_TEXT = {
    "random": "built in (random)",
    "local": "yes",
    "download": "no (download)",
    "unknown": "unknown",
}
ALIAS_SUFFIX = re.compile(r"\s*\(= ([^()]+)\)$")  # "... (= block-12)": the tap's other name
LAYERS_HINT = "`bench list layers --backbone ID` lists a backbone's taps with channels and stride."

Row = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """A column of a person's table: the row key it shows, its header, and optionally how.

    Attributes:
        key: the row key (also the ``--json`` key).
        header: the table header.
        render: value -> text; default :func:`display_value`.
        row_text: row -> text, for a cell that shows more than its own key (overrides ``render``).
        detail: shown by ``bench list KIND`` but left out of the short overview ``bench list``.
    """

    key: str
    header: str
    render: Callable[[Any], str] | None = None
    detail: bool = False
    row_text: Callable[[Row], str] | None = None

    def text(self, row: Row) -> str:
        if self.row_text is not None:
            return self.row_text(row)
        return (self.render or display_value)(row.get(self.key))


@dataclass(frozen=True)
class ListingSection:
    """One table of a listing: ``key`` names it in ``--json``; ``rows`` hold every field, typed."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: list[Row]

    def table(self, *, short: bool = False) -> tuple[str, list[str], list[list[str]]]:
        """(title, headers, rows of text) for a person; ``short`` leaves out the detail columns."""
        shown = [c for c in self.columns if not (short and c.detail)]
        return self.title, [c.header for c in shown], [[c.text(row) for c in shown] for row in self.rows]


def display_value(value: Any) -> str:
    """A typed value as table text: ``–`` for None or empty, yes/no, lists and dict keys joined."""
    if value is None or value == [] or value == {}:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(str(key) for key in value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


# ----------------------------------------------------------------------------- backbones


def weights_status(backbone: BackboneInfo) -> tuple[str, str | None, str | None]:
    """(status, local path, lookup error) of ``backbone``'s default weights on this machine.

    Status is ``"random"`` (seeded random weights, built in), ``"local"`` (found at the path),
    ``"download"`` (not on this machine) or ``"unknown"`` (its plugin cannot tell, or its lookup
    raised: the error's type is the third item). Never touches the network.
    """
    if backbone.weights == RANDOM_WEIGHTS:
        return "random", None, None
    if backbone.weights_location is None:
        return "unknown", None, None
    try:
        lookup = resolve_target(backbone.weights_location, f"the weights lookup of {backbone.id}")
        location = lookup(backbone.weights)
    except Exception as exc:  # a plugin's lookup failing must not break the listing
        return "unknown", None, type(exc).__name__
    return ("local", str(location), None) if location else ("download", None, None)


def _weights_text(row: Row) -> str:
    text = WEIGHTS_STATUS_TEXT.get(row["weights_status"], str(row["weights_status"]))
    return f"{text} (lookup failed: {row['weights_error']})" if row["weights_error"] else text


def backbone_row(backbone: BackboneInfo, plugin: str) -> Row:
    status, path, error = weights_status(backbone)
    return {
        "id": backbone.id,
        "plugin": plugin,
        "description": backbone.description,
        "weights": backbone.weights,
        "weights_status": status,
        "weights_path": path,
        "weights_error": error,
        "image_size": backbone.image_size,
        "num_timesteps": backbone.num_timesteps,
        "accepts_text": backbone.accepts_text,
        "default_layer": backbone.default_layer,
        "num_layers": len(layer_rows(backbone, plugin)),
        "learnable_prompts": list(backbone.learnable_prompts),
        "licence": backbone.licence,
        "note": backbone.note,
    }


BACKBONE_COLUMNS = (
    Column("id", "Id"),
    Column("plugin", "Plugin"),
    Column("weights", "Weights", detail=True),
    Column("weights_status", "Weights here", row_text=_weights_text),
    Column("image_size", "Size", detail=True),
    Column("num_timesteps", "Timesteps", detail=True),
    Column("default_layer", "Default layer", detail=True),
    Column("licence", "Licence", detail=True),
    Column("description", "Description"),
)
FAMILY_COLUMNS = (
    Column("usage", "Usage"),
    Column("example", "Example", detail=True),
    Column("plugin", "Plugin"),
    Column("description", "What"),
)


def backbone_sections(registry: Registry) -> list[ListingSection]:
    rows = [backbone_row(entry.component, entry.plugin) for entry in registry.backbones]
    families = [
        {
            "prefix": family.prefix,
            "usage": family.usage,
            "example": family.example or None,
            "plugin": entry.plugin,
            "description": family.description,
        }
        for entry in registry.backbone_families
        for family in [entry.component]
    ]
    return [
        ListingSection("backbones", "Backbones", BACKBONE_COLUMNS, rows),
        ListingSection(
            "backbone_families",
            "Backbone families (any model of a library, by name)",
            FAMILY_COLUMNS,
            families,
        ),
    ]


# ----------------------------------------------------------------------------- layers


def _alias_target(layer: TapInfo, names: dict[str, TapInfo]) -> str | None:
    """The other name of ``layer`` (its description ends in ``(= NAME)`` and NAME is the same tap)."""
    match = ALIAS_SUFFIX.search(layer.description)
    other = names.get(match.group(1)) if match else None
    if other is None or (other.channels, other.stride) != (layer.channels, layer.stride):
        return None
    return other.name


def layer_rows(backbone: BackboneInfo, plugin: str) -> list[Row]:
    """One row per tap in forward order, its other names (``block-12`` for ``block0``) in ``aliases``."""
    names = {layer.name: layer for layer in backbone.layers}
    rows: dict[str, Row] = {}
    for layer in backbone.layers:
        other = _alias_target(layer, names)
        if other is not None and other in rows:
            rows[other]["aliases"].append(layer.name)
            continue
        rows[layer.name] = {
            "backbone": backbone.id,
            "name": layer.name,
            "aliases": [],
            "channels": layer.channels,
            "stride": layer.stride or None,
            "kind": "map" if layer.stride else "vector",
            "description": ALIAS_SUFFIX.sub("", layer.description) if other else layer.description,
            "default": layer.name == backbone.default_layer,
            "plugin": plugin,
        }
    return list(rows.values())


LAYER_COLUMNS = (
    Column("name", "Layer"),
    Column("aliases", "Also named"),
    Column("channels", "Channels"),
    Column("stride", "Stride (px)", lambda stride: MISSING if stride is None else str(stride)),
    Column("description", "What"),
    Column("default", "Default", lambda default: "default" if default else ""),
)
BACKBONE_LAYER_COLUMNS = (
    Column("backbone", "Backbone"),
    Column("default_layer", "Default layer"),
    Column("num_layers", "Taps"),
    Column("selectors", "Selectors"),
    Column("plugin", "Plugin"),
)
SELECTOR_COLUMNS = (
    Column("id", "Selector"),
    Column("taps", "Taps", lambda taps: "+".join(taps)),
    Column("pool", "Pool"),
    Column("backbones", "Backbones"),
    Column("description", "What"),
    Column("plugin", "Plugin"),
)


def layer_sections(registry: Registry, backbone_id: str | None) -> list[ListingSection]:
    """``--backbone ID``: its taps and the selectors that apply; otherwise one summary row per backbone."""
    entries = list(registry.backbones)
    if backbone_id:
        backbone = registry.backbones.get(backbone_id)  # BenchError with suggestions when unknown
        entries = [(backbone, registry.backbones.owner(backbone.id))]
    else:
        entries = [(entry.component, entry.plugin) for entry in entries]
    backbones = [backbone for backbone, _ in entries]
    selectors = [
        {
            "id": selector.id,
            "taps": list(selector.taps),
            "pool": selector.pool,
            "backbones": [b.id for b in backbones if selector.applies_to(b)],
            "description": selector.description,
            "plugin": entry.plugin,
        }
        for entry in registry.layer_selectors
        for selector in [entry.component]
        if any(selector.applies_to(b) for b in backbones)
    ]
    selector_section = ListingSection("layer_selectors", "Layer selectors", SELECTOR_COLUMNS, selectors)
    if backbone_id:
        backbone, plugin = entries[0]
        title = f"Layers of {backbone.id} (plugin {plugin}; join taps with '+' to fuse)"
        layers = ListingSection("layers", title, LAYER_COLUMNS, layer_rows(backbone, plugin))
        return [layers, selector_section]
    summary = [
        {
            "backbone": backbone.id,
            "default_layer": backbone.default_layer,
            "num_layers": len(layers),
            "layers": [row["name"] for row in layers],
            "selectors": [s["id"] for s in selectors if backbone.id in s["backbones"]],
            "plugin": plugin,
        }
        for backbone, plugin in entries
        for layers in [layer_rows(backbone, plugin)]
    ]
    return [
        ListingSection("backbone_layers", "Layers per backbone", BACKBONE_LAYER_COLUMNS, summary),
        selector_section,
    ]


# ----------------------------------------------------------------------------- prompts, datasets

PROMPT_COLUMNS = (
    Column("usage", "Usage"),
    Column("needs_text_encoder", "Needs text encoder"),
    Column("description", "Description"),
    Column("plugin", "Plugin", detail=True),
)
DATASET_COLUMNS = (
    Column("id", "Id"),
    Column("task", "Task"),
    Column("columns", "Paper columns", detail=True),
    Column("needs_root", "Needs --data-root"),
    Column("options", "Options", detail=True),
    Column("description", "Description"),
    Column("plugin", "Plugin", detail=True),
)


def prompt_sections(registry: Registry) -> list[ListingSection]:
    rows = [
        {
            "id": scheme.id,
            "usage": scheme.id + (":<argument>" if scheme.takes_argument else ""),
            "takes_argument": scheme.takes_argument,
            "needs_text_encoder": scheme.needs_text_encoder,
            "learns": list(scheme.learns),
            "description": scheme.description,
            "plugin": entry.plugin,
        }
        for entry in registry.prompt_schemes
        for scheme in [entry.component]
    ]
    return [ListingSection("prompt_schemes", "Prompt schemes", PROMPT_COLUMNS, rows)]


def dataset_sections(registry: Registry) -> list[ListingSection]:
    rows = [
        {
            "id": dataset.id,
            "task": dataset.task,
            "columns": list(dataset.columns),
            "needs_root": dataset.needs_root,
            "options": dict(dataset.options),
            "metrics": list(dataset.metrics),
            "expected_layout": dataset.expected_layout or None,
            "description": dataset.description,
            "plugin": entry.plugin,
        }
        for entry in registry.datasets
        for dataset in [entry.component]
    ]
    return [ListingSection("datasets", "Datasets", DATASET_COLUMNS, rows)]


# ----------------------------------------------------------------------------- the evaluation side

TASK_COLUMNS = (
    Column("id", "Id"),
    Column("title", "Title"),
    Column("relevance", "Relevant items"),
    Column("columns", "Paper columns"),
    Column("metrics", "Metrics", detail=True),
    Column("main_metric", "Main"),
    Column("plugin", "Plugin"),
)
METRIC_COLUMNS = (
    Column("name", "Name"),
    Column("unit", "Unit"),
    Column("direction", "Better"),
    Column("aggregate", "Aggregate"),
    Column("chance", "Chance"),
    Column("description", "Description"),
    Column("plugin", "Plugin"),
)
FORMAT_COLUMNS = (
    Column("id", "Id"),
    Column("suffix", "Suffix"),
    Column("description", "Description"),
    Column("plugin", "Plugin"),
)


def task_sections(registry: Registry) -> list[ListingSection]:
    rows = [
        {
            "id": task.id,
            "title": task.title,
            "relevance": task.relevance,
            "metrics": list(task.metrics),
            "columns": list(task.columns),
            "main_metric": task.main,
            "resample": task.resample,
            "description": task.description,
            "plugin": entry.plugin,
        }
        for entry in registry.tasks.in_order()
        for task in [entry.component]
    ]
    return [ListingSection("tasks", "Tasks", TASK_COLUMNS, rows)]


def metric_sections(registry: Registry) -> list[ListingSection]:
    rows = [
        {
            "name": metric.id,
            "unit": metric.unit,
            "direction": "higher" if metric.higher_is_better else "lower",
            "higher_is_better": metric.higher_is_better,
            "digits": metric.digits,
            "aggregate": metric.aggregate,
            "chance": "simulated" if metric.chance is None else "exact",
            "top_k_only": metric.top_k_only,
            "description": metric.description,
            "plugin": entry.plugin,
        }
        for entry in registry.metrics.in_order()
        for metric in [entry.component]
    ]
    return [ListingSection("metrics", "Metrics (K: a cut-off >= 1)", METRIC_COLUMNS, rows)]


def format_sections(registry: Registry) -> list[ListingSection]:
    rows = [
        {"id": form.id, "suffix": form.suffix, "description": form.description, "plugin": entry.plugin}
        for entry in registry.leaderboard_formats.in_order()
        for form in [entry.component]
    ]
    return [ListingSection("leaderboard_formats", "Leaderboard formats", FORMAT_COLUMNS, rows)]


def listing_sections(registry: Registry, kind: str | None, backbone_id: str | None) -> list[ListingSection]:
    """The sections of ``bench list [KIND] [--backbone ID]``: without KIND, the short overview (no
    per-tap rows; ``--backbone`` alone means ``layers``)."""
    if kind is None and backbone_id:
        kind = "layers"
    kinds: Iterable[str] = [kind] if kind else OVERVIEW_KINDS
    builders = {
        "backbones": lambda: backbone_sections(registry),
        "layers": lambda: layer_sections(registry, backbone_id),
        "prompts": lambda: prompt_sections(registry),
        "datasets": lambda: dataset_sections(registry),
        "tasks": lambda: task_sections(registry),
        "metrics": lambda: metric_sections(registry),
        "formats": lambda: format_sections(registry),
    }
    return [section for k in kinds for section in builders[k]()]


def listing_payload(sections: Sequence[ListingSection]) -> dict[str, list[Row]]:
    """``--json`` of ``bench list``: each section's typed rows under its snake_case key."""
    return {section.key: section.rows for section in sections}


# ----------------------------------------------------------------------------- plugins

PLUGIN_COLUMNS = (
    Column("name", "Plugin"),
    Column("source", "Source"),
    Column(
        "status", "Status", row_text=lambda row: f"failed: {row['error']}" if row["error"] else row["status"]
    ),
    Column("hooks", "Hooks"),
)


def plugin_section(plugins: PluginSet) -> ListingSection:
    """One row per plugin: ``status`` is ``loaded``, ``blocked`` or ``failed`` (then ``error`` says why)."""
    rows = []
    for record in plugins.records:
        status = "loaded" if record.error is None else "blocked" if record.error == "blocked" else "failed"
        rows.append(
            {
                "name": record.name,
                "source": record.source,
                "status": status,
                "error": record.error if status == "failed" else None,
                "hooks": plugins.hooks_of(record.name),
            }
        )
    return ListingSection("plugins", "Plugins", PLUGIN_COLUMNS, rows)
