"""DiTF exactly: the feature recipe ``dit:<id>/ditf`` of Gan et al., "Unleashing Diffusion Transformers
for Visual Correspondence by Modulating Massive Activations" (NeurIPS 2025).

Read from the authors' code, github.com/ganchaofan0000/DiTF at commit
08658e613736a16ba00200683b444cae79be9b2d (``src/flux/model.py`` ``Flux.forward_feat``,
``src/flux/modules/layers.py`` ``SingleStreamBlock.forward_feat``, ``src/flux/feat_flux.py``
``Featurizer4Eval.forward``, ``eval_spair.py`` and ``eval_davis.py``). For a tap's block, per image:

1. the residual stream entering the block (before its first norm), image tokens only, from each of
   the image's N noise draws (DiTF's ``ensemble_size`` copies), averaged over the draws;
2. the model's fixed massive channels set to 0 (``--cd``: FLUX.1-dev's 154 and 1446);
3. LayerNorm over channels without affine parameters, eps 1e-6 (``nn.LayerNorm(3072,
   elementwise_affine=False, eps=1e-6)``);
4. that block's AdaLN modulation of its first norm, ``(1 + scale) * x + shift``, shift and scale the
   first two chunks of the block's modulation linear on its conditioning vector, the one the block
   itself gets: the timestep embedding plus FLUX.1-dev's guidance embedding plus the pooled text.

DiTF's code reads FLUX's single-stream blocks only (its block index k >= 19 is
``single_transformer_blocks[k - 19]``: k = 28, i.e. ``sb9``, and t = 260 with 8 draws for SPair-71k;
k = 24, ``sb5``, and t = 90 for DAVIS). On a joint block (SD3's, FLUX's double-stream ones) the same
rule reads the image stream entering it and the image stream's modulation (``norm1``; not
``norm1_context``), an extension of ours. Only FLUX.1-dev has a channel list in DiTF's code; a tiny
twin names channels of its own so that the tests can check the recipe.

Every noise draw of an image carries the same (ensemble) feature, so the descriptor (pooled and
L2-normalised per draw, averaged over draws) is that of DiTF's averaged map. Importing this module
imports no torch (the backbone family parses names with it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from bench import BenchError, TapInfo
from bench_dit.architecture import DiTVariant, block_of

if TYPE_CHECKING:
    import torch

DITF_SOURCE = "github.com/ganchaofan0000/DiTF @ 08658e613736a16ba00200683b444cae79be9b2d"
LAYER_NORM_EPS = 1e-6  # DiTF's nn.LayerNorm(..., elementwise_affine=False, eps=1e-6), as the blocks' own


@dataclass(frozen=True)
class DiTFRecipe:
    """What DiTF needs to know of one model.

    Attributes:
        channels: the massive channels set to 0, fixed for the model.
        source: where the list comes from.
        default_layer: the tap DiTF's paper setting reads (None: the plain model's default).
    """

    channels: tuple[int, ...]
    source: str
    default_layer: str | None = None


RECIPES: dict[str, DiTFRecipe] = {
    "flux1-dev": DiTFRecipe(
        (154, 1446),
        f"DiTF's eval_spair.py and eval_davis.py ({DITF_SOURCE}); its SPair-71k setting reads block "
        "k = 28 (sb9) at t = 260 with 8 noise draws",
        "sb9",
    ),
    # The tiny twins' random weights have no massive channels: lists of their own, for the tests.
    "flux-tiny": DiTFRecipe((7, 19), "the tiny twin's own list (tests)"),
    "sd3-tiny": DiTFRecipe((4, 27), "the tiny twin's own list (tests)"),
}


def _block_text(tap: str) -> str:
    """``"sb9"`` -> ``"single_transformer_blocks[9]"``."""
    blocks, index = block_of(tap)
    return f"{blocks}[{index}]"


def _norm_name(tap: str) -> str:
    """The AdaLN of a tap's block that modulates its image stream first: ``norm1`` of a joint block
    (SD3's, FLUX's double-stream), ``norm`` of a FLUX single-stream block."""
    blocks, _ = block_of(tap)
    return "norm" if blocks == "single_transformer_blocks" else "norm1"


def _stream_and_conditioning(block: torch.nn.Module, args: tuple, kwargs: dict) -> tuple:
    """(hidden_states, temb) of a call of a diffusers transformer block, however they were passed."""
    import inspect

    bound = inspect.signature(block.forward).bind(*args, **kwargs).arguments
    return bound["hidden_states"], bound["temb"]


@dataclass(frozen=True)
class DiTF:
    """The DiTF feature of a model (see the module docstring); ``recipe`` holds its channel list."""

    recipe: DiTFRecipe
    name: ClassVar[str] = "ditf"

    @property
    def channels(self) -> tuple[int, ...]:
        return self.recipe.channels

    def describe(self) -> str:
        """What it does, in words (recorded in results)."""
        channels = ", ".join(str(c) for c in self.channels)
        return (
            "DiTF (Gan et al., NeurIPS 2025): per image, the image tokens entering the tap's block averaged "
            f"over the noise draws, channels {channels} set to 0 ({self.recipe.source}), LayerNorm without "
            f"affine (eps {LAYER_NORM_EPS:g}), then the block's AdaLN (1 + scale) x + shift on its "
            f"conditioning (timestep, guidance, pooled text); code: {DITF_SOURCE}"
        )

    def layers(self, variant: DiTVariant) -> tuple[TapInfo, ...]:
        """The plain model's taps, described as what DiTF reads there (same channels and stride)."""
        channels = "+".join(str(c) for c in self.channels)
        return tuple(
            replace(
                layer,
                description=(
                    f"DiTF: image tokens entering {_block_text(layer.name)}, channels {channels} "
                    f"zeroed, LayerNorm, the block's {_norm_name(layer.name)} shift/scale"
                ),
            )
            for layer in variant.layers
        )

    def read(
        self,
        transformer: torch.nn.Module,
        forward: Callable[[], object],
        taps: Sequence[str],
        *,
        grid: tuple[int, int],
        images: int,
    ) -> dict[str, torch.Tensor]:
        """DiTF maps of the requested taps from one pass that stops before the deepest tap's block runs.

        Args:
            transformer: an ``SD3Transformer2DModel`` or ``FluxTransformer2DModel``.
            forward: runs it on B * N samples, image-major (sample ``i * N + n``: image i, draw n).
            taps: ``jb<i>`` / ``sb<i>`` names.
            grid: (h, w) image tokens per column and row.
            images: B.

        Returns:
            ``{tap: (B, N, C, h, w)}``, every draw of an image the same (ensemble) feature.
        """
        import torch

        from bench import read_block_inputs
        from bench_dit.taps import tap_module, tap_order, tokens_to_map

        def block(tap: str) -> torch.nn.Module:
            return tap_module(transformer, tap)

        def keep(tap: str, call: tuple[tuple, dict]) -> tuple[torch.Tensor, torch.Tensor]:
            stream, emb = _stream_and_conditioning(block(tap), *call)
            return stream[:, stream.shape[1] - grid[0] * grid[1] :], emb  # image tokens: the last n

        # Hooked on the block itself (not its AdaLN submodule), so compiled blocks are read too.
        inputs = read_block_inputs(taps, tap_order(transformer), block, forward, keep, "transformer")
        maps = {}
        for tap, (stream, emb) in inputs.items():
            samples, tokens, width = stream.shape
            draws = samples // images
            ensemble = stream.reshape(images, draws, tokens, width).mean(dim=1)  # (B, n, C)
            discarded = ensemble.index_fill(-1, torch.tensor(self.channels, device=stream.device), 0.0)
            conditioning = emb.reshape(images, draws, -1)[:, 0]  # the same for every draw of an image
            adaln = getattr(block(tap), _norm_name(tap))
            features = adaln(discarded, emb=conditioning)[0]  # LayerNorm, then (1 + scale) x + shift
            maps[tap] = tokens_to_map(features, *grid)[:, None].expand(-1, draws, -1, -1, -1)
        return maps


def ditf_for(variant: DiTVariant) -> DiTF:
    """DiTF for ``variant``.

    Raises:
        BenchError: DiTF's code gives no channel list for the model.
    """
    recipe = RECIPES.get(variant.id)
    if recipe is None:
        known = ", ".join(f"dit:{model}/ditf" for model in RECIPES)
        raise BenchError(
            f"DiTF has no massive-channel list for {variant.id!r}: its code (github.com/ganchaofan0000/DiTF) "
            "gives one for FLUX.1-dev only.",
            f"Use one of {known}, or dit:{variant.id}/massive-zero<k>, which zeroes the k largest "
            "channels of each image instead.",
        )
    return DiTF(recipe)
