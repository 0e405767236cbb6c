"""Loading a registered backbone through its factory (the one place a model is built)."""

from __future__ import annotations

import inspect
from typing import Any

from bench.api.backbones import FACTORY_SIGNATURE
from bench.api.components import BackboneInfo, resolve_target
from bench.api.errors import BenchError
from bench.extraction.features import LoadedBackbone
from bench.plan.runs import PlannedRun


def load_backbone(
    info: BackboneInfo, plugin: str, *, weights: str, device: Any, dtype: Any, image_size: int
) -> LoadedBackbone:
    """Call ``info``'s factory as ``factory(info, *, weights, device, dtype, image_size)``.

    Raises:
        BenchError: the factory cannot be imported, or does not take those arguments (the message
            names the plugin and the signature it must have).
    """
    factory = resolve_target(info.target, f"backbone {info.id!r}")
    arguments = {"weights": weights, "device": device, "dtype": dtype, "image_size": image_size}
    try:
        inspect.signature(factory).bind(info, **arguments)
    except TypeError as exc:
        raise BenchError(
            f"The factory of backbone {info.id!r} (plugin {plugin!r}) cannot be called as "
            f"{FACTORY_SIGNATURE}: {exc}.",
            "Give the factory (BackboneInfo.target) that signature; see `bench.ImageEncoderBase`.",
        ) from exc
    except ValueError:  # no signature to inspect (a builtin): call it and let it fail
        pass
    return LoadedBackbone(info, factory(info, **arguments), plugin, image_size)


def load_planned_backbone(run: PlannedRun, *, device: Any, dtype: Any) -> LoadedBackbone:
    """The backbone of a planned configuration, with its weights and input resolution."""
    return load_backbone(
        run.backbone,
        run.backbone_plugin,
        weights=run.weights,
        device=device,
        dtype=dtype,
        image_size=run.image_size,
    )
