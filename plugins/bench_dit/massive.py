"""Handling the "massive activation" channels of diffusion-transformer features (off by default).

DiT block outputs carry a few channels whose magnitude is orders of magnitude above the rest, in
nearly every token (Sun et al., "Massive activations in large language models", 2024; for DiTs,
Gan et al., "Unleashing Diffusion Transformers for Visual Correspondence by Modulating Massive
Activations" (DiTF), NeurIPS 2025). Pooled and L2-normalised, such a descriptor is dominated by
those channels and hardly depends on the image. Handling, per image and tap:

* ``zero``: the k channels of largest mean |activation| over the image's maps are set to 0;
* ``clip``: those k channels are clamped to +-m, m the largest |activation| of the other channels.

Chosen per image from all its noise draws together (the mean runs over draws and positions) and
applied alike to every draw, so the draws averaged into a descriptor lose the same channels (as
DiTF discards fixed channels of its ensemble-averaged features); never across the batch, so a
descriptor does not depend on batch composition. Importing this module imports no torch (the
backbone family parses names with it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench import BenchError

if TYPE_CHECKING:
    import torch

MODES = ("zero", "clip")
_SPEC = re.compile(r"massive-(zero|clip)(\d+)")


@dataclass(frozen=True)
class MassiveActivations:
    """A handling of the k most massive channels (``mode`` in :data:`MODES`, ``k`` >= 1)."""

    mode: str
    k: int

    @property
    def name(self) -> str:
        """``"massive-zero4"``: the form a backbone name carries (``dit:<id>/massive-zero4``)."""
        return f"massive-{self.mode}{self.k}"

    def describe(self) -> str:
        """What it does, in words (recorded in results)."""
        what = (
            "set to 0" if self.mode == "zero" else "clamped to the largest |activation| of the other channels"
        )
        return (
            f"per image and tap, the {self.k} channels of largest mean |activation| over the map and "
            f"all noise draws {what} in every draw (DiTF, NeurIPS 2025)"
        )

    def __call__(self, maps: torch.Tensor) -> torch.Tensor:
        """(B, N, C, h, w), each image's N noise draws -> (B, N, C, h, w) with the massive channels
        handled (differentiable): chosen per image over all its draws and positions, the same
        channels in every draw; ``clip``'s bound m is likewise over all the image's draws."""
        import torch

        channels = maps.shape[2]
        k = min(self.k, channels - 1)
        magnitude = maps.detach().abs().float().mean(dim=(1, 3, 4))  # (B, C)
        top = magnitude.topk(k, dim=1).indices  # (B, k)
        massive = torch.zeros_like(magnitude, dtype=torch.bool).scatter_(1, top, True)
        massive = massive[:, None, :, None, None]  # (B, 1, C, 1, 1): every draw and position
        if self.mode == "zero":
            return maps.masked_fill(massive, 0.0)
        others = maps.detach().abs().masked_fill(massive, 0.0).amax(dim=(1, 2, 3, 4), keepdim=True)
        return torch.where(massive, torch.maximum(torch.minimum(maps, others), -others), maps)


def parse_massive(spec: str, backbone_id: str) -> MassiveActivations:
    """``"massive-zero4"`` / ``"massive-clip2"`` -> :class:`MassiveActivations`.

    Raises:
        BenchError: another form, or k = 0.
    """
    match = _SPEC.fullmatch(spec)
    if match is None or int(match.group(2)) < 1:
        raise BenchError(
            f"{spec!r} is no massive-activation handling (in backbone {backbone_id!r}).",
            "Use massive-zero<k> or massive-clip<k> with k >= 1, e.g. dit:sd35-medium/massive-zero4, "
            "or ditf (DiTF's recipe, e.g. dit:flux1-dev/ditf).",
        )
    return MassiveActivations(match.group(1), int(match.group(2)))
