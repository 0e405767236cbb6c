"""sd-mini: a miniature latent diffusion model with Stable Diffusion's structure, trained here.

An 8x KL autoencoder, a four-level cross-attention UNet and a small CLIP text encoder over the real
CLIP vocabulary, trained on the procedural sketch/photo generator (``bench_datasets.synthetic``) and
saved as a standard diffusers folder. ``python -m bench_sdmini train --help`` reproduces it; see
``docs/sd-mini.md``. Importing this package imports neither torch nor diffusers.
"""

from __future__ import annotations


class SdMiniError(Exception):
    """A training request that cannot be carried out (the message says why and what to do)."""
