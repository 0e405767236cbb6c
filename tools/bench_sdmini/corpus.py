"""The training corpus: generated photos and sketches with captions, rendered once into a cache.

Layout of one corpus directory (named by its spec, under ``$SBIR_BENCH_CACHE/sd-mini-corpus`` or
the user cache directory, e.g. ``~/.cache/sbir-bench/sd-mini-corpus``)::

    images.npy      (N, S, S, 3) uint8 RGB, read as a memory map
    captions.json   N captions, "a photo of a red star" / "a sketch of a star"
    spec.json       the CorpusSpec it was rendered from

Items are ordered seed-major, then category, then instance, each instance's photo before its sketch.
A corpus is rendered into a temporary directory and renamed into place when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import platformdirs
from bench_datasets.synthetic import CATEGORIES, photo_caption, render_photo, render_sketch
from PIL import Image
from rich.progress import Progress

from bench_sdmini.recipe import CorpusSpec

CACHE_ENV = "SBIR_BENCH_CACHE"
_PARALLEL_FROM = 2000
"""Corpora of at least this many images are rendered by one process per CPU core."""


@dataclass(frozen=True)
class Item:
    """One corpus image: the photo (``sketch=False``) or sketch 0 of one generated instance."""

    seed: int
    category: int
    instance: int
    sketch: bool


def default_root() -> Path:
    """The toolkit's cache root: ``$SBIR_BENCH_CACHE``, else the user cache directory
    (``~/.cache/sbir-bench``)."""
    base = os.environ.get(CACHE_ENV)
    return Path(base).expanduser() if base else Path(platformdirs.user_cache_dir("sbir-bench"))


def items(spec: CorpusSpec) -> list[Item]:
    """The corpus images in storage order."""
    return [
        Item(seed, category, instance, sketch)
        for seed in spec.seeds
        for category in range(len(CATEGORIES))
        for instance in range(spec.instances)
        for sketch in (False, True)
    ]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(item: Item) -> str:
    """``"a sketch of a star"`` for a sketch, ``"a photo of a red star"`` for a photo."""
    if item.sketch:
        category = CATEGORIES[item.category]
        return f"a sketch of {_article(category)} {category}"
    return f"a photo of {photo_caption(item.seed, item.category, item.instance)}"


def render(item: Item, spec: CorpusSpec) -> np.ndarray:
    """The pixels of one item: (S, S, 3) uint8 RGB, S = ``spec.image_size``."""
    size = spec.render_size
    if item.sketch:
        image = render_sketch(item.seed, item.category, item.instance, 0, size)
    else:
        image = render_photo(item.seed, item.category, item.instance, size)
    if spec.image_size != size:
        image = image.resize((spec.image_size, spec.image_size), Image.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


def _render_job(job: tuple[Item, CorpusSpec]) -> np.ndarray:
    return render(*job)


def _rendered(todo: list[Item], spec: CorpusSpec) -> Iterator[np.ndarray]:
    """Each item's pixels, in order; in a process pool when the corpus is large."""
    jobs = [(item, spec) for item in todo]
    if len(jobs) < _PARALLEL_FROM:
        yield from map(_render_job, jobs)
        return
    with get_context("fork").Pool(os.cpu_count()) as pool:
        yield from pool.imap(_render_job, jobs, chunksize=64)


@dataclass(frozen=True)
class Corpus:
    """A rendered corpus: ``images`` (N, S, S, 3) uint8 memory map and its N ``captions``."""

    directory: Path
    images: np.ndarray
    captions: list[str]

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])


def corpus_dir(spec: CorpusSpec, root: Path) -> Path:
    """Where the corpus of ``spec`` lives under ``root``: a name that hashes the whole spec."""
    text = json.dumps(asdict(spec), sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    count = len(items(spec))
    return root / "sd-mini-corpus" / f"{spec.image_size}px-{count}-{digest}"


def is_cached(spec: CorpusSpec, root: Path) -> bool:
    """Whether the corpus of ``spec`` is already rendered under ``root``."""
    return (corpus_dir(spec, root) / "spec.json").is_file()


def load_or_render(spec: CorpusSpec, root: Path, progress: Progress) -> Corpus:
    """The corpus of ``spec``, rendered first (with a progress bar) if it is not cached under ``root``."""
    directory = corpus_dir(spec, root)
    if not is_cached(spec, root):
        _render_corpus(spec, directory, progress)
    images = np.load(directory / "images.npy", mmap_mode="r")
    captions = json.loads((directory / "captions.json").read_text())
    return Corpus(directory, images, captions)


def _render_corpus(spec: CorpusSpec, directory: Path, progress: Progress) -> None:
    todo = items(spec)
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    size = spec.image_size
    images = np.lib.format.open_memmap(partial / "images.npy", "w+", np.uint8, (len(todo), size, size, 3))
    task = progress.add_task("render corpus", total=len(todo), loss="")
    for index, pixels in enumerate(_rendered(todo, spec)):
        images[index] = pixels
        progress.advance(task)
    images.flush()
    del images
    (partial / "captions.json").write_text(json.dumps([caption(item) for item in todo]))
    (partial / "spec.json").write_text(json.dumps(asdict(spec), indent=1))  # written last: complete
    partial.rename(directory)
