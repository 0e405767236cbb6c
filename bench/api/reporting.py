"""How long work tells the user what it is doing (the command line draws rich progress bars)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol


class Reporter(Protocol):
    """Status lines and progress bars of a run, a training or a plot."""

    def status(self, message: str) -> None: ...

    def progress(
        self, description: str, total: int, unit: str = "img"
    ) -> contextlib.AbstractContextManager[Callable[[int], None]]:
        """A context yielding ``advance(count)``; ``unit`` names what is counted (rate per second)."""
        ...


class SilentReporter:
    """A :class:`Reporter` that shows nothing (library use, tests, non-main processes)."""

    def status(self, message: str) -> None:
        pass

    @contextlib.contextmanager
    def progress(self, description: str, total: int, unit: str = "img") -> Iterator[Callable[[int], None]]:
        yield lambda n: None
