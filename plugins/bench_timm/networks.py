"""timm networks built from a :class:`~bench_timm.architecture.TimmSpec`, with random initial weights."""

from __future__ import annotations

from typing import Any

import torch

from bench_timm.architecture import TimmSpec


def random_network(spec: TimmSpec, **kwargs: Any) -> torch.nn.Module:
    """``spec``'s timm network, weights drawn from seed 0 in a forked RNG (the caller's random state
    is untouched), its pretrained configuration (mean, std, filter) that of ``spec.model_name``.

    A VGG with its own layer list (``vgg_layers``) goes through timm's VGG builder, since
    ``timm.create_model`` builds a VGG only from timm's named layer lists.

    Args:
        kwargs: keyword arguments of the model class (``num_classes``, sizes, ...).
    """
    import timm

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if getattr(spec, "vgg_layers", None) is None:
            return timm.create_model(spec.model_name, pretrained=False, **kwargs)
        from timm.models import build_model_with_cfg
        from timm.models.vgg import VGG

        return build_model_with_cfg(VGG, spec.model_name, False, model_cfg=list(spec.vgg_layers), **kwargs)
