"""The factory of ``hf:`` backbones: the transformers class of the model type, weights from a folder
or the Hugging Face cache (downloaded only when the hub is reachable)."""

from __future__ import annotations

from pathlib import Path

import torch

from bench import BackboneInfo, BenchError, PixelNormalization
from bench.weights import RANDOM, TensorGaps, loading_info_gaps, require_complete
from bench_hf.architecture import HFEncoder
from bench_hf.by_name import PREFIX, describe
from bench_hf.features import HFViTFeatures
from bench_hf.sources import how_to_get, local_weights, model_folder


def tower_config(encoder: HFEncoder, folder: Path):
    """The image tower's transformers config from ``folder``'s ``config.json``: its ``vision_config``
    for a full CLIP or SigLIP model (a full CLIP model's ``projection_dim`` carried over, which
    loading the tower class from the full config would reset to its default)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    if not encoder.kind.vision_config:
        return config
    vision = config.vision_config
    if encoder.kind.embed_output == "image_embeds":
        vision.projection_dim = config.projection_dim
    return vision


def load_network(encoder: HFEncoder, weights: str, backbone_id: str) -> torch.nn.Module:
    """``encoder``'s model with ``weights`` (a folder, a repository id, or ``"random"``: the
    configuration's architecture with weights drawn from seed 0).

    Raises:
        BenchError: the weights are missing or unreadable, naming them and how to get them.
    """
    import transformers

    model_class = getattr(transformers, encoder.kind.model_class)
    config = tower_config(
        encoder, model_folder(encoder.source if weights == RANDOM else weights, backbone_id)
    )
    if weights == RANDOM:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return model_class(config)
    here = Path(weights).expanduser().is_dir() or local_weights(weights) is not None
    try:
        model, info = model_class.from_pretrained(
            weights, config=config, local_files_only=here, output_loading_info=True
        )
    except (OSError, ValueError) as exc:  # missing files (offline), or a folder of another model
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(
            f"Could not load the weights {weights!r} of backbone {backbone_id!r} "
            f"as {encoder.kind.model_class}: {reason}",
            how_to_get(weights, backbone_id),
        ) from exc
    require_complete(
        own_gaps(model, loading_info_gaps(info)),
        f"The weights {weights!r} of backbone {backbone_id!r} ({encoder.kind.model_class})",
        f"Check that they are complete (a truncated download or an edited file leaves tensors out). "
        f"{how_to_get(weights, backbone_id)}",
    )
    return model


def own_gaps(model: torch.nn.Module, gaps: TensorGaps) -> TensorGaps:
    """``gaps`` less the unexpected tensors outside the model's own modules: the text tower and
    logit scale of a full CLIP or SigLIP checkpoint, whose image tower alone is loaded."""
    own = {name for name, _ in model.named_children()}
    own |= {name for name, _ in [*model.named_parameters(recurse=False), *model.named_buffers(recurse=False)]}
    return TensorGaps(gaps.missing, tuple(key for key in gaps.unexpected if key.split(".", 1)[0] in own))


def build_model(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> HFViTFeatures:
    """The backbone ``hf:<repo id or folder>`` with ``weights``."""
    encoder = describe(info.id.removeprefix(f"{PREFIX}:"))
    model = load_network(encoder, weights, info.id)
    return HFViTFeatures(
        model=model,
        depth=encoder.depth,
        normalization=PixelNormalization(encoder.mean, encoder.std, encoder.interpolation),
        image_size=image_size,
        weights="random (seed 0)" if weights == RANDOM else weights,
        device=device,
        dtype=dtype,
        patch=encoder.patch,
        prefix_tokens=int(encoder.kind.class_token) + encoder.registers,
        class_token=encoder.kind.class_token,
        embed_output=encoder.kind.embed_output,
        forward_kwargs={"interpolate_pos_encoding": True} if encoder.kind.interpolates else {},
    )
