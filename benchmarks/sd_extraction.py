"""Stable Diffusion extraction speed: sbir-bench's extractor vs a DIFT-style baseline, and bf16 vs fp32.

(a) A 4-layer x 5-timestep sweep over the same images with a mid-size SD-1.5-shaped model (random
    weights, real block structure): sbir-bench encodes each image once and runs one UNet pass per
    timestep that stops after the deepest requested block; the baseline, written here, does what a
    straightforward script does per (layer, t): VAE encode, add noise, full UNet pass with a hook.
    Both produce the same descriptors (checked). Each side runs in its own process so its peak
    memory (max RSS) is its own.
(b) The same extractor in bf16 vs fp32: speed and descriptor cosine.

Run:  python benchmarks/sd_extraction.py [--images 8] [--size 256] [--noise-samples 2]
Prints ratios; timings are wall-clock on this machine, so compare only within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

LAYERS = ("up0", "up1", "up2", "up3")
TIMESTEPS = (50, 150, 273, 400, 600)
SEED = 0


def mid_size_model(dtype_name: str, size: int):
    """An SD-1.5-shaped model at 40% width: real block structure, 2 layers per block, random weights."""
    import torch
    from bench_sd import backbone_info
    from bench_sd.architecture import VARIANTS, miniature
    from bench_sd.loaders import random_model

    variant = miniature(VARIANTS["sd15"], shrink=4)  # 80/160/320/320 channels
    variant.unet["layers_per_block"] = 2
    vae = {
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 4,
        "block_out_channels": (64, 128, 256, 256),
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "layers_per_block": 2,
        "norm_num_groups": 32,
    }
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    model = random_model(variant, image_size=size, device=torch.device("cpu"), dtype=dtype, vae_config=vae)
    model.info = backbone_info(variant)  # the layer table resolve_layer reads
    return model


def images(count: int, size: int):
    from bench_datasets.synthetic import SyntheticCategory

    dataset = SyntheticCategory(num_unseen=2, photos_per_class=max(1, count // 2), image_size=size)
    items = dataset.split("gallery")[:count]
    return dataset, items


def ours(model, dataset, items, noise_samples: int, batch: int):
    """sbir-bench's extractor: one call reads every (layer, t) of the sweep."""
    from bench import PromptCondition
    from bench.extraction.loop import ExtractionRequest, extract_descriptors
    from bench.plan.layers import resolve_layer
    from bench.registry.tables import Registry

    plans = tuple(resolve_layer(layer, model.info, Registry().layer_selectors) for layer in LAYERS)
    request = ExtractionRequest(plans, TIMESTEPS, noise_samples, SEED, PromptCondition(), batch)
    return extract_descriptors(model, dataset, items, request, workers=0).descriptors


def baseline(model, dataset, items, noise_samples: int, batch: int):
    """Per (layer, t): VAE encode, add noise, FULL UNet pass with a forward hook on the layer, pool."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from bench_sd.architecture import SD_SCHEDULE
    from diffusers import DDPMScheduler

    from bench.extraction.loop import image_digest, noise_seed

    scheduler = DDPMScheduler(**SD_SCHEDULE)
    context = model.encode_text("").hidden_states
    pictures = [dataset.load_image(item) for item in items]
    out = {}
    with torch.inference_mode():
        for t in TIMESTEPS:
            for layer in LAYERS:
                block = model.unet.up_blocks[int(layer[2:])]
                rows = []
                for start in range(0, len(pictures), batch):
                    chunk = pictures[start : start + batch]
                    latents = model.vae.encode(model.preprocess(chunk).to(model.dtype)).latent_dist.mean
                    latents = latents * model.vae.config.scaling_factor
                    noise = torch.stack(
                        [
                            torch.randn(
                                (noise_samples, *latents.shape[1:]),
                                generator=torch.Generator().manual_seed(noise_seed(SEED, image_digest(im))),
                            )
                            for im in chunk
                        ]
                    ).to(model.dtype)
                    clean = latents[:, None].expand_as(noise).reshape(-1, *latents.shape[1:])
                    noisy = scheduler.add_noise(clean, noise.reshape(clean.shape), torch.tensor([t]))
                    captured: list[torch.Tensor] = []
                    handle = block.register_forward_hook(lambda m, a, o, into=captured: into.append(o))
                    model.unet(noisy, t, encoder_hidden_states=context.expand(len(noisy), -1, -1))
                    handle.remove()
                    pooled = F.normalize(captured[0].float().mean(dim=(-2, -1)), dim=-1)
                    rows.append(pooled.reshape(len(chunk), noise_samples, -1).mean(dim=1))
                out[(t, layer)] = torch.cat(rows).numpy().astype(np.float32)
    return out


def component_seconds(model, dataset, items, noise_samples: int, batch: int) -> dict[str, float]:
    """Wall time of the two costs a sweep is made of, over all ``items``: one VAE encode, and one
    full-depth UNet pass (every up block) over N noise draws per image."""
    import torch

    from bench import DenoiserInputs

    pictures = [dataset.load_image(item) for item in items]
    empty = model.encode_text("")
    encode = unet = 0.0
    with torch.inference_mode():
        for start in range(0, len(pictures), batch):
            pixels = model.preprocess(pictures[start : start + batch])
            started = time.perf_counter()
            latents = model.encode_image(pixels)
            encode += time.perf_counter() - started
            noisy = latents.repeat_interleave(noise_samples, dim=0)
            inputs = DenoiserInputs(noisy, TIMESTEPS[0], empty.batched(len(latents), noise_samples))
            started = time.perf_counter()
            model.read_taps(inputs, LAYERS, len(latents))
            unet += time.perf_counter() - started
    return {"encode_seconds": encode, "unet_pass_seconds": unet}


def child(args) -> None:
    """One measurement in this process; prints a JSON line."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    model = mid_size_model(args.dtype, args.size)
    dataset, items = images(args.images, args.size)
    run = ours if args.mode == "ours" else baseline
    run(model, dataset, items[:2], args.noise_samples, args.batch)  # warm-up
    started = time.perf_counter()
    descriptors = run(model, dataset, items, args.noise_samples, args.batch)
    seconds = time.perf_counter() - started
    np.savez(args.save, **{f"{t}_{layer}": value for (t, layer), value in descriptors.items()})
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    measured = {"mode": args.mode, "dtype": args.dtype, "seconds": seconds, "peak_rss_mb": rss}
    measured.update(component_seconds(model, dataset, items, args.noise_samples, args.batch))
    print(json.dumps(measured))


def measure(mode: str, dtype: str, args, save: str) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--mode",
        mode,
        "--dtype",
        dtype,
        "--save",
        save,
        "--images",
        str(args.images),
        "--size",
        str(args.size),
        "--noise-samples",
        str(args.noise_samples),
        "--batch",
        str(args.batch),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--noise-samples", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="fp32", help=argparse.SUPPRESS)
    parser.add_argument("--save", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    import tempfile

    import numpy as np

    configs = len(LAYERS) * len(TIMESTEPS)
    print(
        f"{args.images} images at {args.size} px, {configs} (layer, t) configurations, "
        f"{args.noise_samples} noise draws, batch {args.batch}, CPU threads: {os.cpu_count()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for mode, dtype in (("baseline", "fp32"), ("ours", "fp32"), ("ours", "bf16")):
            runs[(mode, dtype)] = measure(mode, dtype, args, f"{tmp}/{mode}_{dtype}.npz")
            r = runs[(mode, dtype)]
            rate = args.images * configs / r["seconds"]
            print(
                f"  {mode:8s} {dtype}: {r['seconds']:7.1f} s  {rate:6.2f} image-configs/s  "
                f"peak RSS {r['peak_rss_mb']:.0f} MB"
            )
        base, fast, half = (
            np.load(f"{tmp}/{name}.npz") for name in ("baseline_fp32", "ours_fp32", "ours_bf16")
        )
        diff = max(float(np.abs(base[k] - fast[k]).max()) for k in base.files)
        cosine = min(
            float(
                (
                    (half[k] * fast[k]).sum(1)
                    / np.linalg.norm(half[k], axis=1)
                    / np.linalg.norm(fast[k], axis=1)
                ).min()
            )
            for k in fast.files
        )
    ratio = runs[("baseline", "fp32")]["seconds"] / runs[("ours", "fp32")]["seconds"]
    speedup = runs[("ours", "fp32")]["seconds"] / runs[("ours", "bf16")]["seconds"]
    print(
        f"(a) sbir-bench vs DIFT-style baseline: {ratio:.1f}x faster; max |descriptor difference| {diff:.2e}"
    )
    timed = runs[("ours", "fp32")]
    encode, unet = timed["encode_seconds"], timed["unet_pass_seconds"]
    ceiling = configs * (encode + unet) / (encode + len(TIMESTEPS) * unet)
    print(
        f"    arithmetic ceiling {ceiling:.1f}x = {configs} x (encode + pass) / (encode + {len(TIMESTEPS)} "
        f"passes), from one VAE encode ({encode:.2f} s) and one full-depth UNet pass ({unet:.2f} s) "
        f"of all images, timed separately; ours runs at {ratio / ceiling:.0%} of it"
    )
    print(f"(b) bf16 vs fp32: {speedup:.2f}x faster; min descriptor cosine {cosine:.4f}")


if __name__ == "__main__":
    main()
