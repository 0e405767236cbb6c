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
    with pytest.warns(UserWarning, match="--data-root does not apply to synthetic"):
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
        ("descriptors", {"prompt": "text"}, "Prompt scheme 'text' needs an argument. Use prompt='text:...'."),
        ("feature_maps", {"prompt": "none:x"}, "takes no argument (got 'none:x'). Use prompt='none'."),
        ("descriptors", {"prompt": "text:a"}, "and the image features of backbone 'vit-tiny' do not"),
        ("descriptors", {"prompt": "text:a"}, "Use prompt='visual' (a learned pixel border) or"),
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


@pytest.fixture(scope="module")
def sd_mini():
    import bench

    return bench.load_backbone("sd-mini", device="cpu")


def _score(**changes):
    """``bench.score`` on 4 synthetic queries and 6 gallery items with 8-d features, as ``changes`` say."""
    import numpy as np

    import bench

    dataset = bench.open_dataset("synthetic", options={"num_classes": 4, "num_unseen": 2})
    arguments = {
        "query_features": np.ones((4, 8)),
        "gallery_features": np.ones((6, 8)),
        "queries": dataset.split("query")[:4],
        "gallery": dataset.split("gallery")[:6],
        "dataset": "synthetic",
        **changes,
    }
    return bench.score(**arguments)


@pytest.mark.parametrize(
    ("backbone", "call", "expected"),
    [
        ("sd", lambda b, images: bench_call("descriptors", b, images, t="200"),
         "descriptors(): t[0] = '200' (text): should be an integer."),
        ("sd", lambda b, images: bench_call("feature_maps", b, images, timesteps=["x"]),
         "feature_maps(): timesteps[0] = 'x' (text): should be an integer."),
        ("sd", lambda b, images: bench_call("feature_maps", b, [], timesteps=[200]),
         "feature_maps() got no images. Pass at least one PIL image or dataset item."),
        ("sd", lambda b, images: bench_call("descriptors", b, images, t=200, modality="sktch"),
         "descriptors() got modality='sktch'. Use modality='sketch' or 'photo'"),
        ("sd", lambda b, images: bench_call("descriptors", b, images, t=1000),
         "t=1000 is outside the schedule of backbone 'sd-mini' (0..999)."),
        ("sd", lambda b, images: bench_call("descriptors", b, images),
         "needs a diffusion timestep. Pass t=200."),
        ("sd", lambda b, images: bench_call("feature_maps", b, images, timesteps=[2000]),
         "timesteps=2000 is outside the schedule of backbone 'sd-mini'"),
        ("vit", lambda b, images: bench_call("descriptors", b, images, t=200),
         "UserWarning: t=200 does not apply to vit-tiny (no diffusion timestep): ignored."),
        ("vit", lambda b, images: bench_call("load_backbone", "vit-tiny", image_size=8, device="cpu"),
         "image_size=8 is smaller than the finest tap stride of backbone 'vit-tiny' (14 px"),
        (None, lambda b, images: _score(metrics="map"),
         "score() takes metrics as a list of names, and got the text 'map'. Pass metrics=['map']."),
        (None, lambda b, images: _score(gallery_features=[[1.0] * 9] * 6),
         "score() cannot rank these features: Feature dimensions differ: query_feats has 8 columns"),
        (None, lambda b, images: _score(query_features=[[1.0] * 8] * 3),
         "Lengths differ: queries has 4 entries but query_features has 3 rows."),
    ],
)  # fmt: skip
def test_the_python_workflows_check_their_settings_as_bench_run_does(request, backbone, call, expected):
    """Each was a TypeError, ValueError or a silently accepted value (a misspelt modality, a metric name
    read letter by letter, a timestep an image encoder ignores without the command line's warning),
    or a message naming ``--t``: now one BenchError (or the command line's warning) naming the
    Python keyword."""
    import warnings

    from PIL import Image

    import bench

    loaded = {"sd": "sd_mini", "vit": "vit_tiny"}.get(backbone)
    model = request.getfixturevalue(loaded) if loaded else None
    images = [Image.new("RGB", (64, 64), (40 * i, 0, 0)) for i in range(2)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call(model, images)
            said = " ".join(f"{w.category.__name__}: {w.message}" for w in caught)
        except bench.BenchError as exc:
            said = str(exc)
    assert expected in " ".join(said.split())


def bench_call(name, *args, **kwargs):
    import bench

    return getattr(bench, name)(*args, **kwargs)


def test_feature_maps_take_one_timestep_as_a_config_file_does(sd_mini):
    """``timesteps=200`` is one timestep, as ``t = 200`` in a config file (the schema's one rule)."""
    from PIL import Image

    import bench

    images = [Image.new("RGB", (64, 64), (90, 0, 0))]
    one = bench.feature_maps(sd_mini, images, timesteps=200)
    listed = bench.feature_maps(sd_mini, images, timesteps=[200])
    assert list(one) == [200] and (one[200] == listed[200]).all()


@pytest.mark.parametrize("function", ["descriptors", "feature_maps", "score"])
def test_a_workflows_keywords_are_those_of_its_options_typeddict(function):
    """The keywords a workflow takes (and their defaults) are listed once, in ``OPTION_DEFAULTS``;
    its ``...Options`` TypedDict (what type checkers read) must name the same keys."""
    from bench import workflows

    typed = {"descriptors": workflows.DescriptorOptions, "feature_maps": workflows.FeatureMapOptions,
             "score": workflows.ScoreOptions}[function]  # fmt: skip
    assert set(workflows.OPTION_DEFAULTS[function]) == set(typed.__annotations__)
