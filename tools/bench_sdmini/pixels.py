"""Conversions between uint8 RGB pixels and the [-1, 1] tensors the autoencoder reads and writes."""

from __future__ import annotations

import numpy as np
import torch


def to_model_input(pixels: np.ndarray) -> torch.Tensor:
    """(B, S, S, 3) uint8 RGB (copied: it may be a read-only memory map) -> (B, 3, S, S) float32
    in [-1, 1]."""
    return torch.from_numpy(np.array(pixels)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def to_pixels(images: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) float in [-1, 1] (clipped) -> (B, S, S, 3) uint8 RGB."""
    scaled = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round()
    return scaled.permute(0, 2, 3, 1).to(torch.uint8).numpy()
