"""The sd-tiny diffusion feature extractor: exact semantics, early exit, per-item noise."""

from __future__ import annotations

import pytest
import torch
from bench_datasets.synthetic import SyntheticCategory
from bench_sd.architecture import SD15_SCHEDULE
from bench_sd.features import unet_taps
from bench_sd.loaders import build_tiny
from diffusers import DDPMScheduler

from bench import PromptCondition
from bench.extract import ExtractionRequest, extract_descriptors
from bench.layers import resolve_layer
from bench.plugins import load_plugins

IMAGE_SIZE = 64


@pytest.fixture(scope="module")
def registry():
    return load_plugins().build_registry()


@pytest.fixture(scope="module")
def model(registry):
    info = registry.backbones.get("sd-tiny")
    return build_tiny(
        info, weights="random", device=torch.device("cpu"), dtype=torch.float32, image_size=IMAGE_SIZE
    )


@pytest.fixture(scope="module")
def dataset():
    return SyntheticCategory(num_unseen=2, photos_per_class=3, image_size=IMAGE_SIZE)


def test_random_weights_are_the_same_on_every_build(registry, model):
    again = build_tiny(
        registry.backbones.get("sd-tiny"),
        weights="random",
        device=torch.device("cpu"),
        dtype=torch.float32,
        image_size=IMAGE_SIZE,
    )
    for (name, a), (_, b) in zip(
        model.unet.state_dict().items(), again.unet.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_every_listed_layer_has_the_documented_channels_and_stride(registry, model, dataset):
    info = registry.backbones.get("sd-tiny")
    pixels = model.preprocess([dataset.load_image(dataset.split("gallery")[0])])
    features = model.extract(
        pixels,
        modality="photo",
        taps=info.layer_names,
        timesteps=[200],
        noise_samples=2,
        noise_seeds=[7],
        prompt=PromptCondition(),
    )[200]
    for layer in info.layers:
        assert features[layer.name].shape == (
            1,
            2,
            layer.channels,
            IMAGE_SIZE // layer.stride,
            IMAGE_SIZE // layer.stride,
        )


def test_the_pass_stops_after_the_deepest_requested_block(model):
    calls = []
    handle = model.unet.up_blocks[2].register_forward_hook(lambda *args: calls.append("up2"))
    sample = torch.randn(1, 4, 8, 8)
    text = model.encode_text("")
    try:
        unet_taps(model.unet, sample, 10, text, ["up1", "mid"])
        assert calls == []
        unet_taps(model.unet, sample, 10, text, ["up2"])
        assert calls == ["up2"]
    finally:
        handle.remove()


def test_truncated_pass_equals_the_full_forward(model):
    """Taps read with early exit equal the block outputs of diffusers' own full forward pass."""
    sample = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    text = model.encode_text("").expand(2, -1, -1)
    full: dict[str, torch.Tensor] = {}
    handles = [
        model.unet.up_blocks[i].register_forward_hook(lambda m, a, out, i=i: full.__setitem__(f"up{i}", out))
        for i in range(3)
    ]
    with torch.inference_mode():
        model.unet(sample, 300, encoder_hidden_states=text)
    for handle in handles:
        handle.remove()
    with torch.inference_mode():
        early = unet_taps(model.unet, sample, 300, text, ["up0", "up1"])
    assert torch.equal(early["up0"], full["up0"]) and torch.equal(early["up1"], full["up1"])


def test_noising_matches_the_ddpm_scheduler(model):
    """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, as diffusers' DDPMScheduler.add_noise."""
    scheduler = DDPMScheduler(**SD15_SCHEDULE)
    assert torch.allclose(model.alphas_cumprod.float(), scheduler.alphas_cumprod)
    x0, eps = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    abar = float(model.alphas_cumprod[273])
    ours = abar**0.5 * x0 + (1 - abar) ** 0.5 * eps
    assert torch.allclose(ours, scheduler.add_noise(x0, eps, torch.tensor([273])), atol=1e-6)


def _descriptors(model, registry, dataset, items, *, seed=0, batch_size=4, noise_samples=2):
    info = registry.backbones.get("sd-tiny")
    layers = tuple(resolve_layer(v, info, registry.layer_selectors) for v in ("up1", "coarse"))
    request = ExtractionRequest(layers, (100, 500), noise_samples, seed, PromptCondition(), batch_size)
    return extract_descriptors(model, dataset, items, request)


def test_descriptor_does_not_depend_on_batch_composition(model, registry, dataset):
    items = dataset.split("gallery")
    together = _descriptors(model, registry, dataset, items, batch_size=6)
    alone = _descriptors(model, registry, dataset, items[4:5], batch_size=1)
    for key in alone:
        assert together[key].shape == (len(items), together[key].shape[1])
        torch.testing.assert_close(
            torch.from_numpy(alone[key][0]), torch.from_numpy(together[key][4]), rtol=1e-4, atol=1e-5
        )


def test_seed_decides_the_noise(model, registry, dataset):
    items = dataset.split("query")[:2]
    a = _descriptors(model, registry, dataset, items, seed=0)
    b = _descriptors(model, registry, dataset, items, seed=0)
    c = _descriptors(model, registry, dataset, items, seed=1)
    key = (100, "up1")
    assert (a[key] == b[key]).all()
    assert not (a[key] == c[key]).all()


def test_fused_selector_concatenates_taps(model, registry, dataset):
    items = dataset.split("query")[:2]
    out = _descriptors(model, registry, dataset, items)
    info = registry.backbones.get("sd-tiny")
    assert out[(500, "coarse")].shape == (2, info.layer("up0").channels + info.layer("up1").channels)


def test_text_prompt_changes_the_features(model, dataset):
    pixels = model.preprocess([dataset.load_image(dataset.split("query")[0])])
    kwargs = dict(modality="sketch", taps=["up1"], timesteps=[200], noise_samples=1, noise_seeds=[3])
    empty = model.extract(pixels, prompt=PromptCondition(""), **kwargs)[200]["up1"]
    text = model.extract(pixels, prompt=PromptCondition("a photo of a"), **kwargs)[200]["up1"]
    assert not torch.allclose(empty, text)
    assert model.tokenizer(["a photo of a cat"]).input_ids[0][:7] == [49406, 320, 1125, 539, 320, 2368, 49407]
