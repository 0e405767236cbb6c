"""The registered DINOv3, SigLIP 2, PE-Core, MetaCLIP 2 and EVA-CLIP 02 backbones: their data agrees
with timm and open_clip, every listed tap of the real architecture has its listed shape (built on
the meta device: no weights, no memory), and each tiny twin runs end to end on ``synthetic``."""

from __future__ import annotations

import json

import open_clip
import pytest
import timm
import torch
from bench_openclip.architecture import NEW_CLIP_VITS, TINY_CLIP_VITS
from bench_openclip.features import OpenClipViTFeatures
from bench_openclip.loaders import normalization_for
from bench_timm.architecture import NEW_SPECS, TimmViT
from bench_timm.by_name import describe
from bench_timm.loaders import build_model as build_timm

from bench.registry.manager import load_plugins
from tests.helpers.cli import run_bench

META = torch.device("meta")
SMALL = ["--dataset-option", "num_unseen=3", "--dataset-option", "photos_per_class=4"]
REAL_TIMM = [spec for spec in NEW_SPECS if spec.hub_id != "random"]
TINY_IDS = [spec.id for spec in NEW_SPECS if spec.hub_id == "random"] + [spec.id for spec in TINY_CLIP_VITS]


def _assert_listed_shapes(info, out, size: int) -> None:
    for layer in info.layers:
        side = size // layer.stride if layer.stride else None
        expected = (1, layer.channels, side, side) if side else (1, layer.channels)
        assert tuple(out[layer.name].shape) == expected, (info.id, layer.name)


@pytest.mark.slow
@pytest.mark.parametrize("spec", REAL_TIMM, ids=lambda spec: spec.id)
def test_registered_timm_backbones_are_timms(registry, spec):
    """Hub id, resolution and licence from timm's pretrained configuration; taps as a meta build
    of the model reads them (``describe``, the ``timm:`` family's own reader)."""
    config = timm.get_pretrained_cfg(spec.model_name)
    assert (config.hf_hub_id, config.input_size[-1]) == (spec.hub_id, spec.image_size)
    assert config.license == "dinov3-license" and spec.licence.startswith("DINOv3 License")
    read = describe(spec.model_name, spec.create_kwargs)
    shape = (
        ("depth", "width", "patch", "class_token")
        if isinstance(spec, TimmViT)
        else ("channels", "strides", "modules")
    )
    assert [getattr(read, k) for k in shape] == [getattr(spec, k) for k in shape]
    named = registry.backbones.get(f"timm:{spec.model_name}")
    assert named.layers == registry.backbones.get(spec.id).layers  # names, shapes and descriptions


@pytest.mark.parametrize("spec", REAL_TIMM, ids=lambda spec: spec.id)
def test_every_tap_of_the_real_timm_architecture_has_its_listed_shape(registry, spec):
    info = registry.backbones.get(spec.id)
    size = spec.image_size
    with torch.device(META):
        encoder = build_timm(info, weights="random", device=META, dtype=torch.float32, image_size=size)
        out = encoder.features(torch.empty(1, 3, size, size), info.layer_names)
    _assert_listed_shapes(info, out, size)


@pytest.mark.slow
@pytest.mark.parametrize("spec", NEW_CLIP_VITS, ids=lambda spec: spec.id)
def test_registered_open_clip_backbones_are_open_clips(registry, spec):
    tag = open_clip.get_pretrained_cfg(spec.model_name, spec.pretrained)
    assert tag["hf_hub"].strip("/") == spec.hub_id
    config = open_clip.get_model_config(spec.model_name)
    assert (config["embed_dim"], config["vision_cfg"]["image_size"]) == (spec.embed_dim, spec.image_size)
    info = registry.backbones.get(spec.id)
    assert info.licence == spec.licence and info.weights == spec.hub_id and info.image_size == spec.image_size
    named = registry.backbones.get(f"open_clip:{spec.model_name}/{spec.pretrained}")
    assert [(t.name, t.channels, t.stride) for t in named.layers] == [
        (t.name, t.channels, t.stride) for t in info.layers
    ]


@pytest.mark.parametrize("spec", NEW_CLIP_VITS, ids=lambda spec: spec.id)
def test_every_tap_of_the_real_open_clip_tower_has_its_listed_shape(registry, spec):
    info = registry.backbones.get(spec.id)
    size = spec.image_size
    with torch.device(META):
        model = open_clip.create_model(spec.model_name, device="meta", force_image_size=size)
        encoder = OpenClipViTFeatures(
            model=model.visual,
            depth=spec.depth,
            normalization=normalization_for(spec),
            image_size=size,
            weights="meta",
            device=META,
            dtype=torch.float32,
        )
        out = encoder.features(torch.empty(1, 3, size, size), info.layer_names)
    _assert_listed_shapes(info, out, size)
    assert ("block0.cls" in out) == spec.class_token


def test_siglip2_has_no_class_token_taps_and_a_pooled_embedding(registry):
    info = registry.backbones.get("siglip2-vitb16")
    assert info.layer("block0.cls") is None and "attention-pooled" in info.layer("embed").description
    assert registry.backbones.get("pe-core-b16").layer("block0.cls") is not None


@pytest.mark.slow
def test_every_tiny_twin_runs_end_to_end_on_synthetic(tmp_path):
    backbones = [arg for backbone_id in TINY_IDS for arg in ("--backbone", backbone_id)]
    args = ["run", *backbones, "--dataset", "synthetic", *SMALL, "--json", "--output-dir", str(tmp_path)]
    result = run_bench(*args)
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)
    assert sorted(run["config"]["backbone"] for run in runs) == sorted(TINY_IDS)
    assert all(0 <= run["metrics"]["mAP@all"] <= 1 for run in runs)


@pytest.mark.slow
def test_the_backbones_doc_table_agrees_with_bench_list():
    """Every row of the 2026 table of docs/backbones.md names a backbone ``bench list`` shows with the same
    default weights, resolution and ``embed`` channels, and every new backbone has a row."""
    import re
    from pathlib import Path

    listed = run_bench("list", "backbones", "--json", subprocess=True)
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in json.loads(listed.stdout)["backbones"]}
    doc = (Path(__file__).resolve().parents[1] / "docs" / "backbones.md").read_text(encoding="utf-8")
    table = doc.split("**The families people compare against in 2026**")[1].split("\n\n")[1]
    documented = set()
    registry = load_plugins().build_registry()
    for line in table.splitlines()[2:]:
        ids, weights, size, embeds, _ = (cell.strip() for cell in line.strip("|").split("|"))
        names = re.findall(r"`([^`]+)`", ids)
        for name, embed in zip(names, embeds.split(", "), strict=True):
            documented.add(name)
            assert rows[name]["image_size"] == int(size), name
            assert registry.backbones.get(name).layer("embed").channels == int(embed), name
            if rows[name]["weights"] != "random":
                assert f"`{rows[name]['weights']}`" == weights, name
    assert documented == {spec.id for spec in (*NEW_SPECS, *NEW_CLIP_VITS, *TINY_CLIP_VITS)}


@pytest.mark.parametrize("backbone_id", [*TINY_IDS, "resnet-tiny", "vgg-tiny"])
def test_a_visual_prompt_trains_on_each_tiny_twin(registry, backbone_id):
    """One optimiser step of `bench train --prompt visual`'s trainer moves the prompt: gradients
    reach the pixels through every new family, and through timm's CNNs."""
    from bench import SilentReporter
    from bench.prompts.trainer import PromptTrainer, TrainSpec, plan_training

    spec = TrainSpec(
        backbone=backbone_id,
        dataset="synthetic",
        scheme="visual",
        width=4,
        batch_size=2,
        lr=0.1,
        dataset_options={"num_classes": 8, "num_unseen": 4, "train_photos_per_class": 2},
    )
    planned = plan_training(spec, registry)
    trainer = PromptTrainer(spec, planned.run, planned.parts, reporter=SilentReporter())
    before = trainer.prompt.tensors()
    loss = trainer.step_loss(trainer.sampler.epoch(1)[:2], 1, 0)
    loss.backward()
    trainer.optimizer.step()
    after = trainer.prompt.tensors()
    assert torch.isfinite(loss) and all(not torch.equal(before[k], after[k]) for k in before)
