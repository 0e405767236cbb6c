"""hog_plugin.py: a hand-made backbone and a folder dataset, as a one-file sbir-bench plugin.

Run it with:  bench run --plugin hog_plugin.py --backbone hog --dataset folders --data-root DIR
"""

from pathlib import Path

import bench
from bench import BackboneInfo, DatasetInfo, ImageItem, TapInfo

BINS, CELLS = 9, 4  # orientation bins, cells per side


class OrientationHistograms(bench.ImageEncoderBase):
    """Histograms of gradient orientation on a CELLS x CELLS grid (a classic SBIR descriptor)."""

    def features(self, pixels, taps):
        """(B, 3, S, S) RGB in [0, 1] -> {"hog": (B, BINS * CELLS * CELLS)}."""
        import torch
        import torch.nn.functional as F

        grey = pixels.mean(dim=1)  # (B, S, S)
        gx = (grey[:, :, 2:] - grey[:, :, :-2])[:, 1:-1, :]  # central differences,
        gy = (grey[:, 2:, :] - grey[:, :-2, :])[:, :, 1:-1]  # both (B, S-2, S-2)
        orientation = torch.remainder(torch.atan2(gy, gx), torch.pi)  # unsigned, in [0, pi)
        bins = (orientation / torch.pi * BINS).long().clamp(max=BINS - 1)
        votes = F.one_hot(bins, BINS).permute(0, 3, 1, 2) * torch.hypot(gx, gy)[:, None]
        return {"hog": F.adaptive_avg_pool2d(votes, CELLS).flatten(1)}


class SketchPhotoFolders(bench.Dataset):
    """<root>/sketch/<class>/*.png and <root>/photo/<class>/*.jpg; every class is a test class."""

    def __init__(self, root: Path):
        self.items = {modality: self._scan(Path(root), modality) for modality in ("sketch", "photo")}

    @staticmethod
    def _scan(root, modality):
        files = sorted(
            p for p in root.glob(f"{modality}/*/*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"}
        )
        if not files:
            raise ValueError(f"no images in {root / modality}/<class>/")
        return [
            ImageItem(f"{modality}/{p.parent.name}/{p.name}", modality, p.parent.name, path=p) for p in files
        ]

    def split(self, name):
        return {"query": self.items["sketch"], "gallery": self.items["photo"], "train": []}[name]

    def load_image(self, item):
        return bench.load_rgb(item.path)


@bench.hookimpl
def register_backbones(register):
    register(
        BackboneInfo(
            id="hog",
            target=OrientationHistograms,
            description="histograms of oriented gradients, 4x4 cells (hand-made)",
            layers=(TapInfo("hog", BINS * CELLS * CELLS, 0, "the whole descriptor"),),
            default_layer="hog",
            weights="none (hand-made)",
            image_size=64,
        )
    )


@bench.hookimpl
def register_datasets(register):
    register(
        DatasetInfo(
            id="folders",
            target=SketchPhotoFolders,
            task="zs-sbir",
            description="sketch/<class>/ and photo/<class>/ folders, all classes tested",
            columns=("mAP@all", "P@100"),
            expected_layout="  <root>/sketch/<class>/*.png\n  <root>/photo/<class>/*.jpg",
        )
    )
