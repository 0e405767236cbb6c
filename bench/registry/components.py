"""A table of registered components of one kind: owners, duplicate ids and did-you-mean errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from bench.api.errors import BenchError, unknown_name_error

C = TypeVar("C")


@dataclass(frozen=True)
class Registered(Generic[C]):
    """A component and the name of the plugin that registered it."""

    component: C
    plugin: str


class ComponentTable(Generic[C]):
    """Components of one kind, keyed by id.

    Args:
        kind: human name of the kind ("backbone", "dataset", ...), used in messages.
        list_command: the command that lists valid ids, quoted in errors.
    """

    def __init__(self, kind: str, component_type: type[C], list_command: str) -> None:
        self.kind = kind
        self.component_type = component_type
        self.list_command = list_command
        self._entries: dict[str, Registered[C]] = {}

    def add(self, component: C, plugin: str) -> None:
        """Register ``component`` for ``plugin``; a second component with the same id is an error."""
        self._check_type(component, plugin)
        previous = self._entries.get(component.id)
        if previous is not None:
            raise BenchError(
                f"The {self.kind} id {component.id!r} is registered twice: by plugin {previous.plugin!r} "
                f"and by plugin {plugin!r}.",
                "Rename one of them, or block one plugin with SBIR_BENCH_BLOCK_PLUGINS=<name>.",
            )
        self._entries[component.id] = Registered(component, plugin)

    def _check_type(self, component: object, plugin: str) -> None:
        if not isinstance(component, self.component_type):
            raise BenchError(
                f"Plugin {plugin!r} registered {component!r} as a {self.kind}.",
                f"Pass a bench.{self.component_type.__name__} to register().",
            )

    def get(self, component_id: str) -> C:
        """The component with ``component_id``, or a BenchError listing valid ids and the closest one."""
        try:
            return self._entries[component_id].component
        except KeyError:
            raise unknown_name_error(
                self.kind, component_id, self.ids(), f"Run `{self.list_command}` to see them."
            ) from None

    def owner(self, component_id: str) -> str:
        return self._entries[component_id].plugin

    def __contains__(self, component_id: object) -> bool:
        return component_id in self._entries

    def __iter__(self) -> Iterator[Registered[C]]:
        return iter(sorted(self._entries.values(), key=lambda entry: entry.component.id))

    def in_order(self) -> list[Registered[C]]:
        """The entries in registration order."""
        return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def ids(self) -> list[str]:
        return sorted(self._entries)
