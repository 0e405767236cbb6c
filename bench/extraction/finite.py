"""Non-finite values (NaN, inf) are refused where they arise, before any row is cached or scored.

Three places can produce them: the prompt (checked once per extraction), a backbone's
``preprocess`` and its features (both checked per batch, the features right after the backbone
returns them, per tap), and pooling (per batch, on the descriptors). Each error names the source and
the images; nothing of the batch has been written to the cache by then.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from bench.api.components import PromptCondition
from bench.api.errors import BenchError
from bench.extraction.features import DescriptorKey, LoadedBackbone
from bench.plan.layers import LayerPlan

TapKey = tuple[int | None, str]  # (timestep, tap name)
SHOWN_IMAGES = 3  # image keys named in an error; the rest are counted


def check_prompt(prompt: PromptCondition) -> None:
    """Raise when one of the prompt's tensors (``text_embedding``, ``visual``) is not finite."""
    tensors = {"textual": prompt.text_embedding}
    tensors.update({f"visual ({modality})": value for modality, value in (prompt.visual or {}).items()})
    for part, tensor in tensors.items():
        if tensor is not None and not bool(torch.isfinite(tensor).all()):
            raise BenchError(
                f"The run's {part} prompt holds non-finite values (NaN or inf): every descriptor it "
                "conditions would be NaN. Nothing was extracted.",
                "Use a prompt learned by a training run that did not diverge (its history shows the "
                "loss), or another --prompt.",
            )


def _images(keys: Sequence[str], total: int) -> str:
    """``"for 2 of 8 images (a, b)"``."""
    more = f" and {len(keys) - SHOWN_IMAGES} more" if len(keys) > SHOWN_IMAGES else ""
    shown = ", ".join(keys[:SHOWN_IMAGES]) + more
    return f"for {len(keys)} of {total} images in the batch ({shown})"


def check_pixels(backbone: LoadedBackbone, pixels: torch.Tensor, keys: Sequence[str]) -> None:
    """Raise unless the (B, 3, S, S) ``pixels`` of the images ``keys`` (from the backbone's
    ``preprocess``) are finite."""
    finite = torch.isfinite(pixels).flatten(1).all(1)
    if not bool(finite.all()):
        bad = [key for key, ok in zip(keys, finite.tolist(), strict=True) if not ok]
        raise backbone._contract_error(
            f"preprocess() returned non-finite pixels (NaN or inf) {_images(bad, len(keys))}",
            "finite pixels for every readable image",
        )


def tap_finiteness(
    features: dict[DescriptorKey, list[torch.Tensor]], layers: Sequence[LayerPlan]
) -> tuple[list[TapKey], torch.Tensor]:
    """Which images' features are finite, per (timestep, tap), computed on the features' device.

    Args:
        features: per (timestep, layer name), the layer's taps (as :func:`layer_features` gives them).

    Returns:
        The (timestep, tap) of each column, and a (B, columns) float tensor: 1 where the image's
        feature at that tap is finite everywhere, 0 where it is not.
    """
    plans = {plan.name: plan for plan in layers}
    taps: dict[TapKey, torch.Tensor] = {}
    for (t, name), values in features.items():
        taps.update({(t, tap): value for tap, value in zip(plans[name].taps, values, strict=True)})
    flags = [torch.isfinite(value).flatten(1).all(1) for value in taps.values()]
    return list(taps), torch.stack(flags, dim=1).float()


def check_batch(
    backbone: LoadedBackbone,
    keys: Sequence[str],
    taps: Sequence[TapKey],
    tap_flags: np.ndarray,
    rows: dict[DescriptorKey, np.ndarray],
    pools: dict[str, str],
) -> None:
    """Raise when a batch's features or descriptors are not finite, naming the source.

    Args:
        keys: the batch's image keys.
        taps, tap_flags: :func:`tap_finiteness`'s result, on the host ((B, len(taps))).
        rows: its descriptors, ``{(t, layer name): (B, D)}``.
        pools: each layer's pooling.
    """
    for column, (t, tap) in enumerate(taps):
        bad = [key for key, ok in zip(keys, tap_flags[:, column] > 0.5, strict=True) if not ok]
        if bad:
            at = f"tap {tap!r}" + ("" if t is None else f" at t={t}")
            raise BenchError(
                f"Backbone {backbone.info.id!r} (plugin {backbone.plugin!r}) gave non-finite features "
                f"(NaN or inf) at {at} {_images(bad, len(keys))}. Nothing of this batch was cached.",
                "Check its weights (NaN weights give NaN for every image) and its code; a 16-bit run "
                "can overflow: try --dtype fp32.",
            )
    for (t, name), values in rows.items():
        finite = np.isfinite(values).all(axis=1)
        if not finite.all():
            bad = [key for key, ok in zip(keys, finite, strict=True) if not ok]
            at = f"layer {name!r}" + ("" if t is None else f" at t={t}")
            raise BenchError(
                f"Pooling {pools[name]!r} of {at} gave non-finite descriptors from finite features "
                f"{_images(bad, len(keys))} (values too large for it). Nothing of this batch was cached.",
                "Use another --pool (gap is the most robust), or check the backbone's feature scale.",
            )
