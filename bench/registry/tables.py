"""Named components collected from every plugin, with owners, duplicate and did-you-mean errors.

Backbones are looked up in two steps: the registered ids first, then the backbone families
(``timm:<model>``): a name ``prefix:rest`` whose prefix a family registered is resolved by it once
and remembered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.api.components import BackboneFamily, BackboneInfo, LayerSelector, PromptScheme, resolve_target
from bench.api.errors import BenchError, plugin_failure, unknown_name_error
from bench.api.evaluation import EvaluationSpecs
from bench.registry.components import ComponentTable, Registered
from bench.registry.evaluation import DatasetTable, FormatTable, MetricTable, TaskTable


class BackboneTable(ComponentTable[BackboneInfo]):
    """The registered backbones, and the ones ``families`` resolve by name.

    ``get``, ``owner`` and ``in`` accept a family name (``timm:vit_small_patch16_dinov3.lvd1689m``);
    iterating and ``ids`` give the registered backbones only.

    Args:
        families: the backbone families, keyed by prefix.
        selectors: the layer selectors (a backbone's default layer may name one).
    """

    def __init__(
        self, families: ComponentTable[BackboneFamily], selectors: ComponentTable[LayerSelector]
    ) -> None:
        super().__init__("backbone", BackboneInfo, "bench list backbones")
        self.families = families
        self.selectors = selectors
        self._resolved: dict[str, Registered[BackboneInfo]] = {}

    def check(self) -> None:
        """Raise :class:`BenchError` naming the plugin of the first registered backbone whose values
        are impossible (see :func:`backbone_problems`); called once every plugin has registered."""
        for entry in self:
            check_backbone(entry.component, entry.plugin, self.selectors)

    def get(self, component_id: str) -> BackboneInfo:
        """The backbone ``component_id``: registered, or resolved by the family its prefix names.

        Raises:
            BenchError: neither (listing the registered ids, the closest one and the family forms),
                or the family does not know the name.
        """
        if component_id in self._entries:
            return self._entries[component_id].component
        return self._resolve(component_id).component

    def owner(self, component_id: str) -> str:
        if component_id in self._entries:
            return self._entries[component_id].plugin
        return self._resolve(component_id).plugin

    def __contains__(self, component_id: object) -> bool:
        if not isinstance(component_id, str):
            return False
        if component_id in self._entries or component_id in self._resolved:
            return True
        try:
            self._resolve(component_id)
        except BenchError:
            return False
        return True

    def family_usages(self) -> list[str]:
        """The forms the families accept, e.g. ``["hf:<repo id>", "timm:<model>[.<tag>]"]``."""
        return [entry.component.usage for entry in self.families]

    def _resolve(self, name: str) -> Registered[BackboneInfo]:
        if name in self._resolved:
            return self._resolved[name]
        prefix, sep, rest = name.partition(":")
        if not sep or prefix not in self.families:
            raise self._unknown(name)
        family, plugin = self.families.get(prefix), self.families.owner(prefix)
        example = f", e.g. {family.example}" if family.example else ""
        if not rest:
            raise BenchError(
                f"Backbone {name!r} names no model after {prefix!r}.", f"Use {family.usage}{example}."
            )
        resolve = resolve_target(family.resolve, f"the backbone family {prefix!r}")
        with plugin_failure(
            f"Plugin {plugin!r} failed to resolve backbone {name!r}",
            f"Check the name ({family.usage}{example}), or report it to the plugin's authors "
            "(`bench --debug ...` shows the traceback).",
        ):
            info = resolve(rest)
        if not isinstance(info, BackboneInfo) or info.id != name:
            raise BenchError(
                f"Plugin {plugin!r} resolved backbone {name!r} to {info!r}.",
                f"The resolve of family {prefix!r} must return a bench.BackboneInfo with id {name!r}.",
            )
        check_backbone(info, plugin, self.selectors)
        self._resolved[name] = Registered(info, plugin)
        return self._resolved[name]

    def _unknown(self, name: str) -> BenchError:
        usages = self.family_usages()
        also = f" Also accepted: {', '.join(usages)}." if usages else ""
        return unknown_name_error(
            self.kind, name, self.ids(), f"Run `{self.list_command}` to see them.{also}"
        )


@dataclass
class Registry:
    """All components, one table per kind."""

    backbone_families: ComponentTable[BackboneFamily] = field(
        default_factory=lambda: ComponentTable("backbone family", BackboneFamily, "bench list backbones")
    )
    backbones: BackboneTable = field(init=False)
    layer_selectors: ComponentTable[LayerSelector] = field(
        default_factory=lambda: ComponentTable("layer selector", LayerSelector, "bench list layers")
    )
    prompt_schemes: ComponentTable[PromptScheme] = field(
        default_factory=lambda: ComponentTable("prompt scheme", PromptScheme, "bench list prompts")
    )
    metrics: MetricTable = field(default_factory=MetricTable)
    tasks: TaskTable = field(init=False)
    datasets: DatasetTable = field(init=False)
    leaderboard_formats: FormatTable = field(default_factory=FormatTable)

    def __post_init__(self) -> None:
        self.backbones = BackboneTable(self.backbone_families, self.layer_selectors)
        self.tasks = TaskTable(self.metrics)
        self.datasets = DatasetTable(self.tasks)

    def tables(self) -> dict[str, ComponentTable]:
        """Hook name -> the table its ``register`` callback fills, in the order the hooks are called
        (metrics before the tasks naming them, tasks before the datasets naming them)."""
        return {
            "register_backbones": self.backbones,
            "register_backbone_families": self.backbone_families,
            "register_layer_selectors": self.layer_selectors,
            "register_prompt_schemes": self.prompt_schemes,
            "register_metrics": self.metrics,
            "register_tasks": self.tasks,
            "register_datasets": self.datasets,
            "register_leaderboard_formats": self.leaderboard_formats,
        }

    def evaluation_specs(self) -> EvaluationSpecs:
        """The registered metrics, tasks and leaderboard formats (and each dataset's task), in
        registration order."""
        return EvaluationSpecs(
            metrics=[(entry.component, entry.plugin) for entry in self.metrics.in_order()],
            tasks=[(entry.component, entry.plugin) for entry in self.tasks.in_order()],
            formats=[(entry.component, entry.plugin) for entry in self.leaderboard_formats.in_order()],
            dataset_tasks={entry.component.id: entry.component.task for entry in self.datasets.in_order()},
        )


def _is_count(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _has_default_layer(info: BackboneInfo, selectors: ComponentTable[LayerSelector]) -> bool:
    """Whether ``info.default_layer`` reads the backbone's own taps (``tap`` or ``tap+tap``), or names
    a layer selector that applies to it."""
    if all(info.layer(tap) is not None for tap in info.default_layer.split("+")):
        return True
    return info.default_layer in selectors and selectors.get(info.default_layer).applies_to(info)


def backbone_problems(info: BackboneInfo, selectors: ComponentTable[LayerSelector]) -> list[str]:
    """The values of ``info`` no run could use: an input size or timestep count below 1, no layers,
    a layer named twice, with fewer than 1 channel or a negative stride, or a default layer it
    does not have."""
    problems = []
    if not _is_count(info.image_size, 1):
        problems.append(f"image_size {info.image_size!r} (the input size must be at least 1 pixel)")
    if info.num_timesteps is not None and not _is_count(info.num_timesteps, 1):
        problems.append(f"num_timesteps {info.num_timesteps!r} (must be at least 1, or None)")
    names = info.layer_names
    if not names:
        problems.append("no layers")
    problems += [f"layer {name!r} twice" for name in dict.fromkeys(n for n in names if names.count(n) > 1)]
    for layer in info.layers:
        if not _is_count(layer.channels, 1):
            problems.append(f"layer {layer.name!r} with {layer.channels!r} channels (must be at least 1)")
        if not _is_count(layer.stride, 0):
            problems.append(f"layer {layer.name!r} with stride {layer.stride!r} (0 for a vector, else > 0)")
    if names and not _has_default_layer(info, selectors):
        listed = ", ".join(names)
        problems.append(f"default layer {info.default_layer!r}, which is none of its layers ({listed})")
    return problems


def check_backbone(info: BackboneInfo, plugin: str, selectors: ComponentTable[LayerSelector]) -> None:
    """Raise :class:`BenchError` naming ``plugin`` when ``info`` has values no run could use."""
    problems = backbone_problems(info, selectors)
    if problems:
        raise BenchError(
            f"Plugin {plugin!r} registered backbone {info.id!r} with impossible values: "
            f"{'; '.join(problems)}.",
            "The plugin must register a bench.BackboneInfo a run can use (see its docstring); fix the "
            "plugin, or run without it (SBIR_BENCH_BLOCK_PLUGINS=<name> blocks an installed one).",
        )


def registering_into(table: ComponentTable, plugin: str) -> Callable[[object], None]:
    """The ``register`` callback handed to ``plugin``'s hook: adds to ``table`` under the plugin's name."""

    def register(component: object) -> None:
        table.add(component, plugin)  # type: ignore[arg-type]

    return register
