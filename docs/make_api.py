"""Write docs/api.md, the reference of every public name of ``bench`` and of its public
sub-namespace ``bench.weights`` (their ``__all__``), from the names' signatures and docstrings, and
the list of deprecated aliases; ``--check`` fails when the committed file is stale.

    python docs/make_api.py            # rewrite docs/api.md
    python docs/make_api.py --check    # exit 1 when docs/api.md differs from what the code says
"""

from __future__ import annotations

import inspect
import re
import sys
import types
from pathlib import Path

import bench
import bench.weights

OUTPUT = Path(__file__).with_name("api.md")
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")

HEADER = """# The public API: `import bench` and `bench.weights`

Every name plugins and Python users may import from `bench`, and from its one public sub-namespace
`bench.weights` (locating, identifying and checking weights), grouped by the module that defines
it, with its signature and docstring; a test holds plugins to these two. Generated from the code by
`python docs/make_api.py`; a test fails when this file is stale. How the pieces fit together:
[Write a plugin](plugins.md); the Python workflow: [Use from Python](running.md#use-from-python).
[Deprecated aliases](#deprecated-aliases) lists the names that moved.
"""

WEIGHTS_HEADER = """
# `bench.weights`

"""

DEPRECATED_HEADER = """
# Deprecated aliases

These names moved from `bench` to `bench.weights`. `from bench import NAME` still works and returns
the same object, with a `DeprecationWarning` naming the new place; import them from `bench.weights`.

"""


def _signature(name: str, value: object) -> str:
    """``name(arguments) -> result`` for a function or class, ``name = value`` for a constant."""
    if _kind(value) in ("class", "function"):
        try:
            text = f"{name}{inspect.signature(value)}"
        except (TypeError, ValueError):  # a builtin or an extension type without a signature
            text = name
    else:
        text = f"{name} = {value!r}"
        if len(text) > 200:
            text = text[:197] + "..."
    return _ADDRESS.sub("", text)


def _kind(value: object) -> str:
    """``class``, ``function``, ``type`` (a typing alias such as a Literal or a union) or ``constant``."""
    if inspect.isclass(value):
        return "class"
    if hasattr(value, "__origin__") or isinstance(value, types.UnionType):
        return "type"
    return "function" if callable(value) else "constant"


def _module_of(value: object, namespace: str) -> str:
    module = getattr(value, "__module__", None)
    return (
        module
        if isinstance(module, str) and module.startswith("bench")
        else f"{namespace} (constants and types)"
    )


def _reference(namespace: types.ModuleType) -> list[str]:
    """The sections of ``namespace``'s public names, grouped by defining module, sorted."""
    by_module: dict[str, list[tuple[str, object]]] = {}
    for name in sorted(set(namespace.__all__)):
        value = getattr(namespace, name)
        by_module.setdefault(_module_of(value, namespace.__name__), []).append((name, value))
    parts = []
    for module in sorted(by_module):
        parts.append(f"\n## `{module}`\n")
        for name, value in by_module[module]:
            doc = inspect.getdoc(value) if _kind(value) in ("class", "function") else None
            signature = _signature(name, value)
            parts.append(
                f"\n### `{namespace.__name__}.{name}` ({_kind(value)})\n\n```python\n{signature}\n```\n"
            )
            if doc:
                parts.append(f"\n{doc}\n")
    return parts


def api_markdown() -> str:
    """The text of docs/api.md for the code as it is."""
    weights_summary = (bench.weights.__doc__ or "").split("\n\n", 1)[-1]
    moved = "".join(
        f"- `bench.{name}` -> `bench.weights.{name}`\n" for name in sorted(bench.MOVED_TO_WEIGHTS)
    )
    return "".join(
        [
            HEADER,
            *_reference(bench),
            WEIGHTS_HEADER,
            weights_summary,
            *_reference(bench.weights),
            DEPRECATED_HEADER,
            moved,
        ]
    )


def main(argv: list[str]) -> int:
    text = api_markdown()
    if "--check" in argv:
        if not OUTPUT.is_file() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale: run `python docs/make_api.py`.", file=sys.stderr)
            return 1
        print(f"{OUTPUT} is up to date.")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(
        f"wrote {OUTPUT} ({len(bench.__all__)} names in bench, {len(bench.weights.__all__)} in bench.weights)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
