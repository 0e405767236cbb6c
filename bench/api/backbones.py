"""The runtime contracts a backbone implements (what a ``BackboneInfo``'s factory returns).

Two levels, chosen by the backbone's registration (``BackboneInfo.num_timesteps``):

* :class:`ImageEncoder` (``num_timesteps`` None: CLIP, DINO, a hand-made descriptor): a batch of
  pixels in, one feature per tap out. Nothing else: the core adds the visual prompt to the pixels
  before calling it, gives the result a noise axis of one draw, and reuses it for every timestep.
* :class:`DiffusionBackbone` (``num_timesteps`` set: Stable Diffusion, a diffusion transformer):
  adds timesteps, noise draws seeded per image, and text conditioning. The core still adds the
  visual prompt; the backbone returns the noise axis itself (one tensor per draw).

Optional capabilities are protocols of their own (:class:`TextContext`, :class:`Compilable`,
:class:`ActivationCheckpointing`); the core checks for them with ``isinstance``.

The factory of a backbone is called as ``factory(info, *, weights, device, dtype, image_size)``.
Importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from bench.api.components import PromptCondition

FACTORY_SIGNATURE = "factory(info, *, weights, device, dtype, image_size)"


@runtime_checkable
class ImageEncoder(Protocol):
    """A loaded, frozen image encoder.

    Attributes:
        weights: the weights actually loaded (hub id with revision, local path with content hash,
            or a description of random weights), recorded in results.
        image_size: input resolution in pixels (square).
    """

    weights: str
    image_size: int

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """RGB PIL images -> (B, 3, image_size, image_size) contiguous float32 on the CPU, in the
        value range the model expects (a learned visual prompt lives in that range)."""
        ...

    def features(self, pixels: torch.Tensor, taps: Sequence[str]) -> Mapping[str, torch.Tensor]:
        """Read ``taps`` for a batch.

        Args:
            pixels: (B, 3, S, S) from :meth:`preprocess` (visual prompt already added), any device.
            taps: names from the backbone's ``BackboneInfo.layers``.

        Returns:
            ``{tap: (B, C, h, w) map or (B, C) vector}``, C the tap's registered channels; any
            device and float dtype. May be called with autograd enabled (prompt learning).
        """
        ...


@runtime_checkable
class DiffusionBackbone(Protocol):
    """A loaded, frozen diffusion model read at one or more timesteps.

    Attributes:
        weights, image_size: as for :class:`ImageEncoder`.
    """

    weights: str
    image_size: int

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """As :meth:`ImageEncoder.preprocess`."""
        ...

    def features(
        self,
        pixels: torch.Tensor,
        taps: Sequence[str],
        *,
        timesteps: Sequence[int],
        noise_samples: int,
        noise_seeds: Sequence[int],
        condition: PromptCondition,
    ) -> Mapping[int, Mapping[str, torch.Tensor]]:
        """Read ``taps`` at every timestep.

        Args:
            pixels: (B, 3, S, S) from :meth:`preprocess` (visual prompt already added).
            taps: names from the backbone's ``BackboneInfo.layers``.
            timesteps: timesteps in ``0..num_timesteps-1``.
            noise_samples: N, noise draws per image.
            noise_seeds: one seed per image; image i's noise comes only from ``noise_seeds[i]``, so
                a descriptor does not depend on batch composition.
            condition: the text conditioning (text, learned (77, d) context, per-image texts; the
                visual part is already applied). When ``condition.item_texts`` is set (sketch+text
                queries; only backbones registered with ``accepts_text`` get one), image i is
                conditioned on ``item_texts[i]`` in place of ``condition.text``.

        Returns:
            ``{t: {tap: (B, N, C, h, w) or (B, N, C)}}``, any device and float dtype.
        """
        ...


@runtime_checkable
class TextContext(Protocol):
    """A text-conditioned backbone whose (77, d) text context a textual prompt can replace."""

    def text_context(self, text: str) -> torch.Tensor:
        """(77, d) cross-attention context of ``text`` (a copy autograd may use)."""
        ...


@runtime_checkable
class Compilable(Protocol):
    """A backbone that can ``torch.compile`` itself (``bench run --compile``)."""

    def compile(self) -> None: ...


@runtime_checkable
class ActivationCheckpointing(Protocol):
    """A backbone that can recompute activations in the backward pass (``bench train``)."""

    def enable_activation_checkpointing(self) -> None: ...


Backbone = ImageEncoder | DiffusionBackbone
