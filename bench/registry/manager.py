"""The pluggy plugin manager: entry-point plugins, one-file plugins (``--plugin FILE``), blocking.

Built-in plugins (``plugins/bench_*``) are found through the same ``sbir_bench`` entry-point group
as third-party ones. A plugin that fails to import is skipped with a warning naming it; the rest
keep working. ``SBIR_BENCH_BLOCK_PLUGINS=a,b`` skips plugins by name; ``SBIR_BENCH_PLUGINS`` lists
plugin files (separated by the OS path separator) loaded as if passed with ``--plugin``;
``SBIR_BENCH_BUILTIN_PLUGINS_ONLY=1`` loads only the entry points of sbir-bench itself, as if no
other plugin distribution were installed (the test suite sets it, so the plugins installed on a
machine cannot change what it checks).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pluggy

from bench.api import hookspecs
from bench.api.errors import BenchError, closest_match
from bench.registry.tables import Registry, registering_into

ENTRY_POINT_GROUP = "sbir_bench"
HOOK_NAMES = tuple(
    name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), f"{hookspecs.PROJECT_NAME}_spec")
)
BLOCK_ENV = "SBIR_BENCH_BLOCK_PLUGINS"
FILES_ENV = "SBIR_BENCH_PLUGINS"
BUILTIN_ONLY_ENV = "SBIR_BENCH_BUILTIN_PLUGINS_ONLY"
BUILTIN_DISTRIBUTION = "sbir-bench"
SLOW_REGISTRATION_SECONDS = 1.0
"""A plugin whose registration hooks take longer than this together is named in a warning: they run
on every command (``bench list`` and ``bench plugins`` included), so models must be built when a
run loads them, never while registering."""


@dataclass(frozen=True)
class PluginRecord:
    """Where a plugin came from and whether it loaded.

    Attributes:
        name: plugin name (entry-point name, or ``file:<stem>`` for a one-file plugin).
        source: distribution and module, or the file path.
        error: why it failed to load (None when loaded); ``"blocked"`` when blocked by the user.
    """

    name: str
    source: str
    error: str | None = None


@dataclass
class PluginSet:
    """The plugin manager and the record of every plugin it tried to load."""

    manager: pluggy.PluginManager
    records: list[PluginRecord] = field(default_factory=list)
    registration_failures: list[str] = field(default_factory=list)
    slow_registrations: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        failed_imports = [
            f"plugin {record.name!r} ({record.source}) failed to load and is skipped: {record.error}"
            for record in self.records
            if record.error and record.error != "blocked"
        ]
        return failed_imports + self.registration_failures + self.slow_registrations

    def add_file(self, path: Path) -> None:
        """Load a one-file plugin; a file that is missing, does not import, implements a hook wrongly
        or has the name of another plugin file is a BenchError naming it."""
        path = Path(path)
        name = f"file:{path.stem}"
        if self.manager.has_plugin(name):
            loaded = next((record.source for record in self.records if record.name == name), "?")
            if Path(loaded).resolve() == path.resolve():
                return  # the same file named twice (e.g. in SBIR_BENCH_PLUGINS and --plugin)
            raise BenchError(
                f"Plugin files {loaded!r} and {str(path)!r} are both plugin {name!r}: a one-file plugin "
                "is named after its file, so only one of them could load.",
                "Rename one of the files.",
            )
        module = _import_file(path)
        problem = register_checked(self.manager, module, name)
        if problem:
            raise BenchError(f"Plugin file {str(path)!r}: {problem}", HOOKS_HINT)
        self.records.append(PluginRecord(name, str(path)))

    def add_commands(self, cli: object) -> list[str]:
        """Let every plugin add its commands to ``cli``; returns a warning per plugin that failed."""
        failures = []
        for impl in self.manager.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:  # a broken plugin must not take the command line down
                failures.append(
                    f"plugin {impl.plugin_name!r} failed to add its commands: {type(exc).__name__}: {exc}"
                )
        return failures

    def build_registry(self) -> Registry:
        """Call every registration hook of every plugin and collect the components."""
        registry = Registry()
        self.registration_failures.clear()
        seconds: dict[str, dict[str, float]] = {}  # plugin -> hook -> seconds its registration took
        for hook_name, table in registry.tables().items():
            hook_caller = getattr(self.manager.hook, hook_name)
            for impl in hook_caller.get_hookimpls():  # in registration order
                started = time.perf_counter()
                try:
                    impl.function(register=registering_into(table, impl.plugin_name))
                except BenchError:
                    raise
                except Exception as exc:  # a broken plugin must not break the others
                    self.registration_failures.append(
                        f"plugin {impl.plugin_name!r} failed in {hook_name} and its components there "
                        f"are skipped: {type(exc).__name__}: {exc}"
                    )
                seconds.setdefault(impl.plugin_name, {})[hook_name] = time.perf_counter() - started
        warnings = (slow_registration_warning(name, hooks) for name, hooks in seconds.items())
        self.slow_registrations = [warning for warning in warnings if warning]
        registry.backbones.check()
        return registry

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.manager.get_plugin(name)
        if plugin is None:
            return []
        return sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or [])


def slow_registration_warning(plugin: str, seconds: dict[str, float]) -> str | None:
    """The warning for ``plugin`` when its registration hooks (hook name -> seconds) took longer than
    :data:`SLOW_REGISTRATION_SECONDS` together, naming the slowest; None otherwise."""
    total = sum(seconds.values())
    if total <= SLOW_REGISTRATION_SECONDS:
        return None
    slowest = max(seconds, key=seconds.__getitem__)
    return (
        f"plugin {plugin!r} took {total:.1f} s to register its components ({slowest}: "
        f"{seconds[slowest]:.1f} s), on every bench command: build models in the registered target "
        "(called when a run loads it) and import heavy libraries inside functions, not while registering"
    )


HOOKS_HINT = (
    "Hooks are functions decorated with @bench.hookimpl and named after a hook: "
    + ", ".join(HOOK_NAMES)
    + " (see `bench plugins`)."
)


def hook_mistakes(module: ModuleType, plugin: str) -> list[str]:
    """What is wrong with ``module``'s hooks before pluggy sees them: a function named after a hook
    without ``@bench.hookimpl`` (pluggy would ignore it), or a marked function whose name is no hook."""
    mistakes = []
    for attribute, value in vars(module).items():
        if not callable(value) or attribute.startswith("_"):
            continue
        marked = hasattr(value, f"{hookspecs.PROJECT_NAME}_impl")
        if attribute in HOOK_NAMES and not marked:
            mistakes.append(f"{attribute}() has no @bench.hookimpl decorator, so it would never be called")
        elif marked and attribute not in HOOK_NAMES:
            guess = closest_match(attribute, HOOK_NAMES)
            mistakes.append(
                f"@bench.hookimpl function {attribute}() is not a hook"
                + (f" (did you mean {guess}?)" if guess else "")
            )
    return [f"plugin {plugin!r}: {mistake}" for mistake in mistakes]


def register_checked(manager: pluggy.PluginManager, module: ModuleType, name: str) -> str | None:
    """Register ``module`` as plugin ``name``; the reason (naming the plugin) when its hooks are
    wrong, in which case nothing of it is registered."""
    mistakes = hook_mistakes(module, name)
    if mistakes:
        return "; ".join(mistakes)
    try:
        manager.register(module, name=name)
    except pluggy.PluginValidationError as exc:  # e.g. a hook taking an argument the spec lacks
        return f"plugin {name!r}: {exc}"
    return None


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise BenchError(
            f"Plugin file {str(path)!r} {what}.",
            "Pass the path of a Python file that defines @bench.hookimpl functions.",
        )
    module_name = f"sbir_bench_plugin_{path.stem.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise BenchError(f"Plugin file {str(path)!r} is not a Python module.", "Give a .py file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # any error in user code: report it as the plugin's failure
        del sys.modules[module_name]
        raise BenchError(
            f"Plugin file {str(path)!r} failed to import: {import_failure(exc)}",
            "Fix the error in the file (run it with `python FILE` to see the traceback), or drop --plugin.",
        ) from exc
    return module


def import_failure(exc: BaseException) -> str:
    """Why a plugin failed to import, in words: the exception, or the ``sys.exit()`` it called
    (which would otherwise end the command silently with the plugin's exit code)."""
    if isinstance(exc, SystemExit):
        return (
            f"it called sys.exit({exc.code!r}) while being imported (a plugin must not exit; guard "
            "script code with `if __name__ == '__main__':`)"
        )
    return f"{type(exc).__name__}: {exc}"


def _blocked_names() -> set[str]:
    return {name.strip() for name in os.environ.get(BLOCK_ENV, "").split(",") if name.strip()}


def _distribution_name(entry_point: importlib.metadata.EntryPoint) -> str | None:
    """The normalised name of the distribution declaring ``entry_point`` (PEP 503), if known."""
    return re.sub(r"[-_.]+", "-", entry_point.dist.name).lower() if entry_point.dist else None


def _entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    """The ``sbir_bench`` entry points by name; with ``SBIR_BENCH_BUILTIN_PLUGINS_ONLY`` set (not
    empty, not 0), only sbir-bench's own."""
    entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    if os.environ.get(BUILTIN_ONLY_ENV, "") not in ("", "0"):
        entry_points = [ep for ep in entry_points if _distribution_name(ep) == BUILTIN_DISTRIBUTION]
    return sorted(entry_points, key=lambda ep: ep.name)


def load_plugins(plugin_files: Sequence[Path] = ()) -> PluginSet:
    """A plugin manager with every installed plugin, the ``SBIR_BENCH_PLUGINS`` files and ``plugin_files``."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    plugins = PluginSet(manager)
    blocked = _blocked_names()
    seen: set[str] = set()
    for entry_point in _entry_points():
        if entry_point.name in seen:
            continue
        seen.add(entry_point.name)
        dist = entry_point.dist.name if entry_point.dist else "?"
        source = f"{dist}: {entry_point.value}"
        if entry_point.name in blocked:
            manager.set_blocked(entry_point.name)
            plugins.records.append(PluginRecord(entry_point.name, source, "blocked"))
            continue
        try:
            module = entry_point.load()
        except (Exception, SystemExit) as exc:  # a broken third-party plugin must not break the toolkit
            plugins.records.append(PluginRecord(entry_point.name, source, import_failure(exc)))
            continue
        problem = register_checked(manager, module, entry_point.name)
        plugins.records.append(PluginRecord(entry_point.name, source, problem))
    env_files = [Path(p) for p in os.environ.get(FILES_ENV, "").split(os.pathsep) if p]
    for path in [*env_files, *plugin_files]:
        plugins.add_file(path)
    return plugins
