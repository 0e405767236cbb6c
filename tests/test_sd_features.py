"""Stable Diffusion features: faithful to diffusers' public API, early exit, noise, prompts, shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from bench_datasets.synthetic import SyntheticCategory
from bench_sd.architecture import SD_SCHEDULE, VARIANTS, miniature
from bench_sd.features import StableDiffusionFeatures
from bench_sd.loaders import random_model
from diffusers import DDPMScheduler, UNet2DConditionModel

import bench
from bench import BackboneInfo, BenchError, DenoiserInputs, PromptCondition
from bench.extraction.digests import image_digest, noise_seed
from bench.extraction.features import LoadedBackbone, backbone_features
from bench.extraction.loop import ExtractionRequest, extract_descriptors
from bench.plan.layers import resolve_layer
from bench.plan.settings import ExecutionSettings

SIZE = 64
SEED = 5
EMPTY_PROMPT = PromptCondition()
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model(registry):
    return bench.load_backbone("sd-tiny", device="cpu", image_size=SIZE, registry=registry)


def loaded(variant, model) -> LoadedBackbone:
    """A raw SD model of a (shrunken) variant with the layer table of that variant."""
    info = BackboneInfo(
        id=variant.id,
        target=random_model,
        description="",
        layers=tuple(variant.layers),
        default_layer="up1",
        weights="random",
        image_size=SIZE,
        num_timesteps=1000,
        accepts_text=True,
    )
    return LoadedBackbone(info, model, "test")


@pytest.fixture(scope="module")
def dataset():
    return SyntheticCategory(num_unseen=2, photos_per_class=4, image_size=SIZE)


def describe(
    model,
    registry,
    dataset,
    items,
    layers=("up1",),
    timesteps=(200,),
    noise_samples=2,
    batch_size=4,
    prompt=EMPTY_PROMPT,
    pool=None,
):
    info = registry.backbones.get("sd-tiny")
    plans = tuple(resolve_layer(layer, info, registry.layer_selectors, pool) for layer in layers)
    settings = ExecutionSettings(seed=SEED, batch_size=batch_size, workers=0)
    request = ExtractionRequest(plans, tuple(timesteps), noise_samples, prompt, settings)
    return extract_descriptors(model, dataset, items, request).descriptors


def reference_descriptor(model, images, tap_index, t, noise_samples):
    """DIFT-style reference from diffusers' public API only: encode, add_noise, full UNet pass with a
    hook on up_blocks[i], mean over H and W; L2-normalise each draw, average the draws."""
    scheduler = DDPMScheduler(**SD_SCHEDULE)
    pixels = model.preprocess(images)
    latents = model.model.vae.encode(pixels).latent_dist.mean * model.model.vae.config.scaling_factor
    context = model.model.encode_text("").hidden_states
    captured = {}
    hook = model.model.unet.up_blocks[tap_index].register_forward_hook(
        lambda m, a, out: captured.__setitem__("x", out)
    )
    rows = []
    try:
        for image, latent in zip(images, latents, strict=True):
            generator = torch.Generator().manual_seed(noise_seed(SEED, image_digest(image)))
            noise = torch.randn((noise_samples, *latent.shape), generator=generator)
            noisy = scheduler.add_noise(latent.expand_as(noise), noise, torch.tensor([t] * noise_samples))
            model.model.unet(noisy, t, encoder_hidden_states=context.expand(noise_samples, -1, -1))
            rows.append(F.normalize(captured["x"].mean(dim=(-2, -1)), dim=-1).mean(dim=0))
    finally:
        hook.remove()
    return torch.stack(rows).numpy()


@torch.inference_mode()
@pytest.mark.parametrize(("tap_index", "t"), [(0, 0), (1, 273), (2, 999), (1, 50)])
def test_descriptor_equals_the_diffusers_reference(model, registry, dataset, tap_index, t):
    items = dataset.split("gallery")[:5]
    ours = describe(model, registry, dataset, items, layers=(f"up{tap_index}",), timesteps=(t,), batch_size=3)
    reference = reference_descriptor(model, [dataset.load_image(item) for item in items], tap_index, t, 2)
    assert np.abs(ours[(t, f"up{tap_index}")] - reference).max() <= 1e-5


def test_early_exit_changes_nothing(model, registry, dataset):
    items = dataset.split("query")[:3]
    shallow = describe(model, registry, dataset, items, layers=("up0",))
    deep = describe(model, registry, dataset, items, layers=("up0", "up2"))
    assert np.array_equal(shallow[(200, "up0")], deep[(200, "up0")])


def test_the_pass_stops_after_the_deepest_requested_block(model):
    calls = []
    handle = model.model.unet.up_blocks[2].register_forward_hook(lambda *args: calls.append("up2"))
    inputs = DenoiserInputs(torch.randn(1, 4, 8, 8), 10, model.model.encode_text("").batched(1, 1))
    try:
        with torch.inference_mode():
            model.model.read_taps(inputs, ["up1", "mid"], 1)
            assert calls == []
            model.model.read_taps(inputs, ["up2"], 1)
        assert calls == ["up2"]
    finally:
        handle.remove()


def test_same_image_alone_in_a_batch_of_7_and_reordered(model, registry, dataset):
    items = dataset.split("gallery")[:7]
    batch = describe(model, registry, dataset, items, batch_size=7)[(200, "up1")]
    alone = describe(model, registry, dataset, items[3:4], batch_size=1)[(200, "up1")]
    reordered = describe(model, registry, dataset, items[::-1], batch_size=4)[(200, "up1")]
    np.testing.assert_allclose(alone[0], batch[3], atol=1e-6)
    np.testing.assert_allclose(reordered[::-1], batch, atol=1e-6)


def test_timestep_layer_and_seed_change_the_descriptor(model, registry, dataset):
    items = dataset.split("query")[:2]
    out = describe(model, registry, dataset, items, layers=("up0", "up2"), timesteps=(0, 999))
    assert not np.allclose(out[(0, "up0")], out[(999, "up0")])
    assert out[(0, "up0")].shape[1] != out[(0, "up2")].shape[1] or not np.allclose(
        out[(0, "up0")], out[(0, "up2")]
    )
    same = describe(model, registry, dataset, items, layers=("up0",), timesteps=(0,))
    assert np.array_equal(same[(0, "up0")], out[(0, "up0")])


def test_noising_matches_the_ddpm_scheduler(model):
    scheduler = DDPMScheduler(**SD_SCHEDULE)
    assert torch.allclose(model.model.alphas_cumprod.float(), scheduler.alphas_cumprod)


def test_pooling_and_fused_selector_dimensions(model, registry, dataset):
    items = dataset.split("query")[:2]
    info = registry.backbones.get("sd-tiny")
    fused = describe(model, registry, dataset, items, layers=("coarse", "up1+up2"))
    assert fused[(200, "coarse")].shape == (2, info.layer("up0").channels + info.layer("up1").channels)
    flat = describe(model, registry, dataset, items, layers=("up2",), pool="flatten")
    assert flat[(200, "up2")].shape == (2, info.layer("up2").channels * 16)
    for pool in ("gmp", "gem"):
        assert describe(model, registry, dataset, items, pool=pool)[(200, "up1")].shape == (2, 64)


def test_prompts_condition_the_features(model, registry, dataset):
    items = dataset.split("query")[:2]
    base = describe(model, registry, dataset, items)[(200, "up1")]
    text = describe(model, registry, dataset, items, prompt=PromptCondition("a drawing of"))[(200, "up1")]
    learned = torch.randn(77, 32, generator=torch.Generator().manual_seed(0))
    textual = describe(model, registry, dataset, items, prompt=PromptCondition(text_embedding=learned))[
        (200, "up1")
    ]
    border = torch.zeros(3, SIZE, SIZE)
    border[:, :4] = border[:, -4:] = 0.5
    visual_photo = PromptCondition(visual={"photo": border})
    sketch_unaffected = describe(model, registry, dataset, items, prompt=visual_photo)[(200, "up1")]
    visual_sketch = describe(
        model, registry, dataset, items, prompt=PromptCondition(visual={"sketch": border})
    )
    for other in (text, textual, visual_sketch[(200, "up1")]):
        assert not np.allclose(base, other)
    assert np.array_equal(base, sketch_unaffected)
    with pytest.raises(BenchError, match="textual prompt does not fit"):
        describe(model, registry, dataset, items, prompt=PromptCondition(text_embedding=torch.zeros(77, 8)))
    assert model.model.conditioner.tokenizer(["a photo of a cat"]).input_ids[0][:7] == [
        49406,
        320,
        1125,
        539,
        320,
        2368,
        49407,
    ]


def _meta_inputs(variant):
    unet = variant.unet
    latent = torch.empty(1, 4, variant.image_size // 8, variant.image_size // 8, device="meta")
    context = torch.empty(1, 77, unet["cross_attention_dim"], device="meta")
    added = None
    if variant.dual_text:
        pooled = unet["projection_class_embeddings_input_dim"] - 6 * unet["addition_time_embed_dim"]
        added = {
            "text_embeds": torch.empty(1, pooled, device="meta"),
            "time_ids": torch.empty(1, 6, device="meta"),
        }
    return latent, context, added


@pytest.mark.slow
@pytest.mark.parametrize("variant_id", sorted(VARIANTS))
def test_every_layer_of_every_real_architecture_has_the_listed_shape(variant_id, registry):
    """The real configs, built on the meta device (no weights, no memory), at their native resolution."""
    variant = VARIANTS[variant_id]
    with torch.device("meta"):
        unet = UNet2DConditionModel(**variant.unet)
    latent, context, added = _meta_inputs(variant)
    info = registry.backbones.get(variant_id)
    model = StableDiffusionFeatures(  # no VAE or text encoders: read_taps takes latents and conditioning
        vae=None,
        unet=unet,
        conditioner=torch.nn.Identity(),
        alphas_cumprod=torch.ones(1000),
        image_size=variant.image_size,
        weights="meta",
        device=torch.device("meta"),
        dtype=torch.float32,
    )
    taps = model.read_taps(DenoiserInputs(latent, 10, (context, added)), info.layer_names, 1)
    for layer in info.layers:
        side = variant.image_size // layer.stride
        assert tuple(taps[layer.name].shape) == (1, 1, layer.channels, side, side), layer.name


@pytest.mark.slow
@pytest.mark.parametrize("variant_id", ["sd15", "sd21", "sdxl"])
def test_shrunken_real_architectures_extract_end_to_end(variant_id, dataset):
    """Real block structure and conditioning path (SDXL: two encoders, added time ids), tiny widths."""
    variant = miniature(VARIANTS[variant_id])
    model = loaded(variant, random_model(variant, image_size=SIZE, device=CPU, dtype=torch.float32))
    pixels = model.preprocess([dataset.load_image(item) for item in dataset.split("gallery")[:2]])
    names = [layer.name for layer in variant.layers]
    with torch.inference_mode():
        out = backbone_features(
            model,
            pixels,
            modality="photo",
            taps=names,
            timesteps=[273],
            noise_samples=2,
            noise_seeds=[1, 2],
            prompt=PromptCondition(),
        )[273]
    for layer in variant.layers:
        side = SIZE // layer.stride
        assert out[layer.name].shape == (2, 2, layer.channels, side, side)
        assert torch.isfinite(out[layer.name]).all()


def test_bf16_descriptors_stay_close_to_fp32(registry, dataset, model):
    bf16 = bench.load_backbone("sd-tiny", device="cpu", dtype="bf16", image_size=SIZE, registry=registry)
    items = dataset.split("query")[:3]
    a = describe(model, registry, dataset, items)[(200, "up1")]
    b = describe(bf16, registry, dataset, items)[(200, "up1")]
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.98


# -- the documented noise seeding (docs/protocol.md section 5) --------------------------------------


def documented_noise_functions() -> dict:
    """The Python block of docs/protocol.md that specifies an image's noise, executed as written."""
    text = (Path(__file__).parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = text[text.index("The noise of one image, exactly") :]
    block = section[section.index("```python\n") + len("```python\n") :]
    namespace: dict = {}
    exec(block[: block.index("```")], namespace)
    return namespace


class _ImageFiles(bench.Dataset):
    """Photos read from files, one class."""

    def __init__(self, paths: list[Path]) -> None:
        self.items = [bench.ImageItem(path.stem, "photo", "star", path=path) for path in paths]

    def split(self, name):
        return self.items

    def load_image(self, item):
        return bench.load_rgb(item.path)


def test_the_noise_a_backbone_is_given_is_the_documented_formula(model, dataset, tmp_path, monkeypatch):
    """An independent implementation from the protocol's text (hashlib and torch only) gives exactly
    the noise ``bench.descriptors`` hands the model, for images from files (seeded by their bytes:
    two files of the same pixels get different noise) and generated images, and the largest seed."""
    documented = documented_noise_functions()
    given: list[torch.Tensor] = []
    draw = model.model.draw_noise
    monkeypatch.setattr(model.model, "draw_noise", lambda *args: given.append(draw(*args)) or given[-1])
    image = dataset.load_image(dataset.split("gallery")[0])
    image.save(tmp_path / "a.png")
    image.save(tmp_path / "b.png", compress_level=1)
    files = _ImageFiles([tmp_path / "a.png", tmp_path / "b.png"])
    for seed in (7, 2**63 - 1):
        given.clear()
        bench.descriptors(model, files.items, dataset=files, layer="up1", t=200, noise_samples=3, seed=seed)
        bench.descriptors(model, [image], layer="up1", t=200, noise_samples=3, seed=seed)
        file_noise, generated_noise = given
        latent_shape = tuple(file_noise.shape[2:])
        for row, item in zip(file_noise, files.items, strict=True):
            digest = documented["file_digest"](item.path.read_bytes())
            assert torch.equal(row, documented["noise"](seed, digest, 3, latent_shape)), item.key
        digest = documented["generated_digest"](image)
        assert torch.equal(generated_noise[0], documented["noise"](seed, digest, 3, latent_shape))
        assert not torch.equal(file_noise[0], file_noise[1])  # same pixels, other bytes
