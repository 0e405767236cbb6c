"""transformers vision encoders as feature extractors: block outputs read with forward hooks.

transformers models have no ``forward_intermediates``; a forward hook on each requested block
keeps its output, and the hook of the deepest one ends the pass (by raising) when ``embed`` is not
needed, so the pass stops after the deepest requested block as for timm and open_clip.
"""

from __future__ import annotations

from typing import Any

import torch

from bench import Tokens, VisionTransformerEncoder


class _DeepestBlockDone(Exception):
    """Raised by the deepest requested block's hook to end the forward pass early."""


def encoder_blocks(model: torch.nn.Module, depth: int) -> torch.nn.ModuleList:
    """The model's list of ``depth`` transformer blocks (``encoder.layer``, ``model.layer``,
    ``vision_model.encoder.layers``: the first ``ModuleList`` of that length)."""
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == depth:
            return module
    raise ValueError(f"{type(model).__name__} has no list of {depth} blocks")


class HFViTFeatures(VisionTransformerEncoder):
    """A transformers ViT (DINOv2, DINOv3, SigLIP, CLIP image tower).

    ``block<k>`` is block k's output tokens after the class and register tokens, as a (B, C, S/p,
    S/p) map; ``block<k>.cls`` the class token (B, C); ``embed`` the output attribute
    ``embed_output`` of the whole model (``pooler_output``, ``image_embeds``), (B, D).

    Args:
        model, depth, normalization, image_size, weights, device, dtype: as for the base class.
        patch: patch size in pixels.
        prefix_tokens: class plus register tokens before the patch tokens.
        class_token: whether the first prefix token is a class token.
        embed_output: the attribute of the model's output that is ``embed``.
        forward_kwargs: extra arguments of the forward pass (``interpolate_pos_encoding``).
    """

    def __init__(
        self,
        *,
        patch: int,
        prefix_tokens: int,
        class_token: bool,
        embed_output: str,
        forward_kwargs: dict[str, Any],
        **base: Any,
    ) -> None:
        super().__init__(**base)
        self.patch = patch
        self.prefix_tokens = prefix_tokens
        self.class_token = class_token
        self.embed_output = embed_output
        self.forward_kwargs = forward_kwargs
        self.blocks = encoder_blocks(self.model, self.depth)

    def forward_tokens(self, pixels: torch.Tensor, blocks: list[int], embed: bool) -> Tokens:
        outputs: dict[int, torch.Tensor] = {}

        def keep(index: int):
            def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
                outputs[index] = output[0] if isinstance(output, tuple) else output
                if index == blocks[-1] and not embed:
                    raise _DeepestBlockDone

            return hook

        handles = [self.blocks[k].register_forward_hook(keep(k)) for k in blocks]
        result = None
        try:
            result = self.model(pixel_values=pixels, **self.forward_kwargs)
        except _DeepestBlockDone:
            pass
        finally:
            for handle in handles:
                handle.remove()
        batch, _, height, width = pixels.shape
        side_h, side_w = height // self.patch, width // self.patch
        patches = [
            outputs[k][:, self.prefix_tokens :].reshape(batch, side_h, side_w, -1).permute(0, 3, 1, 2)
            for k in blocks
        ]
        cls = [outputs[k][:, 0] for k in blocks] if self.class_token else []
        pooled = getattr(result, self.embed_output) if embed else None
        return Tokens(patches, cls, pooled)
