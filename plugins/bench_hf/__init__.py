"""Built-in plugin: transformers vision encoders by repository id or folder (``hf:<repo id>``).

``Dinov2Model``, ``Dinov2WithRegistersModel``, ``DINOv3ViTModel``, ``SiglipVisionModel`` and
``CLIPVisionModel`` (``CLIPVisionModelWithProjection`` for a full CLIP repository), chosen by the
``model_type`` of the repository's ``config.json``, read from a local folder or the Hugging Face
cache. Registers lazily: nothing here imports torch or transformers.
"""

from __future__ import annotations

from bench import BackboneFamily, hookimpl


@hookimpl
def register_backbone_families(register) -> None:
    register(
        BackboneFamily(
            prefix="hf",
            resolve="bench_hf.by_name:resolve",
            usage="hf:<repo id>",
            description="a transformers vision encoder (DINOv2, DINOv3 ViT, SigLIP, CLIP) by Hugging Face "
            "repository id (read from the HF cache offline) or local folder (hf:/path/to/model)",
            example="hf:facebook/dinov3-vits16-pretrain-lvd1689m",
        )
    )
