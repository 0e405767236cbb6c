"""Tiny timm trunks for the tiny open_clip towers, registered with timm under their own names.

open_clip's ``TimmModel`` builds its trunk with ``timm.create_model(timm_model_name, ...)`` and no
size arguments, so a miniature SigLIP 2, PE or EVA-02 tower needs a timm model name whose builder
is the real architecture's with smaller sizes. Registering is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import timm
from timm.models import register_model

from bench_openclip.architecture import TINY_TIMM_TRUNKS


def _shrunk(name: str, architecture: str, sizes: dict[str, Any]) -> Callable[..., Any]:
    """A timm entry point ``name`` that builds ``architecture`` with ``sizes`` (random weights only)."""

    def build(pretrained: bool = False, **kwargs: Any) -> Any:
        kwargs.pop("pretrained_cfg", None)
        kwargs.pop("pretrained_cfg_overlay", None)
        return timm.create_model(architecture, pretrained=False, **{**sizes, **kwargs})

    build.__name__ = build.__qualname__ = name
    return build


def register_tiny_trunks() -> None:
    """Make every name of ``TINY_TIMM_TRUNKS`` a timm model (once per process)."""
    for name, (architecture, sizes) in TINY_TIMM_TRUNKS.items():
        if not timm.is_model(name):
            register_model(_shrunk(name, architecture, sizes))
