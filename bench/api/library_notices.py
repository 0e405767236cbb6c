"""Narrow silencing of library notices that would break into a run's output (no torch imported).

diffusers prints some warnings whatever a caller does right: ``model.to(dtype=...)`` logs "There are
modules in AutoencoderKL that should be kept in float32: [] ..." even for a model that keeps none,
and ``from_pretrained`` without ``accelerate`` installed logs "Cannot initialize model with low cpu
memory usage because `accelerate` was not found ...". :func:`diffusers_notices_silenced` drops those
(and only those) while a block runs, leaving every other diffusers message and the library's
verbosity as the user set them. :func:`transformers_loading_bar_hidden` turns off transformers'
own "Loading weights" bar while one model loads (the run shows its own progress).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


@contextmanager
def transformers_loading_bar_hidden(model_class: Any) -> Iterator[None]:
    """transformers' own "Loading weights" progress bar off while ``model_class`` (a transformers
    class, so transformers is imported) loads: the run shows its own progress. transformers' switch
    also switches huggingface_hub's bars, so the download bars are put back as they were at once,
    and both switches are restored afterwards."""
    bars = sys.modules.get("transformers.utils.logging")
    hub = sys.modules.get("huggingface_hub.utils")
    from_transformers = getattr(model_class, "__module__", "").startswith("transformers.")
    if bars is None or hub is None or not from_transformers:
        yield
        return
    shown, downloads_shown = bars.is_progress_bar_enabled(), not hub.are_progress_bars_disabled()
    bars.disable_progress_bar()
    if downloads_shown:
        hub.enable_progress_bars()
    try:
        yield
    finally:
        if shown:
            bars.enable_progress_bar()
        if not downloads_shown:
            hub.disable_progress_bars()
