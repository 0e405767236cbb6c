"""What ``bench list`` shows: one (title, headers, rows) table per kind of component.

Imports no torch: weight availability is read from the local disk by each backbone's
``weights_location`` hook.
"""

from __future__ import annotations

from bench.api.components import BackboneInfo, resolve_target
from bench.registry.tables import Registry

LIST_KINDS = ("backbones", "layers", "prompts", "datasets")
RANDOM_WEIGHTS = "random"


def weights_here(backbone: BackboneInfo) -> str:
    """Whether ``backbone``'s default weights are on this machine, in words for the listing:
    ``"built in (random)"``, ``"yes"``, ``"no (download)"``, or ``"unknown"``
    when its plugin does not say. Never touches the network."""
    if backbone.weights == RANDOM_WEIGHTS:
        return "built in (random)"
    if backbone.weights_location is None:
        return "unknown"
    try:
        location = resolve_target(backbone.weights_location, f"the weights lookup of {backbone.id}")(
            backbone.weights
        )
    except Exception as exc:  # a plugin's lookup failing must not break the listing
        return f"unknown (lookup failed: {type(exc).__name__})"
    return "yes" if location else "no (download)"


def listing_tables(
    registry: Registry, kind: str, backbone_id: str | None
) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) tables for ``bench list KIND``."""
    if kind == "backbones":
        rows = [
            [
                b.id,
                e.plugin,
                b.weights,
                weights_here(b),
                str(b.image_size),
                "yes" if b.num_timesteps else "no",
                b.licence or "–",
                b.description,
            ]
            for e in registry.backbones
            for b in [e.component]
        ]
        headers = ["Id", "Plugin", "Weights", "Weights here", "Size", "Timestep", "Licence", "Description"]
        families = [
            [f.usage, f.example or "–", e.plugin, f.description]
            for e in registry.backbone_families
            for f in [e.component]
        ]
        return [
            ("Backbones", headers, rows),
            (
                "Backbone families (any model of a library, by name)",
                ["Usage", "Example", "Plugin", "What"],
                families,
            ),
        ]
    if kind == "layers":
        backbones = (
            [registry.backbones.get(backbone_id)]
            if backbone_id
            else [e.component for e in registry.backbones]
        )
        rows = [
            [
                b.id,
                layer.name,
                str(layer.channels),
                str(layer.stride) if layer.stride else "–",
                layer.description,
                registry.backbones.owner(b.id),
            ]
            for b in backbones
            for layer in b.layers
        ]
        selectors = [
            [
                s.id,
                "+".join(s.taps),
                s.pool,
                ", ".join(b.id for b in backbones if s.applies_to(b)),
                s.description,
                e.plugin,
            ]
            for e in registry.layer_selectors
            for s in [e.component]
            if any(s.applies_to(b) for b in backbones)
        ]
        return [
            (
                "Layers (taps; join with '+' to fuse)",
                ["Backbone", "Layer", "Channels", "Stride (px)", "What", "Plugin"],
                rows,
            ),
            ("Layer selectors", ["Selector", "Taps", "Pool", "Backbones", "What", "Plugin"], selectors),
        ]
    if kind == "prompts":
        rows = [
            [
                p.id + (":<argument>" if p.takes_argument else ""),
                "yes" if p.needs_text_encoder else "no",
                p.description,
                e.plugin,
            ]
            for e in registry.prompt_schemes
            for p in [e.component]
        ]
        return [("Prompt schemes", ["Usage", "Needs text encoder", "Description", "Plugin"], rows)]
    rows = [
        [
            d.id,
            d.task,
            ", ".join(d.columns),
            "yes" if d.needs_root else "no",
            ", ".join(d.options) or "–",
            d.description,
            e.plugin,
        ]
        for e in registry.datasets
        for d in [e.component]
    ]
    return [
        (
            "Datasets",
            ["Id", "Task", "Paper columns", "Needs --data-root", "Options", "Description", "Plugin"],
            rows,
        )
    ]
