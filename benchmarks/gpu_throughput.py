"""GPU extraction throughput: images/s and peak GPU memory with and without the GPU paths of issue 17.

Each configuration runs in its own process (clean CUDA state and precision flags): one warm-up
extraction (cuDNN autotuning, allocator growth), then a timed one over ``--images`` generated
images; it reports images/s, the peak allocated GPU memory of the timed extraction, and the largest
absolute descriptor difference from the first configuration. The toggles switch the GPU paths off
one at a time by patching the extraction loop and the SD plugin in that process:

* ``pin``: batches (and SD noise) in pinned host memory;
* ``non_blocking``: asynchronous host-to-device copies (the SD noise buffer is pinned and sent
  asynchronously only with both ``pin`` and ``non_blocking``);
* ``one_copy``: one device-to-host copy per batch (off: one ``.cpu()`` per (t, layer));
* ``precision``: ``ieee`` (``--dtype fp32``: IEEE matmuls and convolutions), ``torch-default``
  (torch's own flags, cuDNN convolutions in TF32: what ``--dtype fp32`` computed before), ``tf32``
  (``--dtype tf32``), ``bf16`` or ``fp16``.

Presets: ``before`` (all off, torch-default precision: the code before issue 17's GPU paths),
``after`` (all on, ieee), ``after-tf32`` (all on, tf32), ``no-pin``, ``blocking``,
``per-layer-copy`` (``after`` with one path off), ``bf16``.

Run:  python benchmarks/gpu_throughput.py [--backbone sd-tiny] [--image-size 256] [--images 256]
      [--batch-size 16] [--layers up0,up1] [--t 200] [--noise-samples 2]
      [--configs before,after,after-tf32] [--weights ID=LOCATION] [--json OUT.json]
Needs a CUDA GPU (it stops with a message on a machine without one). Timings are wall-clock on the
machine it runs on: compare configurations within one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Config:
    """One measured configuration (see the module docstring for each toggle)."""

    name: str
    pin: bool = True
    non_blocking: bool = True
    one_copy: bool = True
    precision: str = "ieee"


AFTER = Config("after")
PRESETS = {
    "before": Config("before", pin=False, non_blocking=False, one_copy=False, precision="torch-default"),
    "after": AFTER,
    "after-tf32": replace(AFTER, name="after-tf32", precision="tf32"),
    "no-pin": replace(AFTER, name="no-pin", pin=False),
    "blocking": replace(AFTER, name="blocking", non_blocking=False),
    "per-layer-copy": replace(AFTER, name="per-layer-copy", one_copy=False),
    "bf16": replace(AFTER, name="bf16", precision="bf16"),
}
WIDTHS = (5, 7, 8, 15, 10, 10, 12)  # the table's columns after the name
DTYPE_OF = {"ieee": "fp32", "torch-default": "fp32", "tf32": "tf32", "bf16": "bf16", "fp16": "fp16"}


def require_cuda() -> None:
    """Stop with a clear message unless torch sees a CUDA GPU."""
    import torch

    if not torch.cuda.is_available():
        built = torch.version.cuda or "no CUDA"
        sys.exit(
            "gpu_throughput.py measures GPU extraction and needs a CUDA GPU, but torch.cuda.is_available() "
            f"is False here (torch {torch.__version__}, built with {built}). Run it on a machine with a GPU."
        )


def _blocking_to_device(tensor, device, dtype=None):
    """The loop's host-to-device copy, synchronous (``non_blocking`` off)."""
    moved = tensor.to(device=device)
    return moved if dtype is None else moved.to(dtype)


def _per_key_to_host(rows):
    """The descriptors' copy to the host as before: one ``.cpu()`` (one sync) per (t, layer)."""
    return {key: value.cpu().numpy() for key, value in rows.items()}


def apply_toggles(config: Config) -> None:
    """Switch off, in this process, the GPU paths ``config`` turns off."""
    from bench_sd.features import StableDiffusionFeatures

    from bench.extraction import loop

    if not config.pin:
        loop.pinned_for = lambda tensor, device: tensor
    if not config.non_blocking:
        loop.to_device = _blocking_to_device
    if not (config.pin and config.non_blocking):
        StableDiffusionFeatures._cuda = property(lambda self: False)  # unpinned, synchronous noise
    if not config.one_copy:
        loop.to_host = _per_key_to_host


def apply_precision(config: Config) -> None:
    """Put torch's float32 flags back to its defaults for ``torch-default`` (resolve_dtype set them)."""
    import torch

    if config.precision == "torch-default":
        torch.backends.cuda.matmul.fp32_precision = "none"
        torch.backends.cudnn.conv.fp32_precision = "tf32"


class InMemoryImages:
    """The images of ``items`` decoded once and held in memory (the loader's ``load_image`` then
    costs no drawing or decoding, so the measurement is of the model and the transfers)."""

    def __init__(self, dataset, items) -> None:
        self.images = {item.key: dataset.load_image(item) for item in items}

    def load_image(self, item):
        return self.images[item.key].copy()


def measure(config: Config, args: argparse.Namespace, out_file: str) -> dict:
    """Images/s and peak GPU memory (MiB) of one timed extraction; descriptors saved to ``out_file``."""
    import torch
    from bench_datasets.synthetic import SyntheticCategory

    import bench
    from bench import PromptCondition
    from bench.extraction.loop import ExtractionRequest, extract_descriptors
    from bench.plan.layers import resolve_layer

    apply_toggles(config)
    registry = bench.plugin_registry()
    weights = dict(item.split("=", 1) for item in args.weights).get(args.backbone)
    model = bench.load_backbone(
        args.backbone,
        weights=weights,
        image_size=args.image_size,
        device="cuda",
        dtype=DTYPE_OF[config.precision],
        registry=registry,
    )
    apply_precision(config)
    info = registry.backbones.get(args.backbone)
    plans = tuple(resolve_layer(layer, info, registry.layer_selectors) for layer in args.layers.split(","))
    timesteps = (args.t,) if model.is_diffusion else (None,)
    request = ExtractionRequest(plans, timesteps, args.noise_samples, 0, PromptCondition(), args.batch_size)
    per_class = -(-args.images // 8)  # synthetic's gallery: 8 unseen classes x per_class photos
    dataset = SyntheticCategory(num_unseen=8, photos_per_class=per_class, image_size=args.image_size)
    items = dataset.split("gallery")[: args.images]
    dataset = InMemoryImages(dataset, items)

    def extract():
        return extract_descriptors(model, dataset, items, request, workers=args.workers).descriptors

    extract()  # warm-up: cuDNN autotuning, allocator growth, pinned-memory pool
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    descriptors = extract()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    np.savez(out_file, **{f"{t}/{name}": values for (t, name), values in descriptors.items()})
    return {
        **asdict(config),
        "images": len(items),
        "seconds": round(seconds, 3),
        "images_per_s": round(len(items) / seconds, 2),
        "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
        "gpu": torch.cuda.get_device_name(),
    }


def max_difference(reference: str, other: str) -> float:
    """The largest absolute difference between two saved descriptor sets."""
    first, second = np.load(reference), np.load(other)
    return max(float(np.abs(first[key] - second[key]).max()) for key in first.files)


def run_all(args: argparse.Namespace) -> list[dict]:
    """Every configuration of ``--configs`` in its own process, then the differences to the first."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        files = []
        for name in args.configs.split(","):
            out_file = os.path.join(scratch, f"{name}.npz")
            command = [sys.executable, __file__, *sys.argv[1:], "--one", name, "--descriptors", out_file]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"configuration {name!r} failed:\n{result.stderr[-4000:]}")
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
            files.append(out_file)
        for row, out_file in zip(rows, files, strict=True):
            row["max_abs_diff_vs_first"] = max_difference(files[0], out_file)
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"GPU: {rows[0]['gpu']}; {rows[0]['images']} images; differences are to {rows[0]['name']!r}")
    header = ("config", "pin", "async", "1 copy", "precision", "img/s", "peak MiB", "max |diff|")
    print(f"{header[0]:<16}" + "".join(f"{h:>{w}}" for h, w in zip(header[1:], WIDTHS, strict=True)))
    for row in rows:
        flags = ["yes" if row[key] else "no" for key in ("pin", "non_blocking", "one_copy")]
        numbers = (f"{row['images_per_s']:.2f}", f"{row['peak_gpu_mib']:.1f}")
        cells = (*flags, row["precision"], *numbers, f"{row['max_abs_diff_vs_first']:.2e}")
        print(f"{row['name']:<16}" + "".join(f"{c:>{w}}" for c, w in zip(cells, WIDTHS, strict=True)))
    first = rows[0]["images_per_s"]
    for row in rows[1:]:
        print(f"{row['name']}: {row['images_per_s'] / first:.2f}x the images/s of {rows[0]['name']}")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default="sd-tiny")
    parser.add_argument("--weights", action="append", default=[], metavar="ID=LOCATION")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--layers", default="up0,up1", help="comma-separated (e.g. up0,up1; block-1)")
    parser.add_argument("--t", type=int, default=200)
    parser.add_argument("--noise-samples", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="image-reading threads")
    parser.add_argument("--configs", default="before,after,after-tf32", help=f"of {', '.join(PRESETS)}")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one configuration
    parser.add_argument("--descriptors", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [name for name in args.configs.split(",") if name not in PRESETS]
    if unknown:
        parser.error(f"unknown configuration {unknown[0]!r}; choose from {', '.join(PRESETS)}")
    return args


def main(argv: list[str]) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = parse(argv)
    require_cuda()
    if args.one:
        print(json.dumps(measure(PRESETS[args.one], args, args.descriptors)))
        return
    rows = run_all(args)
    print_table(rows)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
