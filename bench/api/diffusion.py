"""Diffusion models as feature extractors: the runtime a diffusion plugin (SD, SD3, FLUX) builds on.

:class:`DiffusionBackboneBase` owns what every diffusion family does alike (a ``DiffusionBackbone``):
preprocessing, the per-image noise seeds (docs/protocol.md section 5), the noise draws, the fan-out
over timesteps, the text conditioning of a prompt (cached, learned contexts, per-image texts) and
reading block taps in one pass that stops after the deepest of them. A family subclass implements
what is its own: which blocks are taps (:meth:`~DiffusionBackboneBase.tap_order`,
:meth:`~DiffusionBackboneBase.tap_module`), one call of its denoiser
(:meth:`~DiffusionBackboneBase.forward`) and what a tap's output means
(:meth:`~DiffusionBackboneBase.read_tap`); it passes its VAE (or overrides
:meth:`~DiffusionBackboneBase.encode_image`), its text conditioner and its noise schedule
(:class:`DDPMSchedule`, :class:`RectifiedFlowSchedule`). Importing this module imports no torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from bench.api.block_taps import read_block_outputs
from bench.api.errors import BenchError
from bench.api.library_notices import KEEP_IN_FP32, diffusers_notices_silenced
from bench.api.noise import seeded_noise, to_model_device

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from bench.api.components import PromptCondition


class NoiseSchedule(Protocol):
    """The forward process of a diffusion family: how a clean latent is noised at timestep t.

    Attributes:
        num_timesteps: valid timesteps are ``0..num_timesteps - 1``.
        meaning: what t means, appended to the hint of a timestep error (e.g. ``" (sigma = t / 1000)"``).
    """

    num_timesteps: int
    meaning: str

    def noised(self, clean: torch.Tensor, noise: torch.Tensor, t: int) -> torch.Tensor:
        """The noisy latent at timestep ``t`` (same shape as ``clean`` and ``noise``)."""
        ...


@dataclass(frozen=True)
class DDPMSchedule:
    """DDPM (SD 1.x / 2.x / XL): x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.

    Attributes:
        alphas_cumprod: (num_train_timesteps,) float64 cumulative products of the alphas.
    """

    alphas_cumprod: torch.Tensor
    meaning: ClassVar[str] = ""

    @property
    def num_timesteps(self) -> int:
        return len(self.alphas_cumprod)

    def noised(self, clean: torch.Tensor, noise: torch.Tensor, t: int) -> torch.Tensor:
        alpha_bar = float(self.alphas_cumprod[t])
        return alpha_bar**0.5 * clean + (1.0 - alpha_bar) ** 0.5 * noise


@dataclass(frozen=True)
class RectifiedFlowSchedule:
    """Rectified flow (SD3, FLUX): sigma = t / num_timesteps, x_t = (1 - sigma) x_0 + sigma eps."""

    num_timesteps: int = 1000

    @property
    def meaning(self) -> str:
        return f" (sigma = t / {self.num_timesteps})"

    def sigma(self, t: int) -> float:
        """The noise level of timestep ``t``: t / num_timesteps (0 = clean, 1 = pure noise)."""
        return t / self.num_timesteps

    def noised(self, clean: torch.Tensor, noise: torch.Tensor, t: int) -> torch.Tensor:
        sigma = self.sigma(t)
        return (1.0 - sigma) * clean + sigma * noise


def rows_per_sample(rows: torch.Tensor, images: int, noise_samples: int) -> torch.Tensor:
    """Conditioning rows of ``images * noise_samples`` samples in image-major order (sample
    ``i * N + n`` is image i's draw n): (1, ...) shared by all is expanded (no copy); (B, ...), one
    per image, is repeated for each image's N draws. Returns (B * N, ...).

    Raises:
        ValueError: neither 1 nor ``images`` rows.
    """
    if rows.shape[0] == 1:
        return rows.expand(images * noise_samples, *rows.shape[1:])
    if rows.shape[0] != images:
        raise ValueError(f"conditioning has {rows.shape[0]} rows for {images} images")
    return rows.repeat_interleave(noise_samples, dim=0)


class TextConditioning(Protocol):
    """What a family's text conditioner returns for R texts (R = 1: shared by the batch).

    ``with_context_after_texts`` is optional: a family without it refuses per-image texts with a
    learned textual prompt.
    """

    @property
    def context(self) -> torch.Tensor:
        """(R, L, d) the token context a learned textual prompt replaces."""
        ...

    def batched(self, images: int, noise_samples: int) -> Any:
        """What :meth:`DiffusionBackboneBase.forward` takes for B * N image-major samples (see
        :func:`rows_per_sample`)."""
        ...

    def with_context(self, learned: torch.Tensor) -> TextConditioning:
        """One row: this conditioning with its context replaced by ``learned`` (L, d); ValueError
        when the shape differs."""
        ...


class TextConditioner(Protocol):
    """A family's text encoders: texts -> :class:`TextConditioning` (one row per text)."""

    def to(self, device: Any, dtype: Any) -> TextConditioner: ...

    def encode(self, texts: Sequence[str]) -> TextConditioning: ...


@dataclass(frozen=True)
class DenoiserInputs:
    """One pass of the denoiser over B' samples.

    Attributes:
        noisy: (B', *latent_shape) noisy latents.
        timestep: the timestep t (or, for a noise-free reader such as CleanDIFT, the value fed to
            the timestep embedding).
        conditioning: what the conditioning's ``batched`` gave for the B' samples.
    """

    noisy: torch.Tensor
    timestep: float
    conditioning: Any


class DiffusionBackboneBase(ABC):
    """A frozen diffusion model that gives block features at chosen timesteps (a ``DiffusionBackbone``).

    A family implements four methods: :meth:`tap_order` (every tap name, in forward order),
    :meth:`tap_module` (the module a tap hooks), :meth:`forward` (one call of the denoiser on a
    :class:`DenoiserInputs`) and :meth:`read_tap` (a tap module's output -> a (B', C, h, w) map). The
    base gives ``features`` (noise drawn from each image's seed, every timestep one pass over B x N
    samples that stops after the deepest tap), ``preprocess``, ``encode_image``, ``encode_text``
    (cached), ``text_context``, ``conditioning``, ``compile`` and ``enable_activation_checkpointing``;
    override ``encode_image`` (no VAE) or ``read_taps`` (post-processing an image's draws together).
    The conditioner's ``encode(texts)`` returns an object with ``context`` (R, L, d),
    ``batched(images, noise_samples)`` (what ``forward`` gets; see :func:`rows_per_sample`),
    ``with_context(learned)`` and, optionally, ``with_context_after_texts(learned)``.

    Args:
        denoiser: the network read at every timestep (a diffusers UNet or transformer), moved to
            ``device`` and ``dtype``, set to eval mode and frozen.
        vae: a diffusers ``AutoencoderKL`` whose posterior mean, shifted and scaled by its config,
            is the latent (only the encoder is used); stays in fp32 under fp16 when its config asks
            for ``force_upcast``. None for a family that overrides :meth:`encode_image`.
        conditioner: text -> :class:`TextConditioning`, moved to ``device`` and ``dtype``.
        schedule: the forward process (:class:`DDPMSchedule`, :class:`RectifiedFlowSchedule`).
        image_size: input resolution in pixels.
        weights: what was loaded, recorded in results.
        device, dtype: where and in which precision the models run.
    """

    denoiser_name: ClassVar[str] = "denoiser"
    """What the denoiser is, in the error for an unknown tap (``"UNet"``, ``"transformer"``)."""

    def __init__(
        self,
        *,
        denoiser: Any,
        vae: Any,
        conditioner: TextConditioner,
        schedule: NoiseSchedule,
        image_size: int,
        weights: str,
        device: Any,
        dtype: Any,
    ) -> None:
        import torch

        upcast = dtype == torch.float16 and getattr(getattr(vae, "config", None), "force_upcast", False)
        self.vae_dtype = torch.float32 if upcast else dtype
        with diffusers_notices_silenced(KEEP_IN_FP32):  # the VAE's fp32 is kept here (force_upcast)
            self.vae = (
                None
                if vae is None
                else vae.to(device=device, dtype=self.vae_dtype).eval().requires_grad_(False)
            )
            self.denoiser = denoiser.to(device=device, dtype=dtype).eval().requires_grad_(False)
        self.conditioner = conditioner.to(device, dtype)
        self.schedule = schedule
        self.image_size = image_size
        self.weights = weights
        self.device = device
        self.dtype = dtype
        self._text_cache: dict[str, TextConditioning] = {}

    # -- what a family implements -----------------------------------------------------------------

    @abstractmethod
    def tap_order(self) -> list[str]:
        """Every tap name, in the denoiser's forward order."""

    @abstractmethod
    def tap_module(self, tap: str) -> Any:
        """The ``torch.nn.Module`` whose output (or input) ``tap`` reads."""

    @abstractmethod
    def forward(self, inputs: DenoiserInputs) -> object:
        """Run the denoiser once on ``inputs`` as its pipeline calls it (the pass may be ended early
        by a tap's hook; the output is not used)."""

    @abstractmethod
    def read_tap(self, tap: str, output: Any, inputs: DenoiserInputs) -> torch.Tensor:
        """A tap's (B', C, h, w) map from its module's output in the pass over ``inputs``."""

    # -- inputs -----------------------------------------------------------------------------------

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """RGB images -> (B, 3, S, S) float32 in [-1, 1] (bicubic resize to ``image_size``)."""
        import numpy as np
        import torch
        from PIL import Image

        size = (self.image_size, self.image_size)
        arrays = [
            np.asarray(im.convert("RGB").resize(size, Image.BICUBIC), dtype=np.float32) for im in images
        ]
        # contiguous: CPU GroupNorm loses precision (and batch invariance) on the channels-last
        # strides a bare permute leaves
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
        return batch / 127.5 - 1.0

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [-1, 1] -> (posterior mean - shift_factor) * scaling_factor, (B, c, S/8, S/8)
        in ``dtype`` (shift_factor 0 when the VAE's config has none).

        Pixels on the host are copied to a CUDA device asynchronously (from pinned memory, as the
        extraction loop hands them, the copy overlaps queued work), then cast there.
        """
        pixels = to_model_device(pixels, self.device, self.vae_dtype)
        mean = self.vae.encode(pixels).latent_dist.mean
        config = self.vae.config
        return ((mean - (getattr(config, "shift_factor", None) or 0.0)) * config.scaling_factor).to(
            self.dtype
        )

    def draw_noise(
        self, latent_shape: Sequence[int], noise_samples: int, seeds: Sequence[int]
    ) -> torch.Tensor:
        """(B, N, *latent_shape) standard normal noise; image i's draws come from ``seeds[i]`` only.

        Drawn on the CPU whatever the device (:func:`bench.seeded_noise`), so the numbers do not
        depend on it; on CUDA they go over in one asynchronous copy.
        """
        return seeded_noise(latent_shape, noise_samples, seeds, device=self.device, dtype=self.dtype)

    # -- text -------------------------------------------------------------------------------------

    def encode_text(self, text: str) -> TextConditioning:
        """The conditioning of ``text`` (one row), computed once per text."""
        import torch

        if text not in self._text_cache:
            with torch.inference_mode():
                self._text_cache[text] = self.conditioner.encode([text])
        return self._text_cache[text]

    def encode_texts(self, texts: Sequence[str]) -> TextConditioning:
        """One row per text from one encoder pass (a dataset's captions; not cached)."""
        import torch

        with torch.no_grad():
            return self.conditioner.encode(texts)

    def text_context(self, text: str) -> torch.Tensor:
        """(L, d) context of ``text`` (a copy autograd may use): where a learned textual prompt starts."""
        return self.encode_text(text).context[0].clone()

    def conditioning(self, prompt: PromptCondition) -> TextConditioning:
        """The prompt's text conditioning: its text's (one row shared by the batch), or one row per
        image from ``prompt.item_texts``; with a learned context, that context in place of the text's
        (or, per image, after each text's tokens, where the family supports it).

        Raises:
            BenchError: the learned context does not fit, or the family cannot place it after texts.
        """
        learned = prompt.text_embedding
        if prompt.item_texts is None:
            base = self.encode_text(prompt.text)
            combine = None if learned is None else base.with_context
        else:
            base = self.encode_texts(prompt.item_texts)
            combine = None if learned is None else getattr(base, "with_context_after_texts", None)
            if learned is not None and combine is None:
                raise BenchError(
                    "This backbone cannot combine per-image texts with a learned textual prompt (its "
                    "conditioning has no place to append learned tokens after a caption).",
                    "Use a visual-only prompt with --query-text, or drop --query-text.",
                )
        if combine is None:
            return base
        try:
            return combine(learned)
        except ValueError as exc:
            raise BenchError(f"The textual prompt does not fit this backbone: {exc}.") from exc

    # -- features ---------------------------------------------------------------------------------

    def check_timesteps(self, timesteps: Sequence[int]) -> None:
        """Raise a :class:`BenchError` for a timestep outside ``0..num_timesteps - 1``."""
        steps = self.schedule.num_timesteps
        for t in timesteps:
            if t is None or not 0 <= t < steps:
                raise BenchError(
                    f"Timestep {t} is outside this model's schedule.",
                    f"Use --t in 0..{steps - 1}{self.schedule.meaning}.",
                )

    def read_taps(self, inputs: DenoiserInputs, taps: Sequence[str], images: int) -> dict[str, torch.Tensor]:
        """``{tap: (B, N, C, h, w)}`` from one pass over B * N image-major samples that stops after
        the deepest requested tap (override to post-process an image's draws together)."""
        maps = read_block_outputs(
            taps,
            self.tap_order(),
            self.tap_module,
            lambda: self.forward(inputs),
            lambda tap, output: self.read_tap(tap, output, inputs),
            self.denoiser_name,
        )
        return {tap: m.reshape(images, -1, *m.shape[1:]) for tap, m in maps.items()}

    def features(
        self,
        pixels: torch.Tensor,
        taps: Sequence[str],
        *,
        timesteps: Sequence[int],
        noise_samples: int,
        noise_seeds: Sequence[int],
        condition: PromptCondition,
    ) -> dict[int, dict[str, torch.Tensor]]:
        """See ``bench.DiffusionBackbone.features``; tensors are (B, N, C, h, w).

        The image is encoded once; each timestep costs one truncated pass over B * N samples.
        Per-image texts (``condition.item_texts``) give each image its own conditioning, repeated
        for its N draws, in that same pass; the noise still depends on ``noise_seeds`` alone.
        """
        self.check_timesteps(timesteps)
        latents = self.encode_image(pixels)
        batch, *latent_shape = latents.shape
        noise = self.draw_noise(latent_shape, noise_samples, noise_seeds)
        clean = latents[:, None].expand_as(noise)
        conditioning = self.conditioning(condition).batched(batch, noise_samples)
        out: dict[int, dict[str, torch.Tensor]] = {}
        for t in timesteps:
            noisy = self.schedule.noised(clean, noise, t).reshape(batch * noise_samples, *latent_shape)
            out[t] = self.read_taps(DenoiserInputs(noisy, t, conditioning), taps, batch)
        return out

    # -- optional capabilities --------------------------------------------------------------------

    def compile(self) -> None:
        """``torch.compile`` each tap's module and the VAE encoder in place (``nn.Module.compile``).

        Block by block, so the hooks that read taps and stop the pass early keep working. Compiling
        costs minutes on a CPU; it pays off on long runs on a GPU.
        """
        encoder = () if self.vae is None else (self.vae.encoder,)
        for module in [*map(self.tap_module, self.tap_order()), *encoder]:
            module.compile()

    def enable_activation_checkpointing(self) -> None:
        """Recompute denoiser and VAE-encoder activations during backward instead of storing them
        (training prompts through the frozen model with less memory), through their
        ``enable_gradient_checkpointing()`` (every diffusers model has it).

        Raises:
            BenchError: the denoiser or the VAE has no ``enable_gradient_checkpointing()`` (a plain
                ``torch.nn.Module``); a family can override this method instead.
        """
        models = [self.denoiser] if self.vae is None else [self.denoiser, self.vae]
        lacking = [
            type(m).__name__
            for m in models
            if not callable(getattr(m, "enable_gradient_checkpointing", None))
        ]
        if lacking:
            raise BenchError(
                f"{type(self).__name__} cannot checkpoint activations: its {' and '.join(lacking)} "
                f"{'has' if len(lacking) == 1 else 'have'} no enable_gradient_checkpointing() method "
                "(diffusers models have one).",
                "Train without --activation-checkpointing, or give the family's models an "
                "enable_gradient_checkpointing() method (or override enable_activation_checkpointing).",
            )
        for model in models:
            model.enable_gradient_checkpointing()
