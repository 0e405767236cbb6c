"""A plugin's mistakes end in one clear message naming the plugin; --plugin works on every command."""

from __future__ import annotations

import re

import pytest

from tests.helpers.cli import run_bench
from tests.helpers.plugin_files import ENCODER, EXAMPLE, one_error, plugin_file


def test_a_hook_without_hookimpl_is_named(tmp_path):
    path = plugin_file(tmp_path, "def register_backbones(register):\n    pass\n")
    one_error(
        run_bench("list", "--plugin", str(path)),
        "plugin 'file:myplugin': register_backbones() has no @bench.hookimpl decorator",
    )


def test_a_misspelled_hook_is_named_with_the_closest_hook(tmp_path):
    path = plugin_file(
        tmp_path, "import bench\n\n@bench.hookimpl\ndef register_backbone(register):\n    pass\n"
    )
    one_error(
        run_bench("list", "--plugin", str(path)),
        "register_backbone() is not a hook (did you mean register_backbones?)",
    )


def test_a_hook_with_wrong_arguments_is_named(tmp_path):
    path = plugin_file(tmp_path, "import bench\n\n@bench.hookimpl\ndef register_datasets(add):\n    pass\n")
    one_error(run_bench("list", "--plugin", str(path)), "plugin 'file:myplugin'", "add")


@pytest.mark.parametrize(
    ("returned", "phrases"),
    [
        ('{"v": torch.zeros(len(pixels), 8)}', ["returned no 'm'"]),
        ('{"v": torch.zeros(len(pixels), 5), "m": torch.zeros(len(pixels), 4, 4, 4)}',
         ["tap 'v' is a tensor of shape", "a vector (B, C) for it, with B=", "C=8 (its registered"]),
        ('{"v": torch.zeros(len(pixels), 8), "m": torch.zeros(len(pixels), 4)}',
         ["tap 'm' is a tensor of shape", "a map (B, C, h, w)"]),
        ('[1, 2]', ["features() returned a list"]),
    ],
)  # fmt: skip
def test_a_backbone_breaking_its_contract_is_named(tmp_path, returned, phrases):
    path = plugin_file(tmp_path, ENCODER.replace("{RETURNED}", returned))
    result = run_bench(
        "run", "--plugin", str(path), "--backbone", "broken", "--layer", "v", "--layer", "m",
        "--dataset", "synthetic", "--dataset-option", "num_classes=4", "--dataset-option", "num_unseen=2",
        "--dataset-option", "photos_per_class=1", "--cache-dir", str(tmp_path / "cache"),
        "--output-dir", str(tmp_path / "out"),
    )  # fmt: skip
    one_error(result, "Backbone 'broken' (plugin 'file:myplugin') broke its contract", *phrases)


@pytest.mark.slow
def test_a_factory_with_the_wrong_signature_is_named(tmp_path):
    source = ENCODER.replace("target=Broken", "target=lambda info: None").replace("{RETURNED}", "{}")
    path = plugin_file(tmp_path, source)
    result = run_bench(
        "run", "--plugin", str(path), "--backbone", "broken", "--dataset", "synthetic",
        "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(tmp_path / "out"),
    )  # fmt: skip
    one_error(
        result,
        "The factory of backbone 'broken' (plugin 'file:myplugin') cannot be called as",
        "factory(info, *, weights, device, dtype, image_size)",
    )


def test_a_dataset_with_an_empty_gallery_is_named_before_the_model_loads(tmp_path):
    empty = tmp_path / "data"
    (empty / "sketch" / "cat").mkdir(parents=True)
    (empty / "photo" / "cat").mkdir(parents=True)
    source = EXAMPLE.read_text().replace(
        'raise ValueError(f"no images in {root / modality}/<class>/")', "pass"
    )
    path = plugin_file(tmp_path, source, "hog_plugin")
    result = run_bench("run", "--plugin", str(path), "--backbone", "hog", "--dataset", "folders",
                       "--data-root", str(empty))  # fmt: skip
    one_error(result, "Dataset 'folders' (plugin 'file:hog_plugin') has an empty query split")
    assert "loading backbone" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["plugins"],
        ["leaderboard", "RESULTS", "--output", "OUT/board.md"],
        ["cache", "info", "--cache-dir", "CACHE"],
        ["plot", "sweep", "RESULTS", "--output", "OUT/sweep.png"],
        ["datasets", "check", "folders", "--data-root", "DATA", "--decode", "none"],
    ],
)
def test_every_command_takes_plugin_files(tmp_path, command):
    """A broken plugin file is reported by every command; a good one is loaded by every command."""
    (tmp_path / "RESULTS").mkdir()
    for modality in ("sketch", "photo"):
        (tmp_path / "DATA" / modality / "cat").mkdir(parents=True)
    filled = [str(tmp_path / part) if part.isupper() or "/" in part else part for part in command]
    broken = plugin_file(
        tmp_path, "import bench\n\n@bench.hookimpl\ndef register_backbone(register):\n    pass\n"
    )
    one_error(run_bench(*filled, "--plugin", str(broken)), "is not a hook")
    good = run_bench(*filled, "--plugin", str(EXAMPLE))
    assert "is not a hook" not in good.stderr and "Traceback" not in good.stderr


def test_a_config_file_names_its_plugins(tmp_path):
    data = tmp_path / "data"
    from PIL import Image

    for modality, colour in (("sketch", "white"), ("photo", "red")):
        for label in ("a", "b"):
            (data / modality / label).mkdir(parents=True)
            Image.new("RGB", (32, 32), colour).save(data / modality / label / "1.png")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "hog_plugin.py").write_text(EXAMPLE.read_text())
    config = tmp_path / "hog.yaml"
    config.write_text(
        f"plugins: [plugins/hog_plugin.py]\nbackbone: hog\ndataset: folders\ndata_root: {data}\n"
        f"output_dir: {tmp_path / 'out'}\n"
    )
    result = run_bench("run", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    assert '"backbone": "hog"' in result.stdout


NO_GRAD_ENCODER = """
import bench
from bench import BackboneInfo, TapInfo


class Frozen(bench.ImageEncoderBase):
    def features(self, pixels, taps):
        import torch

        with torch.no_grad():
            return {"v": pixels.mean(dim=(2, 3)).repeat(1, 3)[:, :8]}


@bench.hookimpl
def register_backbones(register):
    register(BackboneInfo(id="frozen-net", target=Frozen, description="", weights="none", image_size=32,
                          layers=(TapInfo("v", 8, 0),), default_layer="v", learnable_prompts=("visual",)))
"""


@pytest.mark.parametrize(
    "command", [["train", "--output", "PROMPT"], ["run", "--output-dir", "OUT", "--cache-dir", "CACHE"]]
)
def test_features_without_gradients_are_named_when_a_prompt_trains(tmp_path, command):
    """A features() under torch.no_grad() ended `bench train` (and a run training its prompt) in a
    raw traceback: "element 0 of tensors does not require grad"."""
    path = plugin_file(tmp_path, NO_GRAD_ENCODER)
    small = ["--dataset-option", "num_classes=4", "--dataset-option", "num_unseen=2"]
    filled = [str(tmp_path / part) if part.isupper() else part for part in command]
    result = run_bench(
        *filled, "--plugin", str(path), "--backbone", "frozen-net", "--dataset", "synthetic",
        "--prompt", "visual", *small,
    )  # fmt: skip
    one_error(
        result,
        "Backbone 'frozen-net' (plugin 'file:myplugin') returned layer 'v' features without gradients",
        "torch.no_grad()",
    )


@pytest.mark.slow
def test_a_plugin_slow_to_register_is_named_with_its_time(tmp_path):
    """A plugin that builds a model inside register_backbones made `bench plugins` take 14 s, silently."""
    path = plugin_file(
        tmp_path,
        """
        import time

        import bench


        @bench.hookimpl
        def register_backbones(register):
            time.sleep(1.3)  # as long as building a model here would take
        """,
        "slowpoke",
    )
    result = run_bench("plugins", "--plugin", str(path))
    assert result.returncode == 0, result.stderr
    stderr = " ".join(result.stderr.split())
    assert stderr.count("Warning:") == 1, stderr
    took = re.search(
        r"plugin 'file:slowpoke' took (\d+\.\d) s to register its components \(register_backbones", stderr
    )
    assert took and 1.3 <= float(took.group(1)) < 5, stderr
    assert "not while registering" in stderr
    assert "Warning" not in run_bench("plugins", "--plugin", str(EXAMPLE)).stderr  # the fast ones say nothing
