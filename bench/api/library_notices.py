"""Narrow silencing of diffusers notices that would break into a run's output (no torch imported).

diffusers prints some warnings whatever a caller does right: ``model.to(dtype=...)`` logs "There are
modules in AutoencoderKL that should be kept in float32: [] ..." even for a model that keeps none,
and ``from_pretrained`` without ``accelerate`` installed logs "Cannot initialize model with low cpu
memory usage because `accelerate` was not found ...". :func:`diffusers_notices_silenced` drops those
(and only those) while a block runs, leaving every other diffusers message and the library's
verbosity as the user set them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

DIFFUSERS_LOGGER = "diffusers"
KEEP_IN_FP32 = "that should be kept in float32"
"""diffusers' warning on ``model.to(dtype=...)`` (the base keeps a VAE that asks for fp32 itself)."""
NO_ACCELERATE = "because `accelerate` was not found"
"""diffusers' warning on ``from_pretrained`` without accelerate (it loads the same tensors)."""


class _DropNotices(logging.Filter):
    def __init__(self, phrases: tuple[str, ...]) -> None:
        super().__init__()
        self.phrases = phrases

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(phrase in message for phrase in self.phrases)


@contextmanager
def diffusers_notices_silenced(*phrases: str) -> Iterator[None]:
    """Drop diffusers log records containing any of ``phrases`` while the block runs.

    The filter sits on the handlers of diffusers' library logger (through which every diffusers
    module's records print, whichever module logs them) and on that logger itself.
    """
    library = logging.getLogger(DIFFUSERS_LOGGER)
    drop = _DropNotices(phrases)
    filtered = [library, *library.handlers]
    for target in filtered:
        target.addFilter(drop)
    try:
        yield
    finally:
        for target in filtered:
            target.removeFilter(drop)
