"""CNNs through timm: ``resnet50`` and ``vgg16`` with their ImageNet weights, their tiny twins and any
timm CNN by name (``timm:<model>``): feature levels as ``stage<k>`` taps with timm's channels and
strides, features equal to timm's own ``features_only`` extractor, visual prompts trained through
them, and missing weights reported as one message."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from bench_timm.architecture import CNN_SPECS, RESNET50, RESNET_TINY, VGG16, VGG_TINY, TimmConvNet
from bench_timm.by_name import describe
from bench_timm.loaders import build_model
from PIL import Image
from safetensors.torch import save_file

import bench
from tests.helpers.cli import run_bench

META = torch.device("meta")
SMALL = ["--dataset-option", "num_unseen=3", "--dataset-option", "photos_per_class=4"]
TINY_DATA = ["--dataset-option", "num_classes=8", "--dataset-option", "num_unseen=4"]
# one CNN of each family the `timm:` form is documented for (ConvNeXt: tests/test_new_backbones.py)
NAMED_CNNS = [
    "timm:efficientnet_b0.ra_in1k",
    "timm:regnety_008.pycls_in1k",
    "timm:mobilenetv3_large_100.ra_in1k",
    "timm:densenet121.ra_in1k",
]


def _levels(info) -> list[tuple[str, int, int]]:
    return [
        (t.name, t.channels, t.stride)
        for t in info.layers
        if t.name.startswith("stage") and "-" not in t.name
    ]


@pytest.mark.parametrize("spec", [RESNET50, VGG16], ids=lambda spec: spec.id)
def test_registered_cnns_are_timms(registry, spec):
    """Hub id, resolution and licence from timm's pretrained configuration; feature levels and
    ``embed`` as a meta build of the model gives them, and the same taps (descriptions included)
    under ``timm:<model>``."""
    config = timm.get_pretrained_cfg(spec.model_name)
    assert (config.hf_hub_id, config.input_size[-1], config.license) == (
        spec.hub_id,
        spec.image_size,
        spec.licence,
    )
    read = describe(spec.model_name)
    fields = ("channels", "strides", "modules", "embed_dim")
    assert [getattr(read, k) for k in fields] == [getattr(spec, k) for k in fields]
    info = registry.backbones.get(spec.id)
    named = registry.backbones.get(f"timm:{spec.model_name}")
    assert named.layers == info.layers  # names, shapes and descriptions
    assert info.weights == spec.hub_id and registry.backbones.owner(spec.id) == "timm"
    assert info.learnable_prompts == ("visual",) and info.default_layer == "embed"


def test_resnet50_and_vgg16_levels(registry):
    """The ResNet's stem and four layers; the VGG's five conv blocks (before each pool) and pool5;
    VGG's ``embed`` is fc7 (4096 channels), the ResNet's the pooled layer4 (2048)."""
    resnet, vgg = registry.backbones.get("resnet50"), registry.backbones.get("vgg16")
    assert [(c, s) for _, c, s in _levels(resnet)] == [(64, 2), (256, 4), (512, 8), (1024, 16), (2048, 32)]
    assert [(c, s) for _, c, s in _levels(vgg)] == [
        (64, 1),
        (128, 2),
        (256, 4),
        (512, 8),
        (512, 16),
        (512, 32),
    ]
    assert "layer1" in resnet.layer("stage1").description and resnet.layer("stage-1") is not None
    assert vgg.layer("embed").channels == 4096 and vgg.layer("embed").description.startswith("fc7")
    assert resnet.layer("embed").channels == 2048


@pytest.mark.slow
@pytest.mark.parametrize("backbone_id", ["resnet50", "vgg16", "resnet-tiny", "vgg-tiny", *NAMED_CNNS])
def test_every_tap_of_the_real_cnn_has_its_listed_shape(registry, backbone_id):
    """Built on the meta device (no weights, no memory): every listed tap has its listed shape, and
    the network's own feature_info agrees with the listed levels."""
    info = registry.backbones.get(backbone_id)
    size = info.image_size
    with torch.device(META):
        encoder = build_model(info, weights="random", device=META, dtype=torch.float32, image_size=size)
        out = encoder.features(torch.empty(1, 3, size, size), info.layer_names)
    levels = [(level["num_chs"], level["reduction"]) for level in encoder.model.feature_info]
    assert levels == [(channels, stride) for _, channels, stride in _levels(info)]
    for layer in info.layers:
        expected = (
            (1, layer.channels, size // layer.stride, size // layer.stride)
            if layer.stride
            else (1, layer.channels)
        )
        assert tuple(out[layer.name].shape) == expected, (backbone_id, layer.name)


def test_a_timm_model_without_usable_feature_levels_is_refused(registry):
    """TResNet's feature_info lists its stem at stride 2; its forward_intermediates gives stride 4."""
    with pytest.raises(bench.BenchError, match="'tresnet_m'.*forward_intermediates does not give"):
        registry.backbones.get("timm:tresnet_m")


@pytest.mark.parametrize("name", ["crossvit_9_240", "hiera_tiny_224", "xcit_tiny_12_p16_224"])
def test_a_model_with_blocks_but_not_timms_vit_layout_resolves_by_its_feature_levels(registry, name):
    """CrossViT, Hiera and XCiT have ``blocks`` and a ``patch_embed`` but not VisionTransformer's
    attributes (a traceback before); their feature levels give them stage taps instead."""
    info = registry.backbones.get(f"timm:{name}")
    stages = [layer.name for layer in info.layers if layer.name.startswith("stage")]
    assert stages and info.default_layer == "embed"


def _timm_network(spec: TimmConvNet, path: Path, **kwargs) -> torch.nn.Module:
    """timm's own model of ``spec`` with the weights in ``path`` (``features_only`` in ``kwargs``
    for timm's feature extractor), built as timm builds it, not as sbir-bench does."""
    overlay = {"pretrained_cfg_overlay": {"file": str(path)}, **spec.create_kwargs, **kwargs}
    if spec.vgg_layers is None:
        return timm.create_model(spec.model_name, pretrained=True, **overlay).eval()
    from timm.models import build_model_with_cfg
    from timm.models.vgg import VGG

    levels = {"flatten_sequential": True, "out_indices": tuple(range(len(spec.channels)))}  # as timm's vgg16
    config = {"model_cfg": list(spec.vgg_layers), "feature_cfg": levels}
    return build_model_with_cfg(VGG, spec.model_name, True, **config, **overlay).eval()


def _pixels(images: list[Image.Image], model_name: str, size: int) -> torch.Tensor:
    """(B, 3, size, size) as timm's pretrained configuration asks: resized with its filter, its mean/std."""
    config = timm.get_pretrained_cfg(model_name)
    resample = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[config.interpolation]
    rgb = np.stack(
        [np.asarray(im.convert("RGB").resize((size, size), resample), np.float32) for im in images]
    )
    batch = torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous() / 255.0
    return (batch - torch.tensor(config.mean).view(1, 3, 1, 1)) / torch.tensor(config.std).view(1, 3, 1, 1)


def _unit(rows: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(rows, dim=-1).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("backbone_id", ["resnet-tiny", "vgg-tiny", "timm:efficientnet_b0.ra_in1k"])
def test_descriptors_are_timms_features_only_maps_pooled(tmp_path, backbone_id):
    """`gap` descriptors of every ``stage<k>`` are timm's ``features_only`` maps averaged and
    L2-normalised, ``embed`` is ``forward_head(forward_features(x), pre_logits=True)``, to 1e-6."""
    named = backbone_id.startswith("timm:")
    spec = (
        describe(backbone_id.removeprefix("timm:"))
        if named
        else {"resnet-tiny": RESNET_TINY, "vgg-tiny": VGG_TINY}[backbone_id]
    )
    weights = "random" if named else None
    loaded = bench.load_backbone(backbone_id, weights=weights, image_size=64, device="cpu")
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in loaded.model.model.state_dict().items()}, str(path))
    dataset = bench.open_dataset(
        "synthetic", options={"num_classes": 6, "num_unseen": 3, "photos_per_class": 2}
    )
    items = dataset.split("gallery")[:4]
    pixels = _pixels([dataset.load_image(item) for item in items], spec.model_name, 64)
    with torch.inference_mode():
        maps = _timm_network(spec, path, features_only=True)(pixels)
        model = _timm_network(spec, path, num_classes=0)
        embed = model.forward_head(model.forward_features(pixels), pre_logits=True)
    assert len(maps) == len(spec.channels)
    for k, level in enumerate(maps):
        ours = bench.descriptors(loaded, items, dataset=dataset, layer=f"stage{k}", pool="gap")
        np.testing.assert_allclose(
            ours, _unit(level.mean(dim=(2, 3))), rtol=0, atol=1e-6, err_msg=f"stage{k}"
        )
    ours = bench.descriptors(loaded, items, dataset=dataset, layer="embed")
    np.testing.assert_allclose(ours, _unit(embed), rtol=0, atol=1e-6)


@pytest.mark.parametrize("backbone_id", ["resnet-tiny", "vgg-tiny"])
def test_tiny_twins_tell_images_apart(backbone_id):
    """Random weights, but not a constant: distinct images get distinct ``embed`` descriptors."""
    loaded = bench.load_backbone(backbone_id, device="cpu")
    dataset = bench.open_dataset(
        "synthetic", options={"num_classes": 6, "num_unseen": 3, "photos_per_class": 2}
    )
    rows = bench.descriptors(loaded, dataset.split("gallery")[:6], dataset=dataset)
    cosines = rows @ rows.T
    assert cosines[~np.eye(6, dtype=bool)].min() < 0.99


def test_bench_list_layers_shows_channels_and_strides():
    result = run_bench("list", "layers", "--backbone", "resnet-tiny", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["layers"]}
    assert [(rows[f"stage{k}"]["channels"], rows[f"stage{k}"]["stride"]) for k in range(5)] == [
        (64, 2),
        (32, 4),
        (64, 8),
        (128, 16),
        (256, 32),
    ]
    assert rows["embed"]["kind"] == "vector" and rows["embed"]["channels"] == 256
    shown = run_bench("list", "layers", "--backbone", "timm:vgg16.tv_in1k")
    assert shown.returncode == 0 and "stage5" in shown.stdout and "timm module features.30" in shown.stdout


@pytest.mark.slow
def test_tiny_cnns_and_a_timm_cnn_run_in_one_sweep(tmp_path):
    """The twins and a `timm:` CNN name (`--weights random`: seeded random weights of the real
    architecture) at two layers each, one extraction per backbone."""
    backbones = ["--backbone", "resnet-tiny", "--backbone", "vgg-tiny", "--backbone", "timm:regnetx_002"]
    layers = ["--layer", "embed", "--layer", "stage-2"]
    args = ["run", *backbones, *layers, "--weights", "random", "--image-size", "64", "--dataset", "synthetic"]
    result = run_bench(*args, *SMALL, "--json", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    runs = {(run["config"]["backbone"], run["config"]["layer"]): run for run in json.loads(result.stdout)}
    assert set(runs) == {
        (b, layer) for b in ("resnet-tiny", "vgg-tiny", "timm:regnetx_002") for layer in ("embed", "stage-2")
    }
    assert all(0 <= run["metrics"]["mAP@all"] <= 1 for run in runs.values())
    assert all(run["runtime"]["group_configurations"] == 2 for run in runs.values())


@pytest.mark.slow
@pytest.mark.parametrize("backbone_id", ["resnet-tiny", "vgg-tiny"])
def test_bench_train_a_visual_prompt_then_run_it(tmp_path, backbone_id):
    train = ["train", "--backbone", backbone_id, "--prompt", "visual", "--dataset", "synthetic", *TINY_DATA,
             "--width", "4", "--batch-size", "4", "--steps-per-epoch", "2", "--epochs", "1",
             "--output", "vp.safetensors", "--json"]  # fmt: skip
    trained = run_bench(*train, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    header = json.loads(trained.stdout)
    assert (tmp_path / "vp.safetensors").is_file() and header["backbone"] == backbone_id
    losses = [record["loss"] for record in header["history"]]
    assert len(losses) == 1 and all(np.isfinite(losses))
    run = ["run", "--prompt", "learned:vp.safetensors", "--output-dir", "results", "--json"]
    learned = run_bench(*run, cwd=tmp_path)
    assert learned.returncode == 0, learned.stderr
    (result,) = json.loads(learned.stdout)
    assert (result["config"]["backbone"], result["config"]["layer"]) == (backbone_id, "embed")
    assert 0 <= result["metrics"]["mAP@all"] <= 1


@pytest.mark.slow
def test_resnet50_reads_a_timm_checkpoint_file(registry, tmp_path):
    """``--weights resnet50=FILE``: a checkpoint as timm's hub holds it (classifier included)."""
    with torch.random.fork_rng():
        torch.manual_seed(1)
        source = timm.create_model("resnet50", pretrained=False)
    save_file(source.state_dict(), str(tmp_path / "resnet50.safetensors"))
    info = registry.backbones.get("resnet50")
    model = build_model(
        info, weights=str(tmp_path / "resnet50.safetensors"), device="cpu", dtype=torch.float32, image_size=64
    )
    assert torch.equal(model.model.layer3[2].conv2.weight, source.layer3[2].conv2.weight)
    assert model.normalization.interpolation == "bilinear"  # torchvision's weights, timm's tv_in1k config
    out = model.features(torch.randn(1, 3, 64, 64), ["stage-1", "embed"])
    assert out["stage-1"].shape == (1, 2048, 2, 2) and out["embed"].shape == (1, 2048)


@pytest.mark.slow
@pytest.mark.parametrize(("backbone_id", "hub_id"), [("resnet50", RESNET50.hub_id), ("vgg16", VGG16.hub_id)])
def test_missing_cnn_weights_fail_in_seconds_with_one_message(tmp_path, backbone_id, hub_id):
    started = time.monotonic()
    result = run_bench(
        "run", "--backbone", backbone_id, "--dataset", "synthetic", env={"HF_HOME": str(tmp_path)}
    )
    assert time.monotonic() - started < 60
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"Weights '{hub_id}' for backbone '{backbone_id}' are not available" in result.stderr
    assert f"hf download {hub_id}" in result.stderr and f"--weights {backbone_id}=FILE" in result.stderr


def test_the_backbones_doc_cnn_table_agrees_with_bench_list(registry):
    """Every row of the CNN table in docs/backbones.md: resolution, each level's channels and stride, embed"""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "backbones.md").read_text(encoding="utf-8")
    table = doc.split("**CNNs** (plugin `timm`)")[1].split("\n\n")[1]
    documented = []
    for line in table.splitlines()[2:]:
        ids, _, size, levels, embeds = (cell.strip() for cell in line.strip("|").split("|"))
        names = re.findall(r"`([^`]+)`", ids)
        for name, taps, embed in zip(names, levels.split("; "), embeds.split(", "), strict=True):
            info = registry.backbones.get(name)
            documented.append(name)
            assert info.image_size == int(size) and info.layer("embed").channels == int(embed), name
            listed = [(channels, stride) for _, channels, stride in _levels(info)]
            shown = [re.fullmatch(r"(\d+)(?: \((\d+)\))?", tap.strip()).groups() for tap in taps.split(",")]
            assert [int(channels) for channels, _ in shown] == [channels for channels, _ in listed], name
            assert int(shown[0][1]) == listed[0][1], name
    assert documented == [spec.id for spec in CNN_SPECS]
