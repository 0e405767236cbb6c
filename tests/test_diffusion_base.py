"""A diffusion family written on the public base (bench.DiffusionBackboneBase) in four methods, as a
third-party plugin file would: noise from each image's seed, the schedule, early exit, conditioning."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from PIL import Image

import bench
from bench import BenchError, PromptCondition
from tests.helpers.cli import run_bench
from tests.helpers.plugin_files import one_error

SMALL = [
    "--dataset",
    "synthetic",
    "--dataset-option",
    "num_unseen=2",
    "--dataset-option",
    "photos_per_class=2",
]

TOY_FAMILY = textwrap.dedent(
    """
    from dataclasses import dataclass, replace

    import torch

    import bench

    BLOCKS = 3


    class Denoiser(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.blocks = torch.nn.ModuleList(torch.nn.Conv2d(4, 4, 3, padding=1) for _ in range(BLOCKS))

        def forward(self, noisy, timestep, context):
            x = noisy * (1 + timestep / 1000) + context[:, :, None, None]
            for block in self.blocks:
                x = block(x)
            return x


    @dataclass(frozen=True)
    class Conditioning:
        context: torch.Tensor  # (R, 1, 4)

        def batched(self, images, noise_samples):
            return bench.rows_per_sample(self.context[:, 0], images, noise_samples)

        def with_context(self, learned):
            if learned.shape != self.context.shape[1:]:
                raise ValueError(f"expected {tuple(self.context.shape[1:])}")
            return Conditioning(learned[None])


    class Conditioner:
        def to(self, device, dtype):
            return self

        def encode(self, texts):
            return Conditioning(torch.tensor([[[float(len(t)), 0.0, 1.0, 2.0]] for t in texts]))


    class ToyDiffusion(bench.DiffusionBackboneBase):
        denoiser_name = "toy denoiser"

        def encode_image(self, pixels):
            return torch.nn.functional.avg_pool2d(torch.cat([pixels, pixels[:, :1]], dim=1), 8)

        def tap_order(self):
            return [f"block{i}" for i in range(BLOCKS)]

        def tap_module(self, tap):
            return self.denoiser.blocks[int(tap[5:])]

        def forward(self, inputs):
            return self.denoiser(inputs.noisy, inputs.timestep, inputs.conditioning)

        def read_tap(self, tap, output, inputs):
            return output


    class ToyLatentDiffusion(ToyDiffusion):
        encode_image = bench.DiffusionBackboneBase.encode_image  # the base's: the VAE's posterior mean


    def build(info, *, weights, device, dtype, image_size):
        schedule = bench.DDPMSchedule(torch.linspace(0.99, 0.01, 1000, dtype=torch.float64))
        family, vae = (ToyDiffusion, None) if info.id == "toy-diffusion" else (ToyLatentDiffusion, tiny_vae())
        return family(
            denoiser=Denoiser(), vae=vae, conditioner=Conditioner(), schedule=schedule,
            image_size=image_size, weights=weights, device=device, dtype=dtype,
        )


    def tiny_vae():  # a real tiny diffusers VAE: 3 -> 4 channels, 8x down
        from diffusers import AutoencoderKL

        torch.manual_seed(0)
        return AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(4, 4, 4, 4), latent_channels=4, layers_per_block=1, norm_num_groups=2,
        )


    @bench.hookimpl
    def register_backbones(register):
        toy = bench.BackboneInfo(
            id="toy-diffusion",
            target=build,
            description="a toy diffusion family on bench.DiffusionBackboneBase",
            layers=tuple(bench.TapInfo(f"block{i}", 4, 8) for i in range(BLOCKS)),
            default_layer="block1",
            weights="random",
            image_size=32,
            num_timesteps=1000,
            accepts_text=True,
            learnable_prompts=("visual",),
        )
        register(toy)
        register(replace(toy, id="toy-latent-diffusion", description="the toy family on a diffusers VAE"))
    """
)


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plugin") / "toy_diffusion.py"
    path.write_text(TOY_FAMILY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def toy(toy_file):
    registry = bench.plugin_registry([toy_file])
    return bench.load_backbone("toy-diffusion", device="cpu", registry=registry), registry


def _images(count: int) -> list[Image.Image]:
    generator = torch.Generator().manual_seed(1)
    return [
        Image.fromarray((torch.rand(32, 32, 3, generator=generator) * 255).to(torch.uint8).numpy())
        for _ in range(count)
    ]


def test_features_are_the_documented_noise_through_the_family_forward(toy):
    backbone, _ = toy
    model = backbone.model
    pixels = model.preprocess(_images(2))
    out = model.features(
        pixels,
        ["block1"],
        timesteps=[100, 700],
        noise_samples=3,
        noise_seeds=[5, 9],
        condition=PromptCondition(),
    )
    latents = model.encode_image(pixels)
    for t in (100, 700):
        assert out[t]["block1"].shape == (2, 3, 4, 4, 4)
        alpha_bar = float(model.schedule.alphas_cumprod[t])
        for image, seed in enumerate((5, 9)):
            noise = torch.randn((3, *latents.shape[1:]), generator=torch.Generator().manual_seed(seed))
            noisy = alpha_bar**0.5 * latents[image] + (1 - alpha_bar) ** 0.5 * noise
            x = noisy * (1 + t / 1000) + torch.tensor([0.0, 0.0, 1.0, 2.0])[None, :, None, None]
            expected = model.denoiser.blocks[1](model.denoiser.blocks[0](x))
            torch.testing.assert_close(out[t]["block1"][image], expected)


def test_the_pass_stops_after_the_deepest_tap(toy):
    backbone, _ = toy
    model = backbone.model
    ran = []
    handle = model.denoiser.blocks[2].register_forward_hook(lambda *_: ran.append(True))
    try:
        model.features(
            model.preprocess(_images(1)),
            ["block0", "block1"],
            timesteps=[10],
            noise_samples=1,
            noise_seeds=[0],
            condition=PromptCondition(),
        )
    finally:
        handle.remove()
    assert not ran


def test_descriptors_through_the_public_workflow_depend_on_seed_and_text(toy):
    backbone, registry = toy
    images = _images(3)

    def describe(**settings):
        return bench.descriptors(backbone, images, t=300, noise_samples=2, registry=registry, **settings)

    first = describe(seed=0)
    assert first.shape == (3, 4)
    assert (describe(seed=0) == first).all()
    assert not (describe(seed=1) == first).all()
    assert not (describe(seed=0, prompt="text:a longer text") == first).all()


def test_a_family_without_learned_tokens_after_texts_says_so(toy):
    backbone, _ = toy
    model = backbone.model
    pixels = model.preprocess(_images(2))
    learned = torch.zeros(1, 4)
    settings = {"timesteps": [1], "noise_samples": 1, "noise_seeds": [0, 1]}
    both = PromptCondition(text_embedding=learned, item_texts=("a", "b"))
    with pytest.raises(BenchError, match="cannot combine per-image texts with a learned textual prompt"):
        model.features(pixels, ["block0"], condition=both, **settings)
    with pytest.raises(BenchError, match="does not fit this backbone"):
        model.features(
            pixels, ["block0"], condition=PromptCondition(text_embedding=torch.zeros(2, 4)), **settings
        )
    with pytest.raises(BenchError, match=r"Use --t in 0\.\.999"):
        model.features(pixels, ["block0"], **{**settings, "timesteps": [1000]}, condition=PromptCondition())
    with pytest.raises(BenchError, match="This toy denoiser has no tap 'up1'"):
        model.features(pixels, ["up1"], condition=PromptCondition(), **settings)


@pytest.mark.slow
def test_a_family_on_a_diffusers_vae_runs_without_diffusers_cast_warnings(toy_file, tmp_path):
    """The base casts the VAE and denoiser with .to(dtype=...); diffusers' keep-in-float32 warning
    about that cast stays out of a run's output (the family itself silences nothing)."""
    result = run_bench(
        "run", "--plugin", str(toy_file), "--backbone", "toy-latent-diffusion", *SMALL, "--t", "100",
        "--output-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"), subprocess=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "mAP" in result.stdout
    assert "should be kept in float32" not in result.stderr and "Casting directly" not in result.stderr


@pytest.mark.slow
def test_activation_checkpointing_of_a_plain_torch_denoiser_is_one_error_naming_the_backbone(
    toy_file, tmp_path
):
    result = run_bench(
        "train", "--plugin", str(toy_file), "--backbone", "toy-diffusion", *SMALL, "--t", "100",
        "--prompt", "visual", "--activation-checkpointing", cwd=tmp_path,
    )  # fmt: skip
    one_error(
        result,
        "Backbone 'toy-diffusion' (plugin ",
        "its Denoiser has no enable_gradient_checkpointing() method",
        "Train without --activation-checkpointing",
    )
