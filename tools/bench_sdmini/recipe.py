"""Everything that decides what sd-mini is, as plain data: corpus, model sizes, training settings.

:data:`FULL` is the shipped model's recipe; :data:`QUICK` has the same structure at toy sizes, so a
test runs the whole pipeline in seconds. A checkpoint records the recipe it was trained with and
refuses to resume under another one (except for a longer or shorter step count).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class CorpusSpec:
    """Which generated images make the training corpus.

    Every (seed, category, instance) with ``seed`` in ``seeds``, every category and ``instance`` in
    ``range(instances)`` gives one photo and one sketch (sketch index 0), rendered at
    ``render_size`` px and resized (bicubic) to ``image_size`` px, as the toolkit's feature extractor
    resizes the 128 px benchmark images to a model's input size. Seed 0 is the benchmark's
    evaluation data, so it is never in ``seeds``.
    """

    seeds: tuple[int, ...]
    instances: int
    render_size: int
    image_size: int

    def __post_init__(self) -> None:
        if 0 in self.seeds:
            raise ValueError("generator seed 0 is the benchmark's evaluation data; train on other seeds")


@dataclass(frozen=True)
class ModelSizes:
    """Widths and depths of the three networks (their block structure is fixed, see architecture).

    Attributes:
        vae_channels: AutoencoderKL ``block_out_channels``: 4 levels, so 8x downsampling.
        vae_groups: GroupNorm groups of the VAE.
        unet_channels: UNet ``block_out_channels``: SD's 4 levels.
        unet_heads: attention heads per UNet transformer block.
        unet_groups: GroupNorm groups of the UNet.
        text_width: CLIP text encoder hidden size (= the UNet's cross-attention dimension).
        text_layers: CLIP text encoder transformer layers.
        text_heads: CLIP text encoder attention heads.
    """

    vae_channels: tuple[int, int, int, int]
    vae_groups: int
    unet_channels: tuple[int, int, int, int]
    unet_heads: int
    unet_groups: int
    text_width: int
    text_layers: int
    text_heads: int


@dataclass(frozen=True)
class VaeTraining:
    """Autoencoder training: L1 reconstruction + ``kl_weight`` x KL, both summed over pixels (as SD).

    The VAE is fully convolutional, so it can train on ``crop`` px random crops of the corpus images
    (as SD's autoencoder trained on crops smaller than its use size); each is flipped left-right
    with probability 1/2. A crop of the full image size trains on whole images.
    """

    steps: int
    batch_size: int
    crop: int
    learning_rate: float
    warmup_steps: int
    kl_weight: float = 1e-6


@dataclass(frozen=True)
class UnetTraining:
    """UNet + text encoder training on precomputed latents: SD's epsilon objective (MSE to the noise)
    at uniform timesteps; a caption is replaced by the empty prompt with ``caption_dropout``.

    ``ema_decay`` caps the warmed-up EMA decay ``1 - (1 + step)^(-2/3)`` of both networks' weights;
    the shipped UNet and text encoder are the EMA weights.
    """

    steps: int
    batch_size: int
    learning_rate: float
    warmup_steps: int
    caption_dropout: float = 0.1
    ema_decay: float = 0.999
    max_grad_norm: float = 1.0


@dataclass(frozen=True)
class SampleSettings:
    """The sample grid drawn by the trained model: DDIM with classifier-free guidance."""

    captions: tuple[str, ...]
    per_caption: int
    steps: int
    guidance_scale: float


@dataclass(frozen=True)
class Recipe:
    """The whole sd-mini recipe; ``seed`` seeds initialisation and every training step."""

    corpus: CorpusSpec
    sizes: ModelSizes
    vae: VaeTraining
    unet: UnetTraining
    samples: SampleSettings
    seed: int = 0
    name: str = field(default="sd-mini")

    def with_steps(self, vae_steps: int | None, unet_steps: int | None) -> Recipe:
        """This recipe with the given step counts (None keeps a count)."""
        vae = self.vae if vae_steps is None else replace(self.vae, steps=vae_steps)
        unet = self.unet if unet_steps is None else replace(self.unet, steps=unet_steps)
        return replace(self, vae=vae, unet=unet)

    def identity(self, stage: str) -> dict:
        """What a ``stage`` ('vae' or 'unet') checkpoint must share with this recipe to resume it:
        everything its networks depend on except its step count."""
        shared = {"corpus": asdict(self.corpus), "sizes": asdict(self.sizes), "seed": self.seed}
        if stage == "vae":
            return {**shared, "vae": {**asdict(self.vae), "steps": None}}
        return {**shared, "vae": asdict(self.vae), "unet": {**asdict(self.unet), "steps": None}}


_SAMPLE_CAPTIONS = (
    "a photo of a red star",
    "a photo of a blue heart",
    "a photo of a green tree",
    "a photo of a yellow house",
    "a photo of a purple fish",
    "a sketch of a star",
    "a sketch of a heart",
    "a sketch of a house",
    "",
)

FULL = Recipe(
    corpus=CorpusSpec(seeds=tuple(range(1000, 1010)), instances=30, render_size=128, image_size=64),
    sizes=ModelSizes(
        vae_channels=(16, 32, 64, 64),
        vae_groups=8,
        unet_channels=(32, 64, 128, 128),
        unet_heads=4,
        unet_groups=8,
        text_width=64,
        text_layers=4,
        text_heads=4,
    ),
    vae=VaeTraining(steps=900, batch_size=16, crop=64, learning_rate=1e-3, warmup_steps=50),
    unet=UnetTraining(steps=1500, batch_size=32, learning_rate=5e-4, warmup_steps=100),
    samples=SampleSettings(captions=_SAMPLE_CAPTIONS, per_caption=6, steps=50, guidance_scale=4.0),
)

QUICK = Recipe(
    corpus=CorpusSpec(seeds=(1000,), instances=2, render_size=64, image_size=64),
    sizes=ModelSizes(
        vae_channels=(8, 8, 16, 16),
        vae_groups=4,
        unet_channels=(8, 16, 16, 16),
        unet_heads=2,
        unet_groups=4,
        text_width=16,
        text_layers=1,
        text_heads=2,
    ),
    vae=VaeTraining(steps=4, batch_size=4, crop=32, learning_rate=1e-3, warmup_steps=2),
    unet=UnetTraining(steps=6, batch_size=4, learning_rate=1e-3, warmup_steps=2),
    samples=SampleSettings(
        captions=_SAMPLE_CAPTIONS[:1] + _SAMPLE_CAPTIONS[-1:], per_caption=2, steps=2, guidance_scale=4.0
    ),
    name="sd-mini-quick",
)
