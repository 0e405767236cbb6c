"""Reading the parts of an SD pipeline feature extraction needs, from a diffusers directory (plain or
variant files, a hub id with a revision) or from a single-file checkpoint.

Only the VAE, the UNet, the text encoder(s), the tokenizer(s) and the scheduler config are read; no
safety checker, no feature extractor.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from bench import BenchError
from bench.weights import (
    KEEP_IN_FP32,
    diffusers_notices_silenced,
    from_pretrained_part,
    part_variant,
    require_complete,
    split_revision,
)
from bench_sd.architecture import SD_SCHEDULE, TINY_TEXT_CONFIG, TINY_VAE_CONFIG, SDVariant
from bench_sd.single_file_check import checkpoint_shapes, single_file_gaps
from bench_sd.weights import BUILTIN_CONFIGS, SingleFileSource

MIN_TOKENIZER_SIZE = 1000


@dataclass
class PipelineParts:
    """What :class:`bench_sd.features.StableDiffusionFeatures` is built from.

    Attributes:
        vae: ``AutoencoderKL``; unet: ``UNet2DConditionModel``.
        text_encoders: one ``CLIPTextModel`` (SD 1/2), or that and a ``CLIPTextModelWithProjection`` (SDXL).
        tokenizers: one ``CLIPTokenizer`` per text encoder.
        alphas_cumprod: (num_train_timesteps,) from the scheduler config.
    """

    vae: torch.nn.Module
    unet: torch.nn.Module
    text_encoders: tuple[torch.nn.Module, ...]
    tokenizers: tuple
    alphas_cumprod: torch.Tensor


def checked_tokenizer(tokenizer, part: str, weights: str):
    """``tokenizer`` unless it is the 2-token stub offline ``from_pretrained`` can return."""
    if len(tokenizer) <= MIN_TOKENIZER_SIZE:
        raise BenchError(
            f"The {part} of {weights!r} loaded with only {len(tokenizer)} tokens (files missing).",
            f"Download the {part}/ folder of the model as well.",
        )
    return tokenizer


def _alphas_cumprod(scheduler_config) -> torch.Tensor:
    from diffusers import DDPMScheduler

    return DDPMScheduler.from_config(scheduler_config).alphas_cumprod


def load_folder(source: str, variant: SDVariant, weights: str, dtype: torch.dtype) -> PipelineParts:
    """The parts of a diffusers directory or hub id (``org/name@revision`` pins a snapshot).

    Each model part is read with the variant its files carry (``fp16`` when only
    ``*.fp16.safetensors`` are there), so ``variant="fp16"`` downloads load as they are.

    Raises:
        BenchError: a part's files leave out tensors of its model, or hold others (named).
    """
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    repo, revision = split_revision(source)
    local = Path(repo).is_dir()

    def load(model_class: type, part: str) -> torch.nn.Module:
        found = part_variant(Path(repo), part) if local else None
        options = {"variant": found} if found else {}
        return from_pretrained_part(
            model_class, repo, part, weights, revision=revision, torch_dtype=dtype, **options
        )

    vae = load(AutoencoderKL, "vae")
    unet = load(UNet2DConditionModel, "unet")
    encoders = [load(CLIPTextModel, "text_encoder")]
    names = ["tokenizer"]
    if variant.dual_text:
        encoders.append(load(CLIPTextModelWithProjection, "text_encoder_2"))
        names.append("tokenizer_2")
    tokenizers = tuple(
        checked_tokenizer(
            CLIPTokenizer.from_pretrained(repo, subfolder=name, revision=revision), name, weights
        )
        for name in names
    )
    scheduler = DDPMScheduler.from_pretrained(repo, subfolder="scheduler", revision=revision)
    return PipelineParts(vae, unet, tuple(encoders), tokenizers, scheduler.alphas_cumprod)


def write_builtin_configs(variant: SDVariant, root: Path) -> Path:
    """A diffusers directory of configs only (no weights) for ``variant`` from the configs in
    :mod:`bench_sd.architecture`: what reads a single-file checkpoint of sd-tiny offline."""
    from transformers import CLIPTextConfig

    from bench_sd.tokenizer import clip_tokenizer

    def write(part: str, name: str, config: dict) -> None:
        (root / part).mkdir(parents=True, exist_ok=True)
        (root / part / name).write_text(json.dumps(config, default=list), encoding="utf-8")

    write("unet", "config.json", {"_class_name": "UNet2DConditionModel", **variant.unet})
    write(
        "vae",
        "config.json",
        {"_class_name": "AutoencoderKL", **TINY_VAE_CONFIG, "scaling_factor": variant.vae_scaling},
    )
    write("scheduler", "scheduler_config.json", {"_class_name": "DDPMScheduler", **SD_SCHEDULE})
    text = {**TINY_TEXT_CONFIG, "hidden_size": variant.text_dims[0], "projection_dim": variant.text_dims[0]}
    CLIPTextConfig(**text).save_pretrained(root / "text_encoder")
    clip_tokenizer().save_pretrained(root / "tokenizer")
    index = {
        "_class_name": "StableDiffusionPipeline",
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "scheduler": ["diffusers", "DDPMScheduler"],
    }
    (root / "model_index.json").write_text(json.dumps(index), encoding="utf-8")
    return root


def _from_single_file(file: str, config: str, variant: SDVariant, dtype: torch.dtype):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    with warnings.catch_warnings(), diffusers_notices_silenced(KEEP_IN_FP32):  # it casts to torch_dtype
        # old scheduler configs (no clip_sample, steps_offset): a notice only
        warnings.filterwarnings(
            "ignore", message="The configuration file of this scheduler", category=FutureWarning
        )
        if variant.dual_text:
            return StableDiffusionXLPipeline.from_single_file(
                file, config=config, local_files_only=True, torch_dtype=dtype
            )
        return StableDiffusionPipeline.from_single_file(
            file,
            config=config,
            local_files_only=True,
            torch_dtype=dtype,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )


def load_single_file(
    source: SingleFileSource, variant: SDVariant, backbone_id: str, weights: str, dtype: torch.dtype
) -> PipelineParts:
    """The parts of a single-file checkpoint (original Stable Diffusion key names, as model sites
    distribute it), read with diffusers' ``from_single_file`` and the configs of ``source.config``
    (never the hub: configs come from a local directory, or are written from the built-in ones).

    Raises:
        BenchError: the file is not a checkpoint of the configs' model family, or leaves tensors of a
            part out (or holds others), named.
    """
    from diffusers.loaders.single_file_utils import SingleFileComponentError

    shapes = checkpoint_shapes(source.file)
    try:
        if source.config == BUILTIN_CONFIGS:
            with tempfile.TemporaryDirectory(prefix="sbir-bench-sd-configs-") as folder:
                pipe = _from_single_file(
                    source.file, str(write_builtin_configs(variant, Path(folder))), variant, dtype
                )
        else:
            pipe = _from_single_file(source.file, source.config, variant, dtype)
    except (OSError, ValueError, KeyError, RuntimeError, SingleFileComponentError) as exc:
        configs = (
            "the built-in configs" if source.config == BUILTIN_CONFIGS else f"the configs in {source.config}"
        )
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(
            f"Could not read the single-file checkpoint {source.file!r} as backbone {backbone_id!r} "
            f"with {configs}: {reason}",
            "Check that the file is a full Stable Diffusion checkpoint (UNet, VAE and text encoder) of "
            f"that family, or name the configs of its family with --weights {backbone_id}=FILE+DIR.",
        ) from exc
    names = ("tokenizer", "tokenizer_2") if variant.dual_text else ("tokenizer",)
    encoders = (pipe.text_encoder, pipe.text_encoder_2) if variant.dual_text else (pipe.text_encoder,)
    text_parts = dict(zip(("text_encoder", "text_encoder_2"), encoders, strict=False))
    for part, gaps in single_file_gaps(shapes, {"unet": pipe.unet, "vae": pipe.vae, **text_parts}).items():
        require_complete(
            gaps,
            f"The {part} tensors of the single-file checkpoint {source.file!r}",
            "Pass the complete checkpoint (a truncated download or an edited file leaves tensors out), "
            f"or a checkpoint of this family (name its configs with --weights {backbone_id}=FILE+DIR).",
        )
    tokenizers = tuple(checked_tokenizer(getattr(pipe, name), name, weights) for name in names)
    return PipelineParts(pipe.vae, pipe.unet, encoders, tokenizers, _alphas_cumprod(pipe.scheduler.config))
