"""More plugin mistakes, each one clear message naming the plugin: exiting while imported, two plugin
files with one name, impossible registered values, and a dataset whose images are not images."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import WITH_INSTALLED_PLUGINS, run_bench
from tests.helpers.plugin_files import ENCODER, EXAMPLE, make_distribution, one_error, plugin_file


@pytest.mark.slow
def test_a_plugin_that_calls_sys_exit_while_imported_is_named(tmp_path):
    path = plugin_file(tmp_path, "import sys\nsys.exit(3)\n", "quitter")
    one_error(
        run_bench("list", "--plugin", str(path)),
        "quitter.py' failed to import: it called sys.exit(3) while being imported",
    )
    site = tmp_path / "site"
    make_distribution(site, "bench-quitter", {"quitter_plugin": "import sys\nsys.exit(3)\n"})
    installed = run_bench("list", "backbones", env={"PYTHONPATH": str(site), **WITH_INSTALLED_PLUGINS})
    assert installed.returncode == 0, installed.stderr
    stderr = " ".join(installed.stderr.split())
    assert "plugin 'quitter_plugin'" in stderr and "it called sys.exit(3) while being imported" in stderr
    assert "sd-tiny" in installed.stdout  # the other plugins work


def test_two_plugin_files_with_one_name_are_an_error_naming_both(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = plugin_file(tmp_path / "a", EXAMPLE.read_text(), "hog")
    second = plugin_file(tmp_path / "b", EXAMPLE.read_text().replace('id="hog"', 'id="hog2"'), "hog")
    one_error(
        run_bench("list", "backbones", "--plugin", str(first), "--plugin", str(second)),
        f"Plugin files {str(first)!r} and {str(second)!r} are both plugin 'file:hog'",
        "Rename one of the files.",
    )
    again = run_bench("list", "backbones", "--plugin", str(first), "--plugin", str(first))
    assert again.returncode == 0 and "hog" in again.stdout, again.stderr


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("TapInfo(\"v\", 8, 0)", "TapInfo(\"v\", -8, 0)"), "layer 'v' with -8 channels"),
        (("TapInfo(\"m\", 4, 8)", "TapInfo(\"m\", 4, -8)"), "layer 'm' with stride -8"),
        (("image_size=32", "image_size=-32"), "image_size -32"),
        (('default_layer="v"', 'default_layer="up1"'), "default layer 'up1', which is none of its layers"),
        (("TapInfo(\"m\", 4, 8)", "TapInfo(\"v\", 4, 8)"), "layer 'v' twice"),
    ],
)  # fmt: skip
def test_impossible_registered_values_are_named_when_registered(tmp_path, change, problem):
    source = ENCODER.replace("{RETURNED}", "{}")
    assert change[0] in source
    path = plugin_file(tmp_path, source.replace(*change))
    one_error(
        run_bench("list", "--plugin", str(path)),
        "Plugin 'file:myplugin' registered backbone 'broken' with impossible values:",
        problem,
    )


def _folder_run(tmp_path, load_image: str, imports: str = "") -> list[str]:
    """``bench run`` arguments for the example's folder dataset whose ``load_image`` returns
    ``load_image``, on two classes of one sketch and one photo each (all different: equal files
    are read once)."""
    from PIL import Image

    data = tmp_path / "data"
    for modality, grey in (("sketch", 250), ("photo", 100)):
        for shade, label in enumerate(("a", "b")):
            (data / modality / label).mkdir(parents=True)
            Image.new("RGB", (32, 32), (grey + shade,) * 3).save(data / modality / label / "1.png")
    source = EXAMPLE.read_text().replace("import bench\n", f"import bench\n{imports}")
    path = plugin_file(tmp_path, source.replace("return bench.load_rgb(item.path)", load_image), "hog")
    return ["run", "--plugin", str(path), "--backbone", "hog", "--dataset", "folders", "--data-root",
            str(data), "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c")]  # fmt: skip


@pytest.mark.parametrize(
    ("returned", "described"),
    [("None", "None"), ("numpy.asarray(bench.load_rgb(item.path))", "numpy.ndarray with shape (32, 32, 3)")],
)
def test_a_dataset_whose_load_image_returns_no_image_is_named(tmp_path, returned, described):
    result = run_bench(*_folder_run(tmp_path, f"return {returned}", "import numpy\n"))
    one_error(
        result,
        "Dataset 'folders' (plugin 'file:hog') broke its contract: load_image() returned",
        f"{described} for item 'sketch/a/1.png', not a PIL image",
    )
    assert "loading backbone" not in result.stderr


def test_an_item_whose_load_image_returns_no_image_is_skipped_and_counted_naming_the_plugin(tmp_path):
    run = _folder_run(tmp_path, "return None if item.key == 'photo/b/1.png' else bench.load_rgb(item.path)")
    skipped = run_bench(*run, "--json")
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)[0]["dataset"]["skipped_images"] == 1
    one_error(
        run_bench(*run, "--strict"),
        "Dataset 'folders' (plugin 'file:hog') broke its contract: load_image() returned None for item "
        "'photo/b/1.png'",
    )


def test_a_run_whose_gallery_images_are_all_unreadable_is_one_message(tmp_path):
    run = _folder_run(tmp_path, "return bench.load_rgb(item.path)")
    for photo in (tmp_path / "data" / "photo").rglob("*.png"):
        photo.write_bytes(b"not a png " + photo.parent.name.encode())
    one_error(
        run_bench(*run),
        "No gallery image of dataset 'folders' could be read (2 skipped, e.g. 'photo/a/1.png':",
        "Check the files under --data-root (bench datasets check folders names each problem).",
    )
