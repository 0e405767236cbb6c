"""A base class that makes an image-encoder adapter one method (:meth:`ImageEncoderBase.features`).

Importing this module imports no torch (numpy, PIL and torch are imported when images arrive).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from bench.api.components import BackboneInfo


@dataclass(frozen=True)
class PixelNormalization:
    """How a model expects its input pixels: ``(rgb / 255 - mean) / std`` after resizing.

    Attributes:
        mean, std: per RGB channel, for values in [0, 1].
        interpolation: ``"bicubic"`` or ``"bilinear"`` (the resize filter).
    """

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    interpolation: str = "bicubic"


def normalized_pixels(
    images: Sequence[Image.Image], size: int, normalization: PixelNormalization
) -> torch.Tensor:
    """RGB images -> (B, 3, size, size) contiguous float32: resized (no crop: sketches reach their
    borders), scaled to [0, 1], then normalised with ``normalization``'s mean and std."""
    import numpy as np
    import torch
    from PIL import Image

    resample = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}[normalization.interpolation]
    arrays = [
        np.asarray(image.convert("RGB").resize((size, size), resample), dtype=np.float32) for image in images
    ]
    # (B, H, W, 3) -> (B, 3, H, W) made contiguous: CPU GroupNorm and convolutions lose precision
    # (and batch invariance) on the channels-last strides a bare permute leaves.
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous() / 255.0
    mean = torch.tensor(normalization.mean).view(1, 3, 1, 1)
    std = torch.tensor(normalization.std).view(1, 3, 1, 1)
    return (batch - mean) / std


class ImageEncoderBase(ABC):
    """An :class:`~bench.api.backbones.ImageEncoder` whose class is its own factory.

    Register the subclass itself as ``BackboneInfo.target``; implement :meth:`features`. Pixels
    are resized to ``image_size`` and normalised with :attr:`normalization` (default: RGB in
    [0, 1]); override the class attribute for a model trained with other statistics.

    Attributes:
        info: the registration the backbone was loaded for.
        weights: what was loaded (the ``weights`` argument), recorded in results.
        image_size: input resolution in pixels.
        device, dtype: where and in which precision the model should run.
    """

    normalization: PixelNormalization = PixelNormalization()

    def __init__(self, info: BackboneInfo, *, weights: str, device: Any, dtype: Any, image_size: int) -> None:
        self.info = info
        self.weights = weights
        self.device = device
        self.dtype = dtype
        self.image_size = image_size

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """RGB images -> (B, 3, S, S) float32 (see :func:`normalized_pixels`)."""
        return normalized_pixels(images, self.image_size, self.normalization)

    @abstractmethod
    def features(self, pixels: torch.Tensor, taps: Sequence[str]) -> Mapping[str, torch.Tensor]:
        """``{tap: (B, C, h, w) map or (B, C) vector}`` for (B, 3, S, S) ``pixels``."""
