"""ViT tap extraction speed: one pass for every tap vs one pass per tap, and early exit vs a full pass.

On a DINOv2 ViT-S/14 at 224 px (random weights, the architecture of ``dinov2-vits14-imgfocus``):

(a) A 4-layer sweep (``block3``, ``block7``, ``block-1.cls``, ``embed``): sbir-bench reads every
    tap from one forward pass; the baseline, written here, does what a straightforward script
    does per layer: a full ``forward_intermediates`` pass that keeps that one block. Both give the
    same descriptors (checked).
(b) Reading only ``block3`` (the pass stops after block 4 of 12) vs a full forward pass.

Run:  python benchmarks/timm_vit_taps.py [--images 16] [--repeats 3]
Prints ratios; timings are wall-clock on this machine, so compare only within one run.
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_timm.features import TimmViTFeatures, normalization_of

from bench.api.vit_layers import tap_position
from bench.extraction.pooling import descriptor

LAYERS = ("block3", "block7", "block-1.cls", "embed")


def model() -> TimmViTFeatures:
    import timm

    torch.manual_seed(0)
    vit = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=224, num_classes=0)
    return TimmViTFeatures(
        model=vit,
        depth=12,
        normalization=normalization_of(vit),
        image_size=224,
        weights="random",
        device=torch.device("cpu"),
        dtype=torch.float32,
    )


def one_pass(features: TimmViTFeatures, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
    taps = features.features(pixels, LAYERS)
    return {tap: descriptor([value[:, None]], "gap") for tap, value in taps.items()}


def pass_per_layer(features: TimmViTFeatures, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
    out = {}
    for tap in LAYERS:
        position = tap_position(tap, features.depth)
        result = features.model.forward_intermediates(
            pixels, indices=[position.block or 0], return_prefix_tokens=True, output_dict=True
        )
        if position.token == "embed":
            value = features.model.forward_head(result["image_features"], pre_logits=True)
        elif position.token == "cls":
            value = result["image_intermediates_prefix"][0][:, 0]
        else:
            value = result["image_intermediates"][0]
        out[tap] = descriptor([value[:, None]], "gap")
    return out


def best_of(repeats: int, run) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    features = model()
    pixels = torch.randn(args.images, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        features.features(pixels[:2], ["embed"])  # warm-up
        ours_s, ours = best_of(args.repeats, lambda: one_pass(features, pixels))
        base_s, base = best_of(args.repeats, lambda: pass_per_layer(features, pixels))
        early_s, _ = best_of(args.repeats, lambda: features.features(pixels, ["block3"]))
        full_s, _ = best_of(args.repeats, lambda: features.model.forward_features(pixels))
    worst = max(float((ours[tap] - base[tap]).abs().max()) for tap in LAYERS)
    print(
        f"(a) {len(LAYERS)} layers, {args.images} images: one pass {ours_s:.2f} s, a pass per layer "
        f"{base_s:.2f} s -> {base_s / ours_s:.2f}x faster (largest descriptor difference {worst:.1e})"
    )
    print(f"    {args.images / ours_s:.1f} images/s for the whole sweep")
    print(f"(b) block3 only: {early_s:.2f} s vs full pass {full_s:.2f} s -> {full_s / early_s:.2f}x faster")


if __name__ == "__main__":
    main()
