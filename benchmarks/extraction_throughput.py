"""Extraction throughput over the backbone families: images per second and peak memory.

Each configuration runs in a process of its own (so its peak memory is its own), loads its backbone
as ``bench run`` does (``bench.load_backbone``) and extracts descriptors of generated photos through
the same loop (``bench.descriptors``: batches, noise draws, pooling), after one warm-up batch. Two
kinds of rows:

* the tiny twins that run offline in the tests (every family: SD UNet, diffusion transformers,
  CleanDIFT, timm and open_clip ViTs, ConvNeXt), and the real DINOv2 ViT-S/14 of the
  ``offline-weights`` extra;
* real-shaped models with random weights (the architectures people use, at a small resolution),
  one per family where the library builds it offline: DINOv3 ViT-S/16 (timm), SigLIP 2 ViT-B/16
  (open_clip), sd-mini (the trained SD-structured model) at 128 px.

Run:  python benchmarks/extraction_throughput.py [--images 32] [--batch-size 8] [--device cpu]
      python benchmarks/extraction_throughput.py --device cuda --dtype bf16 --real-sizes   # on a GPU

Prints a markdown table; timings are wall-clock on this machine (compare rows of one run only).
On CUDA, peak memory is ``torch.cuda.max_memory_allocated``; on the CPU it is the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Config:
    """One row: a backbone id, its weights and what to extract (t only for diffusion backbones)."""

    label: str
    backbone: str
    weights: str | None = None
    image_size: int | None = None
    t: int | None = None
    noise_samples: int = 1


TINY = [
    Config("sd-tiny (SD UNet, random)", "sd-tiny", t=200, noise_samples=2),
    Config("sd3-tiny (SD3 DiT, random)", "sd3-tiny", t=200, noise_samples=2),
    Config("flux-tiny (FLUX DiT, random)", "flux-tiny", t=200, noise_samples=2),
    Config("cleandift-tiny (noise-free UNet, random)", "cleandift-tiny"),
    Config("vit-tiny (timm ViT, random)", "vit-tiny"),
    Config("clip-tiny (open_clip ViT, random)", "clip-tiny"),
    Config("tiny-dinov3 (timm DINOv3, random)", "tiny-dinov3"),
    Config("tiny-dinov3-convnext (timm ConvNeXt, random)", "tiny-dinov3-convnext"),
    Config("tiny-siglip2 (open_clip SigLIP 2, random)", "tiny-siglip2"),
    Config("tiny-pe-core (open_clip PE-Core, random)", "tiny-pe-core"),
    Config("sd-mini (trained, shipped) at 64 px", "sd-mini", t=200, noise_samples=2),
    Config("dinov2-vits14-imgfocus (real weights) at 224 px", "dinov2-vits14-imgfocus"),
]
REAL_SHAPED = [
    Config(
        "DINOv3 ViT-S/16 (timm, random) at 112 px", "timm:vit_small_patch16_dinov3.lvd1689m", "random", 112
    ),
    Config(
        "SigLIP 2 ViT-B/16 (open_clip, random) at 112 px", "open_clip:ViT-B-16-SigLIP2/webli", "random", 112
    ),
    Config("sd-mini at 128 px", "sd-mini", image_size=128, t=200, noise_samples=2),
]


def measure(config: Config, images: int, batch_size: int, device: str, dtype: str) -> dict:
    """Images/s and peak memory of one configuration (in this process)."""
    import numpy as np
    import torch
    from PIL import Image

    import bench

    backbone = bench.load_backbone(
        config.backbone, weights=config.weights, image_size=config.image_size, device=device, dtype=dtype
    )
    rng = np.random.default_rng(0)
    size = backbone.model.image_size  # the model's input resolution (images are resized to it anyway)
    pictures = [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(images)]
    options = {"t": config.t, "noise_samples": config.noise_samples, "batch_size": batch_size}
    bench.descriptors(backbone, pictures[:batch_size], **options)  # warm-up: kernels, allocator
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    out = bench.descriptors(backbone, pictures, **options)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    seconds = time.perf_counter() - started
    return {
        **asdict(config),
        "images_per_second": images / seconds,
        "peak_memory_mib": peak,
        "descriptor_dim": int(out.shape[1]),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--real-sizes", action="store_true", help="real-shaped rows at the models' own size")
    parser.add_argument("--only", help="one configuration label substring (as a child process)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        config = Config(**json.loads(args.child))
        print(json.dumps(measure(config, args.images, args.batch_size, args.device, args.dtype)))
        return
    configs = TINY + [
        Config(c.label.split(" at ")[0], c.backbone, c.weights, None, c.t, c.noise_samples)
        if args.real_sizes
        else c
        for c in REAL_SHAPED
    ]
    if args.only:
        configs = [c for c in configs if args.only in c.label]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
    }
    print(
        f"| configuration | images/s | peak memory (MiB) | descriptor dim |  ({args.device}, {args.dtype},"
        f" {args.images} images, batch {args.batch_size})"
    )
    print("|---|---:|---:|---:|")
    for config in configs:
        child = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(asdict(config)), "--images", str(args.images),
             "--batch-size", str(args.batch_size), "--device", args.device, "--dtype", args.dtype],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        if child.returncode != 0:
            reason = (child.stderr.strip().splitlines() or ["failed"])[-1]
            print(f"| {config.label} | failed: {reason[:120]} | | |")
            continue
        row = json.loads(child.stdout.strip().splitlines()[-1])
        speed, memory = row["images_per_second"], row["peak_memory_mib"]
        print(f"| {config.label} | {speed:.1f} | {memory:.0f} | {row['descriptor_dim']} |")


if __name__ == "__main__":
    main()
