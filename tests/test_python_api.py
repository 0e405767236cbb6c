"""The "Use from Python" example of docs/running.md runs, and gives the command line's numbers."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.helpers.cli import REPO


def documented_python_example() -> str:
    text = (REPO / "docs" / "running.md").read_text(encoding="utf-8")
    section = text.split("## Use from Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_documented_python_example_runs_and_matches_bench_run(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", documented_python_example()],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()[-2:]
    assert first.startswith("mAP@all ") and "up1 map at t=50: (2, 64, 8, 8)" in first
    assert float(second) == pytest.approx(0.181, abs=5e-4)  # the default run's sd-tiny number
    assert list((tmp_path / "results-py" / "synthetic").glob("sd-tiny_up1_t200_*.json"))


def test_public_names_import_without_torch():
    code = (
        "import sys, bench\n"
        "names = [n for n in bench.__all__ if n not in bench._LAZY]\n"
        "[getattr(bench, n) for n in names]\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_run_refuses_a_bad_value_as_the_command_line_does(tmp_path):
    """``bench.run`` raises BenchError (not pydantic's error) naming the setting and what it allows,
    before anything is written."""
    import bench

    with pytest.raises(bench.BenchError) as refused:
        bench.run(batch_size="4", output_dir=str(tmp_path / "out"))
    assert "run(): batch_size = '4' (text): allowed: an integer from 1 to 65536." in str(refused.value)
    with pytest.raises(bench.BenchError, match="unknown setting"):
        bench.run(batchsize=4)
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def vit_tiny():
    import bench

    return bench.load_backbone("vit-tiny", device="cpu")


@pytest.mark.parametrize(
    ("call", "setting", "expected"),
    [
        ("descriptors", {"seed": -1}, "seed = -1 (an integer): allowed: an integer from 0 to 2**63 - 1."),
        ("descriptors", {"noise_samples": 0}, "noise_samples = 0 (an integer): allowed: an integer from 1"),
        ("descriptors", {"batch_size": 0}, "batch_size = 0 (an integer): allowed: an integer from 1 to 655"),
        ("feature_maps", {"batch_size": "4"}, "batch_size = '4' (text): allowed: an integer from 1 to 65536"),
        ("feature_maps", {"seed": 2**70}, "seed = 1180591620717411303424 (an integer): allowed: an integer"),
    ],
)
def test_descriptors_and_maps_refuse_what_the_command_line_refuses(vit_tiny, call, setting, expected):
    from PIL import Image

    import bench

    with pytest.raises(bench.BenchError) as refused:
        getattr(bench, call)(vit_tiny, [Image.new("RGB", (32, 32))], **setting)
    assert f"{call}(): {expected}" in str(refused.value)


@pytest.mark.parametrize("size", [0, -5, 10**6])
def test_load_backbone_refuses_an_impossible_image_size(size):
    import bench

    with pytest.raises(bench.BenchError, match=rf"load_backbone\(\): image_size = {size} .*8 to 8192"):
        bench.load_backbone("vit-tiny", image_size=size, device="cpu")


def test_paths_may_be_pathlib_paths(tmp_path):
    import bench

    config = tmp_path / "small.toml"
    config.write_text('backbone = "vit-tiny"\ndataset = "synthetic"\nworkers = 0\n', encoding="utf-8")
    results = bench.run(
        config,
        output_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        data_root={"synthetic": tmp_path},  # a generated dataset: ignored, but a path all the same
        dataset_options={"num_classes": 4, "num_unseen": 2},
    )
    assert len(results) == 1 and list((tmp_path / "out" / "synthetic").glob("vit-tiny_*.json"))
    assert (tmp_path / "cache").is_dir()


def test_a_loaded_backbone_forwards_model_attributes_only_with_a_deprecation_warning():
    """``loaded.model.X`` is the model's attribute; ``loaded.X`` still reads it, but says so."""
    from types import SimpleNamespace

    import bench

    info = bench.BackboneInfo(
        id="toy", target="toy:build", description="x", layers=(bench.TapInfo("embed", 8, 0),),
        default_layer="embed", weights="none", image_size=32,
    )  # fmt: skip
    loaded = bench.LoadedBackbone(info, SimpleNamespace(unet="the unet"), "toy-plugin")
    assert loaded.model.unet == "the unet" and loaded.info is info and loaded.plugin == "toy-plugin"
    with pytest.warns(DeprecationWarning, match=r"LoadedBackbone\.unet is deprecated: .*loaded\.model\.unet"):
        assert loaded.unet == "the unet"
    with pytest.raises(AttributeError):
        loaded.vae  # noqa: B018 (neither the loaded backbone's nor the model's)


@pytest.mark.parametrize(
    ("call", "setting", "expected"),
    [
        ("descriptors", {"prompt": "text"}, "Prompt scheme 'text' needs an argument."),
        ("feature_maps", {"prompt": "none:x"}, "Prompt scheme 'none' takes no argument (got 'none:x')."),
        ("descriptors", {"prompt": "text:a"}, "Prompt 'text:a' conditions features on text, and backbone"),
        ("descriptors", {"timesteps": [200]}, "descriptors() got unknown setting(s): timesteps."),
        ("feature_maps", {"pool": "gem"}, "feature_maps() got unknown setting(s): pool."),
    ],
)
def test_descriptors_and_maps_plan_a_prompt_as_the_command_line_does(vit_tiny, call, setting, expected):
    """The workflows check a prompt with the one check ``bench run`` plans with (an argument the
    scheme needs or refuses, text for an image encoder), and name a setting they do not take."""
    from PIL import Image

    import bench

    with pytest.raises(bench.BenchError) as refused:
        getattr(bench, call)(vit_tiny, [Image.new("RGB", (32, 32))], **setting)
    assert expected in " ".join(str(refused.value).split())


def test_score_names_a_setting_it_does_not_take():
    import bench

    with pytest.raises(bench.BenchError, match=r"score\(\) got unknown setting\(s\): metric\."):
        bench.score([[1.0]], [[1.0]], [], [], dataset="synthetic", metric=["mAP@all"])
