"""Every hook a plugin can implement.

Hooks use the ``register(...)`` callback style: the toolkit calls the hook with a ``register``
function, and the plugin calls it once per component it provides::

    from bench import hookimpl, BackboneInfo

    @hookimpl
    def register_backbones(register):
        register(BackboneInfo(id="my-net", target="my_plugin.model:build", ...))

Component targets are lazy ("module:attribute" strings, or callables), so listing components never
imports torch or a model library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from bench.api.components import (
        BackboneFamily,
        BackboneInfo,
        DatasetInfo,
        LayerSelector,
        PromptScheme,
    )
    from bench.api.evaluation import LeaderboardFormat, MetricInfo, TaskInfo

PROJECT_NAME = "sbir_bench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_backbones(register: Callable[[BackboneInfo], None]) -> None:
    """Register backbones: call ``register(BackboneInfo(...))`` once per backbone."""


@hookspec
def register_backbone_families(register: Callable[[BackboneFamily], None]) -> None:
    """Register backbone families: call ``register(BackboneFamily(prefix="mylib", ...))`` so that any
    ``mylib:<name>`` is a backbone, resolved by the family when a run names it (one prefix per
    family; a registered backbone id always wins over a family name)."""


@hookspec
def register_layer_selectors(register: Callable[[LayerSelector], None]) -> None:
    """Register named layer selectors (sets of taps fused and pooled together):
    call ``register(LayerSelector(...))``."""


@hookspec
def register_prompt_schemes(register: Callable[[PromptScheme], None]) -> None:
    """Register prompt schemes (what conditions extraction): call ``register(PromptScheme(...))``."""


@hookspec
def register_datasets(register: Callable[[DatasetInfo], None]) -> None:
    """Register dataset adapters: call ``register(DatasetInfo(...))`` once per benchmark."""


@hookspec
def register_metrics(register: Callable[[MetricInfo], None]) -> None:
    """Register metrics: call ``register(MetricInfo(id="Hits@K", ...))`` once per name pattern (a
    fixed name, or one with the cut-off ``@K``). Every metric states its direction
    (``higher_is_better``), unit, aggregate and chance level."""


@hookspec
def register_tasks(register: Callable[[TaskInfo], None]) -> None:
    """Register retrieval tasks: call ``register(TaskInfo(id="my-task", ...))``; a task's metrics must
    be registered (by any plugin). A dataset names its task by id."""


@hookspec
def register_leaderboard_formats(register: Callable[[LeaderboardFormat], None]) -> None:
    """Register leaderboard formats: call ``register(LeaderboardFormat(id="html", ...))``
    (``bench leaderboard --format html``)."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``bench`` group: ``@cli.command() def mycommand(): ...``.

    Only plugins installed through the ``sbir_bench`` entry-point group can add commands (a
    ``--plugin FILE`` is loaded after the command line has been parsed).
    """
