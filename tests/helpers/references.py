"""``resolve``: a dotted ``bench.x.y`` reference (from docs or docstrings) as the object it names."""

from __future__ import annotations

import importlib


def resolve(reference: str) -> object:
    """The object ``reference`` names: its longest importable module prefix, then attributes of it.

    Raises:
        ImportError: no prefix of ``reference`` is a module.
        AttributeError: a name after the module is not there. (Reading a deprecated alias warns; the
            caller's warning filter decides whether that is an error.)
    """
    parts = reference.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found
    raise ImportError(f"no module in {reference!r}")
