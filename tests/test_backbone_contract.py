"""The backbone contract, held by every registered backbone and one name of every backbone family.

Each is loaded with ``bench.load_backbone`` and read through the runtime contract of
``bench.api.backbones`` (``preprocess``, then ``features`` for all its taps at once):

* its taps are the ones ``bench list layers --backbone ID`` lists, each returned and nothing else;
* each tap has the channels it declares, and a map tap is ``image_size / stride`` cells wide
  (a vector tap, stride 0, is one C-vector per image and noise draw);
* the same input twice gives equal tensors (``torch.equal``);
* an image read alone equals the same image read inside a batch, within ``BATCH_TOLERANCE`` of
  the tap's largest value (a batch changes the blocking of CPU matrix products: the last bits of
  some models differ).

A registered backbone whose weights are a download cannot be built here: it is listed as
registered, and its tiny twin (``STAND_INS``: the miniature of the same architecture its plugin
registers with seeded random weights) holds the runtime contract in its own case; a quick test holds
every registered backbone to having one (the contract tests themselves are marked slow). Its real
taps' shapes are checked on a meta-device build of its architecture where its plugin is tested
(``tests/test_sd_features.py``, ``test_dit_backbones.py``, ``test_new_backbones.py``,
``test_timm.py``). Family names are built with random weights at a small size, or from a tiny folder
(``FAMILY_NAMES``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import bench
from bench.weights import RANDOM
from tests.helpers.cli import run_bench

BATCH = 3
NOISE_SAMPLES = 2
# of the tap's largest value; measured (CPU, fp32): at most 1.8e-6 (SD, CleanDIFT, DiT, CNNs), 0 (timm
# ViTs, clip-tiny, MetaCLIP 2 and ConvNeXt twins: exact)
BATCH_TOLERANCE = 1e-4


def _twins(twin: str, *registered: str) -> dict[str, str]:
    return dict.fromkeys(registered, twin)


STAND_INS = {  # registered backbone whose weights are a download -> its tiny twin
    **_twins("sd-tiny", "sd15", "sd21", "sd21-base", "sd-turbo", "sdxl", "sdxl-turbo"),
    **_twins("cleandift-tiny", "cleandift-sd15", "cleandift-sd21"),
    **_twins("sd3-tiny", "sd3-medium", "sd35-medium", "sd35-large"),
    **_twins("flux-tiny", "flux1-dev", "flux1-schnell"),
    **_twins("dit:flux-tiny/ditf", "dit:flux1-dev/ditf"),
    **_twins("clip-tiny", "clip-vit-b16", "clip-vit-b16-laion2b", "clip-vit-b32", "clip-vit-l14",
             "clip-vit-h14-laion2b"),  # fmt: skip
    **_twins("tiny-eva02-clip", "eva02-clip-b16", "eva02-clip-l14"),
    **_twins("tiny-metaclip2", "metaclip2-h14"),
    **_twins("tiny-pe-core", "pe-core-b16", "pe-core-l14"),
    **_twins("tiny-siglip2", "siglip2-vitb16", "siglip2-so400m14"),
    **_twins("vit-tiny", "dino-vits8", "dino-vits16", "dino-vitb16", "dinov2-vits14", "dinov2-vitb14",
             "dinov2-vitl14"),  # fmt: skip
    **_twins("tiny-dinov3", "dinov3-vits16", "dinov3-vitb16", "dinov3-vitl16"),
    **_twins("tiny-dinov3-convnext", "dinov3-convnext-tiny", "dinov3-convnext-small",
             "dinov3-convnext-base", "dinov3-convnext-large"),  # fmt: skip
    **_twins("resnet-tiny", "resnet50"),
    **_twins("vgg-tiny", "vgg16"),
}
LOCAL = {"sd-mini": 64, "dinov2-vits14-imgfocus": 56}  # weights in the checkout or a package: at this size
SMALLER = {"sd-tiny": 64, "cleandift-tiny": 64}  # registered at 128 px: read at 64 (4x less time)
REGISTERED = sorted(bench.plugin_registry().backbones.ids())


@dataclass(frozen=True)
class Subject:
    """What one test case loads: ``name`` with ``weights`` (None: its own) at ``image_size`` (None:
    its own)."""

    name: str
    weights: str | None = None
    image_size: int | None = None


FAMILY_NAMES = {  # family -> a name of it (hf: a tiny folder, written by the ``hf_folder`` fixture)
    "timm": Subject("timm:vit_tiny_patch16_224", RANDOM, 64),
    "open_clip": Subject("open_clip:ViT-S-32", RANDOM, 64),
    "dit": Subject("dit:sd3-tiny/massive-zero2"),
}


BUILT_HERE = [backbone_id for backbone_id in REGISTERED if backbone_id not in STAND_INS]


def _subject(backbone_id: str) -> Subject:
    return Subject(backbone_id, image_size=LOCAL.get(backbone_id, SMALLER.get(backbone_id)))


def _images() -> list[Image.Image]:
    """BATCH seeded random RGB images of different sizes (preprocess resizes them)."""
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (40 + 8 * i, 48, 3), dtype=np.uint8)) for i in range(BATCH)]


def _read(loaded: bench.LoadedBackbone, pixels: torch.Tensor, seeds: list[int]) -> dict[tuple, torch.Tensor]:
    """``{(t, tap): tensor}`` of every tap of ``loaded`` for ``pixels`` (B, 3, S, S); ``t`` None for
    an image encoder, whose tensors get a noise axis of one draw: (B, 1, C, h, w) or (B, 1, C)."""
    model, info = loaded.model, loaded.info
    taps = [layer.name for layer in info.layers]
    with torch.inference_mode():
        if info.num_timesteps is None:
            read = {None: model.features(pixels, taps)}
            read = {None: {tap: value.unsqueeze(1) for tap, value in read[None].items()}}
        else:
            steps = [0, info.num_timesteps // 2]
            read = model.features(pixels, taps, timesteps=steps, noise_samples=NOISE_SAMPLES,
                                  noise_seeds=seeds, condition=bench.PromptCondition())  # fmt: skip
    returned = [sorted(by_tap) for by_tap in read.values()]
    assert all(names == sorted(taps) for names in returned), (info.id, taps, returned)
    return {(t, tap): value.float().cpu() for t, by_tap in read.items() for tap, value in by_tap.items()}


@dataclass(frozen=True)
class Reading:
    """One subject loaded and read three times: the batch twice, then its second image alone."""

    loaded: bench.LoadedBackbone
    batch: dict[tuple, torch.Tensor]
    again: dict[tuple, torch.Tensor]
    alone: dict[tuple, torch.Tensor]


@pytest.fixture(scope="module")
def readings():
    """Subject -> its :class:`Reading`, each subject loaded and read once for the whole module."""
    cache: dict[Subject, Reading] = {}

    def reading(subject: Subject) -> Reading:
        if subject not in cache:
            loaded = bench.load_backbone(subject.name, weights=subject.weights, image_size=subject.image_size,
                                         device="cpu")  # fmt: skip
            pixels = loaded.model.preprocess(_images())
            seeds = list(range(7, 7 + BATCH))
            cache[subject] = Reading(
                loaded,
                _read(loaded, pixels, seeds),
                _read(loaded, pixels, seeds),
                _read(loaded, pixels[1:2], seeds[1:2]),
            )
        return cache[subject]

    return reading


def _hold_the_contract(reading: Reading) -> None:
    info, size = reading.loaded.info, reading.loaded.model.image_size
    noise = 1 if info.num_timesteps is None else NOISE_SAMPLES
    for (t, tap), value in reading.batch.items():
        where = f"{info.id} {tap} at t={t}"
        layer = info.layer(tap)
        cells = (size // layer.stride,) * 2 if layer.stride else ()
        assert tuple(value.shape) == (BATCH, noise, layer.channels, *cells), where
        assert torch.isfinite(value).all(), where
        assert torch.equal(value, reading.again[(t, tap)]), f"{where}: not deterministic"
        apart = (reading.alone[(t, tap)][0] - value[1]).abs().max()
        assert apart <= BATCH_TOLERANCE * value[1].abs().max(), f"{where}: depends on the batch"


def _assert_listed(info: bench.BackboneInfo) -> None:
    """``bench list layers --backbone`` lists each tap of ``info`` (an alias as its tap's other name)
    with its channels and stride."""
    result = run_bench("list", "layers", "--backbone", info.id, "--json")
    assert result.returncode == 0, result.stderr
    listed = {
        (name, row["channels"], row["stride"] or 0)
        for row in json.loads(result.stdout)["layers"]
        for name in (row["name"], *row["aliases"])
    }
    assert listed == {(layer.name, layer.channels, layer.stride) for layer in info.layers}, info.id


def test_every_registered_backbone_is_built_here_or_has_a_tiny_twin(registry):
    """A twin has random weights and comes from the plugin of the backbone it stands in for."""
    for backbone_id in REGISTERED:
        if backbone_id in STAND_INS:
            twin = STAND_INS[backbone_id]
            assert registry.backbones.get(twin).weights == RANDOM, twin
            assert registry.backbones.owner(twin) == registry.backbones.owner(backbone_id), backbone_id
        elif backbone_id not in LOCAL:
            assert registry.backbones.get(backbone_id).weights == RANDOM, (
                f"{backbone_id}'s weights are a download: name its tiny twin in STAND_INS"
            )
    assert set(STAND_INS) <= set(REGISTERED)


def test_every_backbone_family_is_covered_here(registry):
    assert set(registry.backbone_families.ids()) == {*FAMILY_NAMES, "hf"}


@pytest.mark.slow
@pytest.mark.parametrize("backbone_id", BUILT_HERE)
def test_every_backbone_built_here_holds_the_contract(readings, backbone_id):
    try:
        reading = readings(_subject(backbone_id))
    except bench.BenchError as error:
        if backbone_id not in LOCAL:
            raise
        pytest.skip(f"{backbone_id}'s weights are not on this machine: {error}")
    _assert_listed(reading.loaded.info)
    _hold_the_contract(reading)


@pytest.mark.slow
@pytest.mark.parametrize("backbone_id", sorted(STAND_INS))
def test_a_backbone_whose_weights_are_a_download_is_listed_as_registered(registry, backbone_id):
    _assert_listed(registry.backbones.get(backbone_id))


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory) -> Path:
    """A tiny random DINOv2 saved as the Hugging Face hub holds it (``hf:<folder>``)."""
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          image_size=64, patch_size=16)  # fmt: skip
    folder = tmp_path_factory.mktemp("hf") / "tiny-dinov2"
    Dinov2Model(config).save_pretrained(folder)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("family", [*FAMILY_NAMES, "hf"])
def test_a_name_of_every_backbone_family_holds_the_contract(readings, hf_folder, family):
    reading = readings(FAMILY_NAMES[family] if family != "hf" else Subject(f"hf:{hf_folder}"))
    _assert_listed(reading.loaded.info)
    _hold_the_contract(reading)

