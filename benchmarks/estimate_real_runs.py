"""Estimated GPU cost of real runs: FLOPs counted on this machine, GPU throughput assumed.

For each backbone, one image's forward pass is built from the real architecture's config on torch's
meta device (shapes only: no weights, no memory, no arithmetic) and its FLOPs are counted with
``torch.utils.flop_counter.FlopCounterMode``, running exactly the parts feature extraction runs:

* SD 1.5 (512 px), SDXL (1024 px): the VAE encoder once per image, then per noise draw and timestep
  one UNet pass that stops after the default layer's block (``up1``: ``up2..`` never run).
* FLUX.1-dev (1024 px): the VAE encoder once per image, then per draw and timestep one transformer
  pass over the image tokens and the 512 T5 context tokens that stops after the default tap (``sb9``).
* DINOv2 ViT-S/14 and ViT-B/14 (224 px, the default run's resolution; 518 px, the registered one):
  one full pass per image (``embed``, the final class token).

The text encoders run once per run (the empty prompt's context is cached), so they are left out.
Totals multiply by the test split's images, noise draws and timesteps; GPU minutes divide by an
ASSUMED sustained throughput. Nothing here was run on a GPU.

Run:  python benchmarks/estimate_real_runs.py [--write-docs]
Prints the section of docs/performance.md "Estimated cost of real runs"; --write-docs rewrites it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

HEADING = "## Estimated cost of real runs"
DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
META = torch.device("meta")

# The VAE of SD 1.x/2.x/XL and FLUX.1 as released (their vae/config.json; the project keeps only the
# tiny ones, bench_sd/bench_dit TINY_VAE_CONFIG). FLUX's has 16 latent channels and no quant convs.
RELEASED_SD_VAE: dict = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "block_out_channels": (128, 256, 512, 512),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
}
RELEASED_FLUX_VAE: dict = {
    **RELEASED_SD_VAE,
    "latent_channels": 16,
    "use_quant_conv": False,
    "use_post_quant_conv": False,
}

# Test splits (docs/protocol.md, section 1): sketches + unique photos, each extracted once.
DATASETS: dict[str, tuple[int, int]] = {
    "Sketchy-ext (SAKE)": (15_229, 14_602),
    "TU-Berlin-ext (SAKE)": (2_400, 27_989),
    "QuickDraw-ext (Dey)": (92_291, 54_151),
}

# ASSUMED throughput: a fraction of an H100 SXM's dense peak (NVIDIA's data sheet, no sparsity), TFLOP/s.
H100_PEAK_TFLOPS: dict[str, float] = {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9}
UTILISATION = 0.40
DRAWS = (2, 6)  # the default config's noise_samples; Koley et al.'s (configs/koley2024)
TIMESTEPS = 1


@dataclass(frozen=True)
class PassCost:
    """FLOPs of one image's extraction (FlopCounterMode: 2 per multiply-add of matmuls, convolutions
    and attention; element-wise ops such as norms and activations are not counted).

    Attributes:
        backbone: backbone id and resolution, for the table.
        image_size: input side in pixels.
        once: FLOPs run once per image (VAE encoder; the whole ViT).
        per_draw: FLOPs run per noise draw and timestep (the truncated UNet or transformer; 0 for a ViT).
        runs: what runs, in words.
    """

    backbone: str
    image_size: int
    once: int
    per_draw: int
    runs: str

    def total(self, images: int, draws: int, timesteps: int) -> int:
        """FLOPs of extracting ``images`` images with ``draws`` noise draws at ``timesteps`` timesteps."""
        return images * (self.once + (draws * timesteps * self.per_draw))


def count_flops(call: Callable[[], object]) -> int:
    """FLOPs ``call`` performs, counted by ``FlopCounterMode`` (works on meta tensors)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        call()
    return counter.get_total_flops()


def _vae_encoder_flops(vae_config: dict, image_size: int) -> int:
    from diffusers import AutoencoderKL

    with META:
        vae = AutoencoderKL(**vae_config)
    return count_flops(lambda: vae.encode(torch.empty(1, 3, image_size, image_size, device=META)))


def sd_cost(variant_id: str, image_size: int | None = None, vae_config: dict = RELEASED_SD_VAE) -> PassCost:
    """One image through an SD variant of :mod:`bench_sd.architecture` (default layer, empty prompt's
    context of 77 tokens) at ``image_size`` (default: the variant's own)."""
    from bench_sd.architecture import VARIANTS
    from bench_sd.features import StableDiffusionFeatures
    from diffusers import UNet2DConditionModel

    from bench import DenoiserInputs

    variant = VARIANTS[variant_id]
    size = image_size or variant.image_size
    unet_config = variant.unet
    with META:
        unet = UNet2DConditionModel(**unet_config)
    latent = torch.empty(1, 4, size // 8, size // 8, device=META)
    context = torch.empty(1, 77, unet_config["cross_attention_dim"], device=META)
    added = None
    if variant.dual_text:  # SDXL: pooled text embedding and 6 size/crop time ids
        time_ids = 6 * unet_config["addition_time_embed_dim"]
        pooled = torch.empty(1, unet_config["projection_class_embeddings_input_dim"] - time_ids, device=META)
        added = {"text_embeds": pooled, "time_ids": torch.empty(1, 6, device=META)}
    model = StableDiffusionFeatures(  # no VAE or text encoders: read_taps takes latents and conditioning
        vae=None,
        unet=unet,
        conditioner=torch.nn.Identity(),
        alphas_cumprod=torch.ones(1000),
        image_size=size,
        weights="meta",
        device=META,
        dtype=torch.float32,
    )
    layer = variant.default_layer
    per_draw = count_flops(lambda: model.read_taps(DenoiserInputs(latent, 10, (context, added)), [layer], 1))
    runs = f"VAE encoder; UNet to `{layer}`"
    return PassCost(f"{variant_id} @ {size} px", size, _vae_encoder_flops(vae_config, size), per_draw, runs)


def dit_cost(variant_id: str) -> PassCost:
    """One image through a diffusion transformer of :mod:`bench_dit.architecture` at its resolution,
    to its default tap, with its full text context (T5 tokens) in the stream."""
    from bench_dit.architecture import VARIANTS
    from bench_dit.features import DiffusionTransformerFeatures
    from bench_dit.loaders import transformer_class

    from bench import DenoiserInputs

    variant = VARIANTS[variant_id]
    size = variant.image_size
    with META:
        transformer = transformer_class(variant)(**variant.transformer)
    latents = torch.empty(1, 16, size // 8, size // 8, device=META)
    context = torch.empty(1, variant.context_tokens, variant.transformer["joint_attention_dim"], device=META)
    pooled = torch.empty(1, variant.transformer["pooled_projection_dim"], device=META)
    model = DiffusionTransformerFeatures(  # no VAE or text encoders: read_taps takes latents and conditioning
        variant=variant,
        vae=None,
        transformer=transformer,
        conditioner=torch.nn.Identity(),
        image_size=size,
        weights="meta",
        device=META,
        dtype=torch.float32,
    )
    layer = variant.default_layer
    per_draw = count_flops(
        lambda: model.read_taps(DenoiserInputs(latents, 300, (context, pooled)), [layer], 1)
    )
    runs = f"VAE encoder; transformer to `{layer}` ({variant.context_tokens} text tokens)"
    once = _vae_encoder_flops(RELEASED_FLUX_VAE, size)
    return PassCost(f"{variant_id} @ {size} px", size, once, per_draw, runs)


def vit_cost(backbone_id: str, image_size: int) -> PassCost:
    """One image through a timm ViT of :mod:`bench_timm.architecture` (full pass, no head)."""
    import timm
    from bench_timm.architecture import TIMM_VITS

    (spec,) = [spec for spec in TIMM_VITS if spec.id == backbone_id]
    with META:
        vit = timm.create_model(spec.model_name, pretrained=False, img_size=image_size, num_classes=0)
    once = count_flops(lambda: vit(torch.empty(1, 3, image_size, image_size, device=META)))
    return PassCost(f"{backbone_id} @ {image_size} px", image_size, once, 0, "ViT, full pass")


def backbone_costs() -> list[PassCost]:
    """The counted passes of the table's backbones."""
    return [
        sd_cost("sd15"),
        sd_cost("sdxl"),
        dit_cost("flux1-dev"),
        *(vit_cost(vit, size) for vit in ("dinov2-vits14", "dinov2-vitb14") for size in (224, 518)),
    ]


def gpu_minutes(flops: float, precision: str) -> float:
    """Minutes at the assumed sustained throughput (UTILISATION x the H100 peak of ``precision``)."""
    return flops / (H100_PEAK_TFLOPS[precision] * 1e12 * UTILISATION) / 60


def _cost_table(costs: list[PassCost]) -> list[str]:
    lines = [
        "| backbone | what runs | GFLOP once per image | GFLOP per draw and timestep |",
        "|---|---|---:|---:|",
    ]
    for cost in costs:
        per_draw = f"{cost.per_draw / 1e9:,.1f}" if cost.per_draw else "-"
        lines.append(f"| {cost.backbone} | {cost.runs} | {cost.once / 1e9:,.1f} | {per_draw} |")
    return lines


def _run_table(costs: list[PassCost]) -> list[str]:
    precisions = list(H100_PEAK_TFLOPS)
    minutes = " | ".join(f"GPU min {p}" for p in precisions)
    lines = [
        f"| backbone | dataset | images | draws | PFLOP | {minutes} |",
        "|---|---|---:|---:|---:|" + "---:|" * len(precisions),
    ]
    for cost in costs:
        for dataset, (sketches, photos) in DATASETS.items():
            images = sketches + photos
            for draws in DRAWS if cost.per_draw else (0,):
                flops = cost.total(images, draws, TIMESTEPS)
                times = " | ".join(f"{gpu_minutes(flops, p):,.2f}" for p in precisions)
                shown = draws or "-"
                lines.append(
                    f"| {cost.backbone} | {dataset} | {images:,} | {shown} | {flops / 1e15:,.1f} | {times} |"
                )
    return lines


def section(costs: list[PassCost]) -> str:
    """The docs section (heading included), as printed and as written into docs/performance.md."""
    peaks = ", ".join(f"{p} {tflops} TFLOP/s" for p, tflops in H100_PEAK_TFLOPS.items())
    intro = f"""{HEADING}

**Estimates, not measured on a GPU.** Regenerate with `python benchmarks/estimate_real_runs.py
--write-docs` (without `--write-docs` it prints this section). What is measured: the FLOPs of one
image's extraction, counted by `torch.utils.flop_counter.FlopCounterMode` on this machine over the real
architectures built on the meta device from the project's configs (`bench_sd.architecture`,
`bench_dit.architecture`, timm's DINOv2; the released SD/FLUX VAE configs are written in the script),
running the parts a run runs: the VAE encoder once per image; per noise draw and timestep the UNet up
to the default layer `up1` (SD 1.5, SDXL) or the FLUX.1-dev transformer up to its default tap `sb9`
(with its 512 T5 tokens in the stream); DINOv2 one full pass. The counter counts matmuls, convolutions
and attention (2 FLOPs per multiply-add), not element-wise ops. Left out: the text encoders (they run
once per run, for the empty prompt), data loading, decoding, evaluation.

What is assumed: {TIMESTEPS} timestep; noise draws {" and ".join(map(str, DRAWS))} (the default config's 2;
Koley et al.'s 6); every test image (sketches + unique photos, docs/protocol.md section 1) extracted
once; a sustained throughput of {UTILISATION:.0%} of one H100 SXM's dense peak at batch sizes that fill
the GPU, the peaks being {peaks} (fp32: without tensor cores).
GPU minutes = FLOPs / (peak x {UTILISATION:.2f}) / 60, all parts at the column's precision (under fp16,
not tabled, SDXL's VAE would stay fp32: `force_upcast`). The VAE encoder is no small share: at 512 px
it costs SD 1.5 more than its truncated UNet. For a timestep sweep, the per-draw part scales with the
number of timesteps (the VAE still runs once per image).
"""
    return "\n".join([intro, *_cost_table(costs), "", *_run_table(costs), ""])


def write_docs(text: str, doc: Path = DOC) -> None:
    """Replace the section from ``HEADING`` to the next ``## `` heading (or the end) with ``text``."""
    current = doc.read_text(encoding="utf-8")
    before, found, after = current.partition(HEADING)
    rest = after.split("\n## ", 1)[1] if found and "\n## " in after else None
    body = before.rstrip("\n") + "\n\n" + text
    doc.write_text(body + ("\n## " + rest if rest is not None else ""), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite '{HEADING}' in {DOC.name}")
    args = parser.parse_args()
    start = time.perf_counter()
    text = section(backbone_costs())
    print(text, end="")
    if args.write_docs:
        write_docs(text)
    print(f"(counted in {time.perf_counter() - start:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
