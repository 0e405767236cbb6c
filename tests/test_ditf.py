"""DiTF exactly (``dit:<id>/ditf``): the feature of Gan et al. (NeurIPS 2025) as their code computes
it, checked against a computation by hand from the diffusers transformer's own modules on the tiny
FLUX and SD3 twins, and the recipe table and its errors through the command line."""

from __future__ import annotations

import inspect
import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import bench
from bench.extraction.digests import item_digest, noise_seed
from bench.extraction.features import backbone_features
from tests.helpers.cli import run_bench
from tests.helpers.dit_models import tiny

SIZE = 48  # pixels: 6 x 6 latents, 3 x 3 tokens
T, DRAWS = 300, 3


def _block(transformer: torch.nn.Module, tap: str) -> torch.nn.Module:
    if tap.startswith("sb"):
        return transformer.single_transformer_blocks[int(tap[2:])]
    return transformer.transformer_blocks[int(tap[2:])]


def ditf_by_hand(backbone_id: str, tap: str, pixels, seeds, channels, *, discard=True) -> torch.Tensor:
    """(B, C, h, w): the plain twin's block input (hooked), its draws averaged, ``channels`` zeroed,
    F.layer_norm without affine (eps 1e-6), then (1 + scale) x + shift, shift and scale the first
    two chunks of the block's image AdaLN linear on SiLU(temb), as DiTF's eval_spair.py does."""
    plain = tiny(backbone_id, image_size=SIZE)
    block = _block(plain.transformer, tap)
    seen: dict[str, torch.Tensor] = {}

    def hook(module, args, kwargs):
        bound = inspect.signature(module.forward).bind(*args, **kwargs).arguments
        seen["stream"], seen["temb"] = bound["hidden_states"], bound["temb"]

    handle = block.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            plain.features(pixels, [tap], timesteps=[T], noise_samples=DRAWS, noise_seeds=seeds,
                           condition=bench.PromptCondition())  # fmt: skip
    finally:
        handle.remove()
    images, tokens = pixels.shape[0], (SIZE // 16) ** 2
    stream = seen["stream"][:, -tokens:]  # image tokens (a FLUX single block's come after the text)
    width = stream.shape[-1]
    x = stream.reshape(images, DRAWS, tokens, width).mean(dim=1)
    if discard:
        x[..., list(channels)] = 0.0
    x = F.layer_norm(x, (width,), eps=1e-6)
    norm = block.norm if tap.startswith("sb") else block.norm1
    with torch.no_grad():
        modulation = norm.linear(F.silu(seen["temb"])).reshape(images, DRAWS, -1).mean(dim=1)
    shift, scale = modulation[:, :width], modulation[:, width : 2 * width]
    features = (1 + scale[:, None]) * x + shift[:, None]
    side = SIZE // 16
    return features.transpose(1, 2).reshape(images, width, side, side)


@pytest.mark.parametrize(
    ("backbone_id", "tap"),
    [("flux-tiny", "sb1"), ("flux-tiny", "sb0"), ("flux-tiny", "jb1"), ("sd3-tiny", "jb2")],
)
def test_ditf_equals_the_feature_computed_by_hand_from_the_transformer(registry, backbone_id, tap):
    """The backbone's maps (every draw) and ``bench.descriptors`` of ``dit:<id>/ditf`` equal, to
    1e-6, DiTF computed by hand from the plain twin's hooked block input and its AdaLN linear;
    dropping the channel discard or the modulation would change them (the check can fail)."""
    from bench_dit.ditf import RECIPES

    channels = RECIPES[backbone_id].channels
    ditf = f"dit:{backbone_id}/ditf"
    backbone = bench.load_backbone(ditf, device="cpu", image_size=SIZE, registry=registry)
    dataset = bench.open_dataset("synthetic", options={"num_classes": 4, "num_unseen": 2}, registry=registry)
    items = dataset.split("gallery")[:3]
    images = [dataset.load_image(item) for item in items]
    seeds = [noise_seed(0, item_digest(dataset, item)) for item in items]
    pixels = backbone.preprocess(images)
    expected = ditf_by_hand(backbone_id, tap, pixels, seeds, channels)

    condition = bench.PromptCondition()
    with torch.inference_mode():
        maps = backbone_features(backbone, pixels, modality="photo", taps=[tap], timesteps=[T],
                                 noise_samples=DRAWS, noise_seeds=seeds, prompt=condition)  # fmt: skip
    got = maps[T][tap]  # (B, N, C, h, w)
    assert tuple(got.shape) == (3, DRAWS, *expected.shape[1:])
    for draw in range(DRAWS):
        torch.testing.assert_close(got[:, draw], expected, rtol=0, atol=1e-6)
    descriptors = bench.descriptors(
        backbone, items, dataset=dataset, layer=tap, pool="gap", t=T, noise_samples=DRAWS, registry=registry
    )
    pooled = F.normalize(expected.mean(dim=(2, 3)), dim=-1).numpy()
    np.testing.assert_allclose(descriptors, pooled, rtol=0, atol=1e-6)

    kept = ditf_by_hand(backbone_id, tap, pixels, seeds, channels, discard=False)
    assert (kept - expected).abs().max() > 1e-3  # the discard matters
    normed = F.layer_norm(expected.transpose(1, 3), (expected.shape[1],)).transpose(1, 3)
    assert (normed - expected).abs().max() > 1e-3  # and so does the modulation


def test_ditf_stops_before_the_deepest_block_and_passes_gradients():
    """The pass ends at the deepest tap's AdaLN: neither that block's attention nor any later block
    runs; gradients reach the pixels (a visual prompt trains through DiTF)."""
    from bench_dit.architecture import VARIANTS
    from bench_dit.ditf import ditf_for

    model = tiny("flux-tiny", image_size=32, massive=ditf_for(VARIANTS["flux-tiny"]))
    calls: list[str] = []
    transformer = model.transformer
    hooks = [
        transformer.single_transformer_blocks[0].attn.register_forward_hook(lambda *a: calls.append("sb0")),
        transformer.single_transformer_blocks[1].register_forward_hook(lambda *a: calls.append("sb1")),
    ]
    pixels = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    try:
        out = model.features(pixels, ["jb1", "sb0"], timesteps=[500], noise_samples=2, noise_seeds=[1, 2],
                             condition=bench.PromptCondition())  # fmt: skip
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == []
    assert set(out[500]) == {"jb1", "sb0"} and tuple(out[500]["sb0"].shape) == (2, 2, 32, 2, 2)
    out[500]["sb0"].square().mean().backward()
    assert pixels.grad.abs().sum() > 0


@pytest.mark.slow
def test_ditf_reads_compiled_blocks_as_plain_ones():
    """``--compile`` compiles block by block; DiTF's hooks sit on the blocks, so they still read
    (dynamo's eager backend here: the same graph capture, no C++ compiler)."""
    from bench_dit.architecture import VARIANTS
    from bench_dit.ditf import ditf_for

    model = tiny("flux-tiny", image_size=32, massive=ditf_for(VARIANTS["flux-tiny"]))
    pixels = torch.rand(2, 3, 32, 32) * 2 - 1
    condition = bench.PromptCondition()
    kwargs = {"timesteps": [500], "noise_samples": 2, "noise_seeds": [1, 2], "condition": condition}
    with torch.no_grad():
        plain = model.features(pixels, ["jb1", "sb0"], **kwargs)[500]
        for block in [*model.transformer.transformer_blocks, *model.transformer.single_transformer_blocks]:
            block.compile(backend="eager")
        compiled = model.features(pixels, ["jb1", "sb0"], **kwargs)[500]
    assert set(compiled) == {"jb1", "sb0"}
    for tap in plain:
        torch.testing.assert_close(compiled[tap], plain[tap], rtol=0, atol=1e-6)


# -- the recipe table, its listing and its errors ---------------------------------------------------


def test_the_recipe_table_holds_ditfs_flux_list_and_fits_each_model(registry):
    from bench_dit.architecture import VARIANTS
    from bench_dit.ditf import RECIPES

    assert RECIPES["flux1-dev"].channels == (154, 1446)  # eval_spair.py / eval_davis.py, --cd
    for model, recipe in RECIPES.items():
        assert all(0 <= c < VARIANTS[model].width for c in recipe.channels), model
    info = registry.backbones.get("dit:flux1-dev/ditf")
    assert info.default_layer == "sb9"  # DiTF's SPair-71k block k = 28 = 19 double + single block 9
    assert info.weights == "black-forest-labs/FLUX.1-dev" and info.weights_check is not None
    fact = info.facts["massive_activations"]
    assert "154, 1446" in fact and "08658e613736a16ba00200683b444cae79be9b2d" in fact
    assert info.layer_names == registry.backbones.get("flux1-dev").layer_names


def test_bench_list_shows_the_recipe_backbones_and_what_each_tap_reads():
    listed = run_bench("list", "backbones", "--json")
    assert listed.returncode == 0, listed.stderr
    tables = json.loads(listed.stdout)
    rows = {row["id"]: row for row in tables["backbones"]}
    assert {"dit:flux1-dev/ditf", "dit:flux-tiny/ditf", "dit:sd3-tiny/ditf"} <= set(rows)
    assert rows["dit:flux1-dev/ditf"]["default_layer"] == "sb9"
    assert "154, 1446" in rows["dit:flux1-dev/ditf"]["description"]
    family = next(row for row in tables["backbone_families"] if row["prefix"] == "dit")
    assert "dit:<id>/ditf" in family["usage"] and "flux1-dev" in family["description"]
    layers = run_bench("list", "layers", "--backbone", "dit:sd3-tiny/ditf", "--json")
    assert layers.returncode == 0, layers.stderr
    described = {row["name"]: row["description"] for row in json.loads(layers.stdout)["layers"]}
    assert "entering transformer_blocks[2]" in described["jb2"] and "norm1 shift/scale" in described["jb2"]


def test_a_model_without_a_channel_list_is_refused_naming_those_with_one():
    result = run_bench("run", "--backbone", "dit:sd35-medium/ditf", "--t", "200")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "DiTF has no massive-channel list for 'sd35-medium'" in message
    assert re.search(r"dit:flux1-dev/ditf, dit:flux-tiny/ditf, dit:sd3-tiny/ditf", message)
    assert "dit:sd35-medium/massive-zero<k>" in message
