"""hog_plugin.py: a hand-made backbone and a folder dataset, as a one-file sbir-bench plugin.

Run it with:  bench run --plugin hog_plugin.py --backbone hog --dataset folders --data-root DIR
"""

from pathlib import Path

from bench import BackboneInfo, Dataset, DatasetInfo, ImageItem, LayerInfo, hookimpl, load_rgb

BINS, CELLS = 9, 4  # orientation bins, cells per side


class OrientationHistograms:
    """Histograms of gradient orientation on a CELLS x CELLS grid (a classic SBIR descriptor)."""

    def __init__(self, info, *, weights, device, dtype, image_size):
        self.weights = "none (hand-made)"
        self.image_size = image_size

    def preprocess(self, images):
        """RGB images -> (B, 1, S, S) grey levels in [0, 1]."""
        import numpy as np
        import torch

        size = (self.image_size, self.image_size)
        grey = [np.asarray(image.convert("L").resize(size), dtype=np.float32) / 255 for image in images]
        return torch.from_numpy(np.stack(grey))[:, None]

    def extract(self, pixels, *, modality, taps, timesteps, noise_samples, noise_seeds, prompt):
        """-> {t: {"hog": (B, 1, BINS * CELLS * CELLS)}}: one vector per image, no noise draws."""
        import torch
        import torch.nn.functional as F

        gx = (pixels[..., :, 2:] - pixels[..., :, :-2])[..., 1:-1, :]  # central differences,
        gy = (pixels[..., 2:, :] - pixels[..., :-2, :])[..., :, 1:-1]  # both (B, 1, S-2, S-2)
        magnitude = torch.hypot(gx, gy)
        orientation = torch.remainder(torch.atan2(gy, gx), torch.pi)  # unsigned, in [0, pi)
        bins = (orientation / torch.pi * BINS).long().clamp(max=BINS - 1)
        votes = F.one_hot(bins[:, 0], BINS).permute(0, 3, 1, 2) * magnitude  # (B, BINS, H, W)
        cells = F.adaptive_avg_pool2d(votes, CELLS).flatten(1)  # (B, BINS * CELLS * CELLS)
        return {t: {"hog": cells[:, None]} for t in timesteps}


class SketchPhotoFolders(Dataset):
    """<root>/sketch/<class>/*.png and <root>/photo/<class>/*.jpg; every class is a test class."""

    task = "zs-sbir"

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
        return load_rgb(item.path)


@hookimpl
def register_backbones(register):
    register(
        BackboneInfo(
            id="hog",
            target=OrientationHistograms,
            description="histograms of oriented gradients, 4x4 cells (hand-made)",
            layers=(LayerInfo("hog", BINS * CELLS * CELLS, 0, "the whole descriptor"),),
            default_layer="hog",
            weights="none",
            image_size=64,
        )
    )


@hookimpl
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
