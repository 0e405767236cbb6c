"""What a diffusers directory holds on disk: plain weight files or only variants (no torch).

``from_pretrained(..., variant="fp16")`` downloads leave ``diffusion_pytorch_model.fp16.safetensors``
(``model.fp16.safetensors`` for a transformers text encoder) and no plain file; diffusers and
transformers load such a part only when told its variant. :func:`part_variant` reads it from the
file names, part by part (a folder may mix plain and variant parts).
"""

from __future__ import annotations

import re
from pathlib import Path

WEIGHT_STEMS = ("diffusion_pytorch_model", "model", "pytorch_model")
MODEL_PARTS = ("unet", "transformer", "vae", "text_encoder", "text_encoder_2", "text_encoder_3")
"""The parts of a diffusers directory that hold weights (tokenizers and schedulers are configs only):
SD's UNet, SD3's and FLUX's transformer, the VAE and up to three text encoders."""

_STEMS = "|".join(WEIGHT_STEMS)
_PLAIN = re.compile(
    rf"^(?:{_STEMS})(?:-\d+-of-\d+)?\.(?:safetensors|bin)$|^(?:{_STEMS})\.(?:safetensors|bin)\.index\.json$"
)
_VARIANT = re.compile(
    rf"^(?:{_STEMS})(?:-\d+-of-\d+)?\.(?P<a>[A-Za-z0-9_]+)\.(?:safetensors|bin)$"
    rf"|^(?:{_STEMS})\.(?:safetensors|bin)\.index\.(?P<b>[A-Za-z0-9_]+)\.json$"
)
PREFERRED_VARIANTS = ("fp16", "bf16")


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def has_plain_weights(folder: Path) -> bool:
    """Whether ``folder`` holds a weight file without a variant (``model.safetensors``, shards)."""
    return any(_PLAIN.match(name) for name in _names(folder))


def variants_in(folder: Path) -> list[str]:
    """The variant names of the weight files in ``folder`` (``["fp16"]``), preferred first."""
    found = {m["a"] or m["b"] for name in _names(folder) if (m := _VARIANT.match(name))}
    return sorted(
        found,
        key=lambda v: (
            v not in PREFERRED_VARIANTS,
            PREFERRED_VARIANTS.index(v) if v in PREFERRED_VARIANTS else 0,
            v,
        ),
    )


def part_variant(root: Path, part: str) -> str | None:
    """The variant to load ``root/part`` with: None when it holds plain weights (or none at
    all: the loader's own error then names the files it looked for), else its preferred variant."""
    folder = Path(root) / part
    if has_plain_weights(folder):
        return None
    found = variants_in(folder)
    return found[0] if found else None


def missing_weight_files(root: Path, parts: tuple[str, ...]) -> list[str]:
    """The model parts among ``parts`` whose folder under ``root`` holds no weight file at all."""
    return [
        part
        for part in parts
        if part in MODEL_PARTS
        and (Path(root) / part).is_dir()
        and not has_plain_weights(Path(root) / part)
        and not variants_in(Path(root) / part)
    ]
