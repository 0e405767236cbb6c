"""The PNG figures of a training run: loss curves, sample grid, autoencoder reconstructions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the non-interactive backend)
import numpy as np  # noqa: E402

LOSS_FIGURE = "loss.png"
SAMPLES_FIGURE = "samples.png"
RECONSTRUCTIONS_FIGURE = "vae-reconstructions.png"
_DPI = 110


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each value and the ``window - 1`` before it (fewer at the start): same length."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (sums[1:] - sums[starts]) / (np.arange(1, len(values) + 1) - starts)


def loss_figure(losses: dict[str, Sequence[float]], path: Path) -> None:
    """One panel per stage: the loss of every step (light) and its 50-step moving average, log scale.

    ``losses`` maps a panel title to per-step losses.
    """
    figure, axes = plt.subplots(1, len(losses), figsize=(5 * len(losses), 3.6), squeeze=False)
    for axis, (title, values) in zip(axes[0], losses.items(), strict=True):
        values = np.asarray(values, dtype=float)
        steps = np.arange(1, len(values) + 1)
        axis.plot(steps, values, color="tab:blue", alpha=0.25, linewidth=0.8, label="per step")
        axis.plot(steps, _moving_average(values, 50), color="tab:blue", linewidth=1.8, label="50-step mean")
        axis.set_yscale("log")
        axis.set_xlabel("optimizer step")
        axis.set_title(title)
        axis.grid(alpha=0.3, which="both")
        axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)


def _image_grid(rows: Sequence[np.ndarray], labels: Sequence[str], path: Path, title: str) -> None:
    """Rows of images ((K, S, S, 3) uint8 each), each row labelled on its left."""
    columns = max(len(row) for row in rows)
    figure, axes = plt.subplots(
        len(rows), columns, figsize=(1.3 * columns + 2.2, 1.3 * len(rows) + 0.5), squeeze=False
    )
    for row_axes, row, label in zip(axes, rows, labels, strict=True):
        for axis, image in zip(row_axes, row, strict=False):
            axis.imshow(image)
        for axis in row_axes:
            axis.set_xticks([])
            axis.set_yticks([])
            axis.spines[:].set_visible(False)
        row_axes[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)


def sample_figure(images: np.ndarray, captions: Sequence[str], path: Path, title: str) -> None:
    """The sample grid: ``images`` (C, K, S, S, 3) uint8, one row per caption."""
    labels = [f'"{text}"' if text else '"" (empty prompt)' for text in captions]
    _image_grid(list(images), labels, path, title)


def reconstruction_figure(
    photos: tuple[np.ndarray, np.ndarray], sketches: tuple[np.ndarray, np.ndarray], path: Path, title: str
) -> None:
    """Photos above their autoencoder reconstructions, then sketches above theirs: each pair is
    (originals, reconstructions), both (B, S, S, 3) uint8."""
    rows = [*photos, *sketches]
    labels = ["photo", "decode(encode(photo))", "sketch", "decode(encode(sketch))"]
    _image_grid(rows, labels, path, title)
