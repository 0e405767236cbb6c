"""Calling a backbone through its contract: the one place features are read, for run, train and plot.

:func:`layer_features` adds the visual prompt to the pixels, calls an image encoder's
``features(pixels, taps)`` or a diffusion backbone's ``features(..., timesteps, noise...)``, checks
what came back against the backbone's registration (every tap, batch size, channels, noise draws;
errors name the plugin), gives an image encoder's output its noise axis of one draw, fans it out to
every timestep, and fuses the taps of each layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from bench.api.components import BackboneInfo, PromptCondition
from bench.api.errors import BenchError
from bench.plan.layers import LayerPlan

DescriptorKey = tuple[int | None, str]  # (timestep, layer name)


@dataclass
class LoadedBackbone:
    """A backbone as its factory returned it, with what the core knows about it.

    The model's own attributes are read from ``model`` (``loaded.model.unet``); reading them from
    the loaded backbone itself (``loaded.unet``) still works but is deprecated (a DeprecationWarning
    names the ``model`` path).

    Attributes:
        info: its registration (layers with channels and strides, timesteps, text).
        model: the object the factory returned (an ``ImageEncoder`` or a ``DiffusionBackbone``).
        plugin: the name of the plugin that registered it (named in errors).
        image_size: the input resolution in pixels it was loaded for (None: built by hand, not known).
    """

    info: BackboneInfo
    model: Any
    plugin: str
    image_size: int | None = None

    def __getattr__(self, name: str) -> Any:
        """Deprecated: the model's attribute ``name``, read through the loaded backbone."""
        # the fields themselves are not set yet while unpickling; dunder names are never the model's
        if name in ("info", "model", "plugin", "image_size") or name.startswith("__"):
            raise AttributeError(name)
        value = getattr(self.model, name)
        warnings.warn(
            f"LoadedBackbone.{name} is deprecated: read the model's attribute as loaded.model.{name}.",
            DeprecationWarning,
            stacklevel=2,
        )
        return value

    @property
    def is_diffusion(self) -> bool:
        return self.info.num_timesteps is not None

    def preprocess(self, images: Sequence[Any]) -> torch.Tensor:
        """RGB PIL images -> (B, 3, S, S) float32, checked."""
        pixels = self.model.preprocess(list(images))
        if not isinstance(pixels, torch.Tensor) or pixels.dim() != 4 or pixels.shape[0] != len(images):
            raise self._contract_error(
                f"preprocess() returned {_shape_of(pixels)} for {len(images)} images",
                "a (B, 3, S, S) float tensor, one row per image",
            )
        return pixels.contiguous()  # see ``bench.api.encoders.normalized_pixels``

    def _contract_error(self, what: str, expected: str) -> BenchError:
        return BenchError(
            f"Backbone {self.info.id!r} (plugin {self.plugin!r}) broke its contract: {what}.",
            f"Its plugin must return {expected}; see `bench.ImageEncoder` / `bench.DiffusionBackbone`.",
        )


def _shape_of(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def _with_visual_prompt(pixels: torch.Tensor, modality: str, prompt: PromptCondition) -> torch.Tensor:
    if prompt.visual is not None and modality in prompt.visual:
        return pixels + prompt.visual[modality].to(pixels)
    return pixels


def _check_tap(backbone: LoadedBackbone, tap: str, value: Any, batch: int, draws: int | None) -> None:
    """Raise a contract error unless ``value`` is tap ``tap``'s feature for ``batch`` images (with
    ``draws`` noise draws after the batch axis, or none when ``draws`` is None)."""
    layer = backbone.info.layer(tap)
    lead = (batch,) if draws is None else (batch, draws)
    kind = "a vector" if layer.stride == 0 else "a map"
    axes = {(True, True): "(B, C)", (True, False): "(B, N, C)", (False, True): "(B, C, h, w)"}.get(
        (layer.stride == 0, draws is None), "(B, N, C, h, w)"
    )
    noise = "" if draws is None else f", N={draws}"
    expected = f"{kind} {axes} for it, with B={batch}{noise}, C={layer.channels} (its registered channels)"
    if not isinstance(value, torch.Tensor):
        raise backbone._contract_error(f"tap {tap!r} is {_shape_of(value)}", expected)
    channel_axis = len(lead)
    if (
        value.dim() != channel_axis + (1 if layer.stride == 0 else 3)
        or tuple(value.shape[:channel_axis]) != lead
        or value.shape[channel_axis] != layer.channels
        or not value.is_floating_point()
    ):
        raise backbone._contract_error(f"tap {tap!r} is {_shape_of(value)}", expected)


def backbone_features(
    backbone: LoadedBackbone,
    pixels: torch.Tensor,
    *,
    modality: str,
    taps: Sequence[str],
    timesteps: Sequence[int | None],
    noise_samples: int,
    noise_seeds: Sequence[int],
    prompt: PromptCondition,
) -> dict[int | None, dict[str, torch.Tensor]]:
    """``{t: {tap: (B, N, C, h, w) or (B, N, C)}}`` for a batch, through the backbone's contract.

    Args:
        pixels: (B, 3, S, S) from :meth:`LoadedBackbone.preprocess`, all of one ``modality``.
        timesteps: diffusion timesteps, or ``(None,)`` for an image encoder.
        noise_samples: N (an image encoder always gives N = 1).
        noise_seeds: one seed per image (diffusion backbones).
        prompt: the conditioning; its visual part (for ``modality``) is added to ``pixels`` here.

    Raises:
        BenchError: text conditioning for an image encoder, or a contract violation (a missing
            tap, a wrong shape), naming the backbone and its plugin.
    """
    batch = pixels.shape[0]
    pixels = _with_visual_prompt(pixels, modality, prompt)
    if not backbone.is_diffusion:
        if prompt.text or prompt.text_embedding is not None or prompt.item_texts is not None:
            raise BenchError(
                f"Backbone {backbone.info.id!r} is an image encoder: its features cannot be conditioned "
                "on text.",
                "Use --prompt none (or a learned prompt without a textual part) and no --query-text.",
            )
        out = backbone.model.features(pixels, list(taps))
        features = _checked(backbone, out, taps, batch, None)
        return dict.fromkeys(timesteps, {tap: value[:, None] for tap, value in features.items()})
    condition = replace(prompt, visual=None)
    out = backbone.model.features(
        pixels,
        list(taps),
        timesteps=list(timesteps),
        noise_samples=noise_samples,
        noise_seeds=list(noise_seeds),
        condition=condition,
    )
    if not isinstance(out, Mapping) or any(t not in out for t in timesteps):
        raise backbone._contract_error(
            f"features() returned {_shape_of(out)} without every timestep of {list(timesteps)}",
            "a mapping {t: {tap: tensor}} with every requested timestep",
        )
    return {t: _checked(backbone, out[t], taps, batch, noise_samples) for t in timesteps}


def _checked(
    backbone: LoadedBackbone, out: Any, taps: Sequence[str], batch: int, draws: int | None
) -> dict[str, torch.Tensor]:
    if not isinstance(out, Mapping):
        raise backbone._contract_error(f"features() returned {_shape_of(out)}", "a mapping {tap: tensor}")
    missing = [tap for tap in taps if tap not in out]
    if missing:
        raise backbone._contract_error(
            f"features() returned no {missing[0]!r} (it returned {', '.join(map(repr, out)) or 'nothing'})",
            f"every requested tap ({', '.join(taps)})",
        )
    for tap in taps:
        _check_tap(backbone, tap, out[tap], batch, draws)
    return {tap: out[tap] for tap in taps}


def layer_features(
    backbone: LoadedBackbone,
    pixels: torch.Tensor,
    *,
    modality: str,
    layers: Sequence[LayerPlan],
    timesteps: Sequence[int | None],
    noise_samples: int,
    noise_seeds: Sequence[int],
    prompt: PromptCondition,
) -> dict[DescriptorKey, list[torch.Tensor]]:
    """Per (timestep, layer), the layer's taps (each (B, N, C_k, h_k, w_k) or (B, N, C_k)), from
    one backbone call that reads every tap of every layer (see :func:`backbone_features`)."""
    taps = tuple(dict.fromkeys(tap for plan in layers for tap in plan.taps))
    features = backbone_features(
        backbone,
        pixels,
        modality=modality,
        taps=taps,
        timesteps=timesteps,
        noise_samples=noise_samples,
        noise_seeds=noise_seeds,
        prompt=prompt,
    )
    return {(t, plan.name): [features[t][tap] for tap in plan.taps] for t in timesteps for plan in layers}
