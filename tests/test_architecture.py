"""The import structure of the toolkit: layers that only import downward, no cycle, plugins on the
public API only. Read from the source with ``ast`` (function-level imports included), so a lazy
import cannot hide a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

# Each subpackage of bench/ may import only from packages of a lower rank (and from itself).
LAYERS: dict[str, int] = {
    "api": 0,
    "registry": 1,
    "config": 1,
    "results": 1,
    "weights": 2,
    "plan": 3,
    "evaluation": 4,
    "extraction": 4,
    "prompts": 5,
    "execution": 6,
    "workflows": 7,
    "cli": 8,
}
FACADE = "bench"  # bench/__init__.py: the public names, imported by plugins and users only
PUBLIC = (FACADE, "bench.weights")  # what plugins may import: the facade and its one public sub-namespace


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every ``bench`` module ``path`` imports (``from bench.x import y`` counts as ``bench.x.y``
    when that is a module, else ``bench.x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
    return {name for name in found if name == "bench" or name.startswith("bench.")}


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def bench_graph() -> dict[str, set[str]]:
    return {module_name(p): imported_modules(p) for p in sorted(BENCH.rglob("*.py"))}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target in graph and state.get(target) is None:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_every_bench_module_belongs_to_a_layer():
    unknown = {layer_of(m) for m in bench_graph() if layer_of(m) not in LAYERS and m not in (FACADE,)}
    assert unknown <= {"__main__"}, f"modules outside the layers {sorted(LAYERS)}: {unknown}"


def test_layers_import_only_downward():
    violations = []
    for module, targets in bench_graph().items():
        source = layer_of(module)
        if source not in LAYERS:
            continue
        for target in targets:
            if target == FACADE:
                violations.append(f"{module} imports the facade `bench` (import from bench.api.* instead)")
                continue
            destination = layer_of(target)
            if destination == source or destination is None:
                continue
            if LAYERS[destination] >= LAYERS[source]:
                violations.append(f"{module} ({source}) imports {target} ({destination})")
    assert not violations, "\n".join(violations)


def test_no_import_cycle_in_bench():
    graph = bench_graph()
    graph.pop(FACADE, None)  # the facade imports lazily, on attribute access
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_api_layer_and_bench_weights_import_no_torch():
    """What every plugin's registration imports stays light: bench.api and bench.weights."""
    heavy = ("torch", "numpy", "diffusers", "transformers", "timm", "open_clip", "huggingface_hub")
    offenders = []
    for path in sorted([*(BENCH / "api").glob("*.py"), *(BENCH / "weights").glob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only: functions may import what they use
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in heavy]
    assert not offenders, offenders


def public_api_violations(path: Path) -> list[str]:
    """The imports of ``path`` outside the public API: any ``bench.*`` module but those of
    :data:`PUBLIC` (``from bench import weights`` is the public namespace, not a way around it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
            if node.module in PUBLIC:
                names += [name for a in node.names if _is_module(name := f"{node.module}.{a.name}")]
        else:
            continue
        found += [f"{path.name}:{node.lineno} imports {name}" for name in names if _outside_public(name)]
    return found


def _outside_public(name: str) -> bool:
    return name.startswith(f"{FACADE}.") and name not in PUBLIC


@pytest.mark.parametrize("folder", ["plugins", "examples", "tools"])
def test_plugins_import_only_the_public_api(folder):
    """A built-in plugin is written like a third-party one: ``from bench import ...`` and
    ``from bench.weights import ...`` only."""
    violations = [v for path in sorted((ROOT / folder).rglob("*.py")) for v in public_api_violations(path)]
    assert not violations, "\n".join(violations)


def test_the_public_import_rule_allows_bench_weights_and_nothing_deeper(tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import bench\nfrom bench import BenchError, weights\nfrom bench.weights import split_revision\n"
        "import bench.weights\nfrom bench.weights import names\nfrom bench.weights.hub import hub_reachable\n"
        "from bench.api import errors\nimport bench.plan.runs\n",
        encoding="utf-8",
    )
    assert public_api_violations(plugin) == [
        "plugin.py:5 imports bench.weights.names",
        "plugin.py:6 imports bench.weights.hub",
        "plugin.py:7 imports bench.api",
        "plugin.py:8 imports bench.plan.runs",
    ]


def test_the_weights_namespace_is_its_modules_public_names():
    """``bench.weights`` exports what plugins use and nothing of bench's other layers: every name
    in its ``__all__`` is defined in it, and none is also a top-level name of ``bench``."""
    import bench
    import bench.weights

    missing = [name for name in bench.weights.__all__ if not hasattr(bench.weights, name)]
    assert not missing
    assert not set(bench.weights.__all__) & set(bench.__all__)
    assert set(bench.MOVED_TO_WEIGHTS) <= set(bench.weights.__all__)


def registered_plugins() -> set[str]:
    """The packages registered as plugins (``[project.entry-points.sbir_bench]``)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {value.split(":")[0] for value in project["entry-points"]["sbir_bench"].values()}


def test_no_plugin_imports_another_plugin():
    """Each registered plugin stands alone on the public API (a tool under tools/, such as sd-mini's
    training recipe bench_sdmini, may build on the plugins' generators)."""
    plugins = registered_plugins()
    violations = []
    for plugin in sorted(plugins):
        for path in sorted((ROOT / "plugins" / plugin).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    top = node.module.split(".")[0]
                    if top in plugins and top != plugin:
                        violations.append(f"{path.relative_to(ROOT)} imports {node.module}")
    assert not violations, "\n".join(violations)


def test_plugins_holds_only_registered_plugins():
    """plugins/ is the built-in plugins, each registered (``[project.entry-points.sbir_bench]``); a
    package that registers nothing (a tool, like sd-mini's training recipe) lives under tools/."""
    packages = {path.parent.name for path in (ROOT / "plugins").glob("*/__init__.py")}
    assert packages == registered_plugins()


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


MAX_FUNCTION_LINES = 60  # from ``def`` (decorators excluded) to the last line, docstring included
MAX_PARAMETERS = 8  # self and cls not counted; *args and **kwargs count one each


def oversized_functions(path: Path, root: Path = ROOT) -> list[str]:
    """The functions of ``path`` longer than :data:`MAX_FUNCTION_LINES` or taking more than
    :data:`MAX_PARAMETERS` parameters, as ``file:line name (lines, parameters)``, the file named
    relative to ``root``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        arguments = node.args
        named = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        parameters = len(named) + (arguments.vararg is not None) + (arguments.kwarg is not None)
        parameters -= bool(arguments.args) and arguments.args[0].arg in ("self", "cls")
        lines = node.end_lineno - node.lineno + 1
        if lines > MAX_FUNCTION_LINES or parameters > MAX_PARAMETERS:
            where = f"{path.relative_to(root)}:{node.lineno}"
            found.append(f"{where} {node.name} ({lines} lines, {parameters} parameters)")
    return found


def test_no_function_in_bench_is_over_60_lines_or_8_parameters():
    """Small units: split a long function by its steps, and pass parameters that travel together
    as one settings object (as ``ExecutionSettings`` carries device, dtypes, workers and seed)."""
    offenders = [line for path in sorted(BENCH.rglob("*.py")) for line in oversized_functions(path)]
    assert not offenders, "\n".join(offenders)


def test_the_size_check_counts_lines_and_parameters(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    source = f"def long():\n{body}\n\ndef wide(self, a, b, c, d, e, f, g, *rest, **options):\n    pass\n"
    (tmp_path / "sample.py").write_text(source)
    found = [line.split(" ", 1)[1] for line in oversized_functions(tmp_path / "sample.py", tmp_path)]
    assert found == [f"long ({MAX_FUNCTION_LINES + 1} lines, 0 parameters)", "wide (2 lines, 9 parameters)"]
