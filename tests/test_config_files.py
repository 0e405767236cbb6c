"""Config files as editors and users write them: YAML keys that are not text, byte-order marks,
and folders where a file is expected."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import run_bench

SMALL = ["--dataset-option", "num_classes=4", "--dataset-option", "num_unseen=2"]


def _one_error(result) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.count("Error:") == 1, result.stderr
    return " ".join(result.stderr.split())


def test_a_yaml_key_that_is_not_text_is_one_message(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("backbone: vit-tiny\n1: synthetic\n", encoding="utf-8")
    stderr = _one_error(run_bench("run", "--config", str(config)))
    assert "c.yaml: key 1 (an integer) is not a setting name" in stderr
    assert "quote a key that reads as a number" in stderr


@pytest.mark.slow
def test_a_config_with_a_byte_order_mark_is_read(tmp_path):
    config = tmp_path / "c.toml"
    text = f'backbone = "vit-tiny"\ndataset = "synthetic"\noutput_dir = "{tmp_path / "out"}"\nworkers = 0\n'
    config.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # as Notepad saves UTF-8
    cache = ["--cache-dir", str(tmp_path / "cache")]
    result = run_bench("run", "--config", str(config), *cache, *SMALL, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["config"]["backbone"] == "vit-tiny"


def test_a_folder_given_as_a_config_or_plugin_file_is_named_a_folder(tmp_path):
    (tmp_path / "configs").mkdir()
    stderr = _one_error(run_bench("run", "--config", str(tmp_path / "configs")))
    assert f"Config file {str(tmp_path / 'configs')!r} is a directory." in stderr
    (tmp_path / "plugins").mkdir()
    config = tmp_path / "c.yaml"
    config.write_text("plugins: [plugins]\nbackbone: vit-tiny\n", encoding="utf-8")
    stderr = _one_error(run_bench("run", "--config", str(config)))
    assert f"Plugin file {str(tmp_path / 'plugins')!r} is a directory." in stderr
