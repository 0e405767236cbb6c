"""The shipped model: a standard diffusers Stable Diffusion folder in float16, and its checksums.

``OUTPUT/<name>/`` holds ``model_index.json``, ``vae/``, ``unet/``, ``text_encoder/``, ``tokenizer/``
and ``scheduler/`` (safetensors), so ``AutoencoderKL.from_pretrained(dir, subfolder="vae")`` etc.
and ``StableDiffusionPipeline.from_pretrained(dir)`` load it exactly as SD 1.5. Weights are stored
in float16 (half the size; loading with ``torch_dtype=torch.float32`` upcasts them).
``OUTPUT/SHA256SUMS`` lists the sha256 of every file of the folder (``sha256sum -c`` format).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch
from bench_sd.tokenizer import clip_tokenizer
from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextModel

from bench_sdmini.architecture import noise_schedule

CHECKSUMS = "SHA256SUMS"


def export_pipeline(
    output: Path, name: str, vae: AutoencoderKL, unet: UNet2DConditionModel, text_encoder: CLIPTextModel
) -> Path:
    """Save the three networks (converted to float16 in place), CLIP's tokenizer and SD's scheduler
    as ``OUTPUT/<name>/`` (replacing an older one) and write ``OUTPUT/SHA256SUMS``; returns the folder."""
    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(),
        unet=unet,
        scheduler=noise_schedule(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.to(dtype=torch.float16)
    folder = output / name
    partial = output / f"{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    pipeline.save_pretrained(partial, safe_serialization=True)
    _add_vocabulary_files(partial / "tokenizer")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    (output / CHECKSUMS).write_text(checksums(folder))
    return folder


def _add_vocabulary_files(tokenizer_dir: Path) -> None:
    """Write ``vocab.json`` and ``merges.txt`` (from ``tokenizer.json``) next to it, as SD 1.5's
    tokenizer folder has them: transformers 4.x's ``CLIPTokenizer`` reads only those two."""
    model = json.loads((tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"]
    (tokenizer_dir / "vocab.json").write_text(
        json.dumps(model["vocab"], ensure_ascii=False), encoding="utf-8"
    )
    merges = "".join(f"{left} {right}\n" for left, right in model["merges"])
    (tokenizer_dir / "merges.txt").write_text("#version: 0.2\n" + merges, encoding="utf-8")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(folder: Path) -> str:
    """``sha256sum`` lines for every file under ``folder``, paths relative to its parent, sorted."""
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    return "".join(f"{sha256(path)}  {path.relative_to(folder.parent).as_posix()}\n" for path in files)


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``, in bytes."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
