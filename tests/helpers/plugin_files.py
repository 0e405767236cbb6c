"""Plugins as users write them: one-file plugins, installed distributions with entry points, and
the worked example of docs/plugins.md (``examples/hog_plugin.py``) with a folder dataset it reads."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bench_datasets.synthetic import SyntheticCategory

from tests.helpers.cli import REPO

EXAMPLE = REPO / "examples" / "hog_plugin.py"


ENCODER = """
import bench
from bench import BackboneInfo, TapInfo


class Broken(bench.ImageEncoderBase):
    def features(self, pixels, taps):
        import torch
        return {RETURNED}


@bench.hookimpl
def register_backbones(register):
    register(BackboneInfo(id="broken", target=Broken, description="", weights="none", image_size=32,
                          layers=(TapInfo("v", 8, 0), TapInfo("m", 4, 8)), default_layer="v"))
"""


def plugin_file(tmp_path: Path, source: str, name: str = "myplugin") -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def one_error(result, *phrases: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("Error:") == 1, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr

def make_distribution(site: Path, name: str, modules: dict[str, str]) -> None:
    """An installed-looking distribution in ``site`` whose ``sbir_bench`` entry points load ``modules``."""
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "\n".join(f"{module} = {module}" for module in modules)
    (info / "entry_points.txt").write_text(f"[sbir_bench]\n{lines}\n")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))

def hog_run(*options: str) -> list[str]:
    """``bench run`` arguments for the example's backbone on its folder dataset, plus ``options``."""
    return ["run", "--plugin", str(EXAMPLE), "--backbone", "hog", "--dataset", "folders", *options]


def write_folder_dataset(root: Path) -> None:
    """Real image files in the layout the example dataset reads (sketches as PNG with alpha)."""
    source = SyntheticCategory(num_unseen=3, photos_per_class=4, image_size=64)
    for item in source.split("query") + source.split("gallery"):
        image = source.load_image(item)
        name = item.key.rsplit("/", 1)[-1]
        folder = root / item.modality / item.label
        folder.mkdir(parents=True, exist_ok=True)
        if item.modality == "sketch":
            image = image.convert("RGBA")
            image.putalpha(image.convert("L").point(lambda v: 255 - v))  # strokes opaque, paper clear
            image.save(folder / f"{name}.png")
        else:
            image.save(folder / f"{name}.jpg", quality=95)
