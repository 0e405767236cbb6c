"""Issue 22's cache and extraction items: nothing silently wrong (rows keyed by the pixels a dataset
returns, non-finite features refused where they arise), nothing lost (quarantined shards kept whole),
nothing deleted that the cache did not write, and damaged metadata or shards met with one message."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.extraction.cache import STALE_SECONDS, DescriptorStore, remove_stale_files
from tests.helpers.cli import run_bench

FILE_DATASETS = '''
from pathlib import Path

import torch
from PIL import ImageOps

import bench
from bench import BackboneInfo, DatasetInfo, ImageItem, TapInfo


class Files(bench.Dataset):
    """sketch/<label>/<n>.png and photo/<label>/<n>.png under the root, read plainly."""

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
                          layers=(TapInfo("grid", 12, 0),), default_layer="grid"))
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_stores_of_the_previous_row_keys_are_marked_outdated_by_cache_info(tmp_path):
    store = DescriptorStore(tmp_path / "v1" / ("a" * 24), 4, "fp16")
    store.put([bytes(16)], np.ones((1, 4), dtype=np.float32))
    meta = {"backbone": "grid", "dim": 4, "storage": "fp16", "extractor_version": 1}
    (store.directory / "meta.json").write_text(json.dumps(meta))
    info = run_bench("cache", "info", "--cache-dir", str(tmp_path), subprocess=True)  # wide table
    assert info.returncode == 0 and "outdated (extractor version 1, not read)" in info.stdout


def cached_run(tmp_path: Path, cache: Path, out: str = "out") -> dict:
    """A quick run of the tiny ``grid`` encoder on the synthetic dataset into ``cache``."""
    plugin = write_plugin(tmp_path, "files", FILE_DATASETS)
    return bench_run("--plugin", str(plugin), "--backbone", "grid", "--dataset", "synthetic",
                     "--cache-dir", str(cache), "--output-dir", str(tmp_path / out))  # fmt: skip


def files_under(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


# -- 8. `bench cache clear` deletes what the cache wrote, nothing else ---------------------------------


def test_cache_clear_refuses_a_folder_that_is_not_a_cache(tmp_path):
    (tmp_path / "v1" / "photos").mkdir(parents=True)
    (tmp_path / "v1" / "photos" / "holiday.jpg").write_bytes(b"jpeg")
    (tmp_path / "v1" / "notes.txt").write_text("mine")
    before = files_under(tmp_path)
    result = run_bench("cache", "clear", "--yes", "--cache-dir", str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is not a feature cache" in result.stderr and "Nothing was deleted" in result.stderr
    assert files_under(tmp_path) == before


@pytest.mark.slow
def test_cache_clear_never_follows_a_v1_link(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    cached_run(tmp_path, elsewhere)  # a real cache: what a link could lead clear into
    before = files_under(elsewhere)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "v1").symlink_to(elsewhere / "v1")
    result = run_bench("cache", "clear", "--yes", "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is a link to" in result.stderr and "Nothing was deleted" in result.stderr
    assert files_under(elsewhere) == before and (tmp_path / "cache" / "v1").is_symlink()


@pytest.mark.slow
def test_cache_clear_deletes_only_the_files_the_cache_wrote(tmp_path):
    cache = tmp_path / "cache"
    cached_run(tmp_path, cache)
    store = next(path.parent for path in cache.glob("v1/*/meta.json"))
    outside = tmp_path / "precious.npy"
    outside.write_bytes(b"not the cache's")
    (cache / "v1" / "notes.txt").write_text("mine")
    (store / "my-analysis.csv").write_text("mine too")
    (store / ("0" * 24 + ".keys.npy")).symlink_to(outside)  # a shard's name, but a link
    result = run_bench("cache", "clear", "--yes", "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    assert "Cleared" in result.stdout and "Left in place 3 entries the cache did not write" in result.stderr
    assert files_under(cache) == {
        "v1",
        "v1/notes.txt",
        f"v1/{store.name}",
        f"v1/{store.name}/my-analysis.csv",
        f"v1/{store.name}/{'0' * 24}.keys.npy",
    }
    assert outside.read_bytes() == b"not the cache's"


# -- 12. damaged metadata and zip-shaped shards: one message each, never a traceback -------------------


@pytest.mark.slow
def test_a_meta_json_that_is_not_an_object_is_named_and_rewritten_by_the_next_run(tmp_path):
    cache = tmp_path / "cache"
    first = cached_run(tmp_path, cache, "first")
    (meta_path,) = cache.glob("v1/*/meta.json")
    shards = files_under(meta_path.parent)
    meta_path.write_text("[1, 2]")
    info = run_bench("cache", "info", "--cache-dir", str(cache), subprocess=True)  # wide table
    assert info.returncode == 0 and "Traceback" not in info.stderr, info.stderr
    assert "meta.json is unusable: it is a JSON list, not an object" in info.stdout
    verify = run_bench("cache", "verify", "--cache-dir", str(cache))
    assert verify.returncode == 1 and "Traceback" not in verify.stderr
    assert "1 store(s) have no usable metadata" in verify.stderr and "JSON list" in verify.stdout
    assert files_under(meta_path.parent) == shards  # neither command moved a shard
    again = cached_run(tmp_path, cache, "again")
    assert again["runtime"]["cache_hits"] == again["runtime"]["images"]
    assert again["metrics"] == first["metrics"]
    assert json.loads(meta_path.read_text())["backbone"] == "grid"
    assert run_bench("cache", "verify", "--cache-dir", str(cache)).returncode == 0


@pytest.mark.slow
def test_a_shard_whose_bytes_are_a_zip_is_quarantined_and_recomputed(tmp_path):
    cache = tmp_path / "cache"
    first = cached_run(tmp_path, cache, "first")
    values_path = next(cache.glob("v1/*/*.values.npy"))
    with open(values_path, "wb") as handle:
        np.savez(handle, values=np.zeros(3))
    verify = run_bench("cache", "verify", "--cache-dir", str(cache))
    assert verify.returncode == 1 and "Traceback" not in verify.stderr
    assert "1 of 1 cache shard(s) are damaged" in verify.stderr and ".npz archive" in verify.stdout
    result = run_bench("run", "--json", "--plugin", str(tmp_path / "files.py"), "--backbone", "grid",
                       "--dataset", "synthetic", "--cache-dir", str(cache),
                       "--output-dir", str(tmp_path / "again"))  # fmt: skip
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "it is a .npz archive, not a .npy file; moved aside, its rows are recomputed" in result.stderr
    (again,) = json.loads(result.stdout)
    assert again["runtime"]["cache_hits"] == 0 and again["metrics"] == first["metrics"]
    assert run_bench("cache", "verify", "--cache-dir", str(cache)).returncode == 0


# -- 17. a quarantined shard's files are one unit ------------------------------------------------------


def make_old(*paths: Path) -> None:
    past = time.time() - STALE_SECONDS - 60
    for path in paths:
        os.utime(path, (past, past))


def test_a_quarantined_shard_keeps_both_files_together_past_the_stale_age(tmp_path):
    store = DescriptorStore(tmp_path, 4, "fp32")
    store.put([bytes(16), bytes([1]) * 16], np.ones((2, 4), dtype=np.float32))
    (keys_path,) = store.shards()
    keys_path.write_bytes(keys_path.read_bytes()[:-8])  # truncated
    store.load_index()
    quarantined = sorted(tmp_path.glob(".bad-*"))
    assert [path.name.split("-")[1] for path in quarantined] == [quarantined[0].name.split("-")[1]] * 2
    make_old(*quarantined)
    remove_stale_files(tmp_path)
    assert sorted(tmp_path.glob(".bad-*")) == quarantined


def test_a_quarantine_cut_short_between_its_two_renames_is_completed_not_split(tmp_path):
    store = DescriptorStore(tmp_path, 4, "fp32")
    store.put([bytes(16)], np.ones((1, 4), dtype=np.float32))
    (keys_path,) = store.shards()
    values_path = keys_path.with_name(keys_path.name.replace(".keys", ".values"))
    keys_path.rename(tmp_path / f".bad-0123abcd-{keys_path.name}")  # killed before the values moved
    make_old(values_path)
    remove_stale_files(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f".bad-0123abcd-{keys_path.name}",
        f".bad-0123abcd-{values_path.name}",
    ]


# -- 7. non-finite values are refused where they arise, and never cached -----------------------------

NON_FINITE = '''
import torch

import bench
from bench import BackboneInfo, TapInfo, PromptCondition, PromptScheme


class NanOdd(bench.ImageEncoderBase):
    """NaN features for every second image of a batch."""

    def features(self, pixels, taps):
        out = pixels.mean(dim=(2, 3))
        out[1::2] = float("nan")
        return {"v": out}


class NanWeights(bench.ImageEncoderBase):
    """A linear head whose weights are NaN (a damaged checkpoint)."""

    def __init__(self, info, **kwargs):
        super().__init__(info, **kwargs)
        self.head = torch.nn.Linear(3, 3)
        torch.nn.init.constant_(self.head.weight, float("nan"))

    def features(self, pixels, taps):
        return {"v": self.head(pixels.mean(dim=(2, 3)))}


class NanPixels(bench.ImageEncoderBase):
    """A preprocess that divides by zero."""

    def preprocess(self, images):
        return super().preprocess(images) / 0.0

    def features(self, pixels, taps):
        return {"v": pixels.mean(dim=(2, 3))}


class Huge(bench.ImageEncoderBase):
    """Finite features too large for GeM's cube."""

    def features(self, pixels, taps):
        return {"map": torch.full((pixels.shape[0], 3, 2, 2), 1e20)}


def nan_visual(argument):
    return PromptCondition(visual={"sketch": torch.full((3, 16, 16), float("nan")),
                                   "photo": torch.zeros(3, 16, 16)})


@bench.hookimpl
def register_backbones(register):
    for name, target in (("nan-odd", NanOdd), ("nan-weights", NanWeights), ("nan-pixels", NanPixels)):
        register(BackboneInfo(id=name, target=target, description="", weights="none", image_size=16,
                              layers=(TapInfo("v", 3, 0),), default_layer="v"))
    register(BackboneInfo(id="huge", target=Huge, description="", weights="none", image_size=16,
                          layers=(TapInfo("map", 3, 8),), default_layer="map"))


@bench.hookimpl
def register_prompt_schemes(register):
    register(PromptScheme(id="nan-visual", description="", build=nan_visual))
'''


def first_queries(count: int) -> list[str]:
    import bench

    return [item.key for item in bench.open_dataset("synthetic").split("query")[:count]]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backbone", "options", "phrases"),
    [
        ("nan-odd", [], ["Backbone 'nan-odd' (plugin 'file:non_finite') gave non-finite features",
                         "(NaN or inf) at tap 'v' for 2 of 4 images in the batch ({1}, {3})"]),
        ("nan-weights", [], ["Backbone 'nan-weights'", "at tap 'v' for 4 of 4 images in the batch "
                             "({0}, {1}, {2} and 1 more)", "NaN weights"]),
        ("nan-pixels", [], ["Backbone 'nan-pixels' (plugin 'file:non_finite') broke its contract: "
                            "preprocess() returned non-finite pixels (NaN or inf) for 4 of 4 images"]),
        ("huge", ["--pool", "gem"], ["Pooling 'gem' of layer 'map' gave non-finite descriptors from finite "
                                     "features for 4 of 4 images in the batch ({0}, {1}, {2} and 1 more)"]),
        ("nan-odd", ["--prompt", "nan-visual"], ["The run's visual (sketch) prompt holds non-finite values"]),
    ],
)  # fmt: skip
def test_non_finite_values_stop_the_run_where_they_arise_and_nothing_is_cached(
    tmp_path, backbone, options, phrases
):
    plugin = write_plugin(tmp_path, "non_finite", NON_FINITE)
    cache = tmp_path / "cache"
    result = run_bench("run", "--plugin", str(plugin), "--backbone", backbone, "--dataset", "synthetic",
                       "--batch-size", "4", "--cache-dir", str(cache), *options)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    keys = first_queries(4)
    for phrase in phrases:
        assert phrase.format(*keys) in result.stderr, result.stderr
    assert not list(cache.rglob("*.npy"))  # the first batch failed: no row was cached


def test_a_prompt_file_with_nan_is_refused_naming_the_file_and_tensor(tmp_path):
    import torch

    from bench.prompts.files import save_prompt

    plugin = write_plugin(tmp_path, "non_finite", NON_FINITE)
    visual = torch.zeros(3, 16, 16)
    visual[0, 0, 0] = float("nan")
    prompt = save_prompt(
        tmp_path / "diverged.safetensors",
        {"visual.sketch": visual, "visual.photo": torch.zeros(3, 16, 16)},
        {"backbone": "nan-odd", "image_size": 16, "parts": ["visual"]},
    )
    result = run_bench("run", "--plugin", str(plugin), "--backbone", "nan-odd", "--dataset", "synthetic",
                       "--prompt", f"learned:{prompt}", "--cache-dir", str(tmp_path / "cache"))  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "diverged.safetensors" in result.stderr
    assert "tensor 'visual.sketch' holds non-finite values (NaN or inf)" in result.stderr
    assert not list((tmp_path / "cache").rglob("*.npy"))
