"""Issue 22's cache and extraction items: nothing silently wrong (rows keyed by the pixels a dataset
returns, non-finite features refused where they arise), nothing lost (quarantined shards kept whole),
nothing deleted that the cache did not write, and damaged metadata or shards met with one message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import run_bench

FILE_DATASETS = '''
from pathlib import Path

import torch
from PIL import ImageOps

import bench
from bench import BackboneInfo, DatasetInfo, ImageItem, LayerInfo


class Files(bench.Dataset):
    """sketch/<label>/<n>.png and photo/<label>/<n>.png under the root, read plainly."""

    task = "zs-sbir"

    def __init__(self, root):
        self.root = Path(root)

    def split(self, name):
        if name == "train":
            return []
        modality = "sketch" if name == "query" else "photo"
        return [ImageItem(f"{modality}/{path.parent.name}/{path.stem}", modality, path.parent.name, path=path)
                for path in sorted((self.root / modality).glob("*/*.png"))]

    def load_image(self, item):
        return self.transform(bench.load_rgb(item.path))

    def transform(self, image):
        return image


class InvertedFiles(Files):
    """The same files, inverted: the backbone sees other pixels."""

    def transform(self, image):
        return ImageOps.invert(image)


class Grid(bench.ImageEncoderBase):
    def features(self, pixels, taps):
        return {"grid": torch.nn.functional.adaptive_avg_pool2d(pixels, 2).flatten(1)}


@bench.hookimpl
def register_datasets(register):
    for name, target in (("files-plain", Files), ("files-inverted", InvertedFiles)):
        register(DatasetInfo(id=name, target=target, task="zs-sbir", description="", columns=()))


@bench.hookimpl
def register_backbones(register):
    register(BackboneInfo(id="grid", target=Grid, description="", weights="none", image_size=16,
                          layers=(LayerInfo("grid", 12, 0),), default_layer="grid"))
'''


def write_plugin(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return path


def write_image_files(root: Path) -> None:
    """Three classes of random 16 px images (noise: retrieval is imperfect), 2 sketches and 4 photos each."""
    rng = np.random.default_rng(0)
    for label in ("a", "b", "c"):
        for modality, count in (("sketch", 2), ("photo", 4)):
            (root / modality / label).mkdir(parents=True, exist_ok=True)
            for n in range(count):
                pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / modality / label / f"{n}.png")


def bench_run(*args: str) -> dict:
    result = run_bench("run", "--json", *args)
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(result.stdout)
    return run


# -- 1. rows are keyed by the pixels the backbone sees -----------------------------------------------


def test_a_dataset_that_transforms_its_files_is_not_served_the_plain_files_descriptors(tmp_path):
    plugin = write_plugin(tmp_path, "files", FILE_DATASETS)
    root = tmp_path / "images"
    write_image_files(root)

    def run(dataset: str, cache: str, out: str) -> dict:
        return bench_run("--plugin", str(plugin), "--backbone", "grid", "--dataset", dataset,
                         "--data-root", str(root), "--cache-dir", str(tmp_path / cache),
                         "--output-dir", str(tmp_path / out))  # fmt: skip

    plain = run("files-plain", "cache", "plain")
    inverted = run("files-inverted", "cache", "inverted")
    fresh = run("files-inverted", "fresh-cache", "fresh")
    assert fresh["metrics"] != plain["metrics"]  # inverting changes what the backbone computes
    assert inverted["runtime"]["cache_hits"] == 0
    assert inverted["metrics"] == fresh["metrics"]
    again = run("files-inverted", "cache", "again")  # its own rows are reused
    assert again["runtime"]["cache_hits"] == again["runtime"]["images"]
    assert again["metrics"] == fresh["metrics"]
