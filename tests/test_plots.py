"""Tests for the plots plugin: sweep grids from results files, joint PCA, figures, `bench plot`."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from bench_plots.output import checked_output
from bench_plots.pairs import choose_pairs
from bench_plots.pca import joint_pca_rgb
from bench_plots.sweep_data import load_sweep
from conftest import run_bench
from PIL import Image

from bench import BenchError
from bench.results.schema import RunResult, write_result

TINY_DATASET = ["--dataset-option", "num_unseen=2", "--dataset-option", "photos_per_class=3"]
DPI = 60  # small PNGs: fast to write and to read back


def result(
    layer: str, t: int | None, value: float, *, dataset: str = "synthetic", **config: object
) -> RunResult:
    """A results record of one sweep cell (mAP@all = value, P@10 = 1 - value)."""
    fine = dataset.endswith("-fg")
    return RunResult(
        task="fg-sbir" if fine else "zs-sbir",
        config={
            "backbone": "sd-tiny",
            "layer": layer,
            "t": t,
            "prompt": "none",
            "dataset": dataset,
            "noise_samples": 2,
            "seed": 0,
            **config,
        },
        dataset={"id": dataset, "columns": ["Acc@1", "Acc@5"] if fine else ["mAP@all", "P@10"]},
        metrics={"Acc@1": 100 * value, "Acc@5": 90.0} if fine else {"mAP@all": value, "P@10": 1 - value},
        backbone_note="random weights",
    )


def write_all(folder: Path, results: list[RunResult]) -> Path:
    for item in results:
        write_result(folder, item)
    return folder


GRID = [
    result("up10", 50, 0.30),
    result("up2", 50, 0.20),
    result("up2", 273, 0.45),
    result("up10", 600, 0.25),
]


# ----------------------------------------------------------------------------- sweep data


def test_sweep_grid_defaults_to_first_paper_column(tmp_path: Path) -> None:
    (panel,) = load_sweep(write_all(tmp_path, GRID))
    assert (panel.dataset, panel.backbone, panel.task, panel.metric) == (
        "synthetic",
        "sd-tiny",
        "zs-sbir",
        "mAP@all",
    )
    assert panel.layers == ("up2", "up10")  # natural order
    assert panel.timesteps == (50, 273, 600)
    assert panel.values[("up2", 273)] == 0.45 and ("up2", 600) not in panel.values
    assert panel.best == ("up2", 273, 0.45)
    assert panel.unit == "fraction" and panel.note == "random weights" and panel.variant == ()


def test_sweep_metric_option_and_layer_rank(tmp_path: Path) -> None:
    write_all(tmp_path, GRID)
    (panel,) = load_sweep(tmp_path, metric="P@10", layer_rank=lambda backbone, layer: (-len(layer),))
    assert panel.metric == "P@10" and panel.best == ("up2", 50, 0.8)
    assert panel.layers == ("up10", "up2")


def test_forward_order_puts_taps_before_selectors() -> None:
    from bench_plots.sweep_data import forward_order

    from bench.registry.manager import load_plugins

    rank = forward_order(load_plugins().build_registry())
    layers = ["coarse", "up1", "up0+up1", "up0", "mid"]
    assert sorted(layers, key=lambda layer: rank("sd-tiny", layer)) == [
        "mid",
        "up0",
        "up1",
        "coarse",
        "up0+up1",
    ]
    assert sorted(["b10", "b9"], key=lambda layer: rank("no-such-backbone", layer)) == ["b9", "b10"]


def test_unknown_metric_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(BenchError) as error:
        load_sweep(write_all(tmp_path, GRID), metric="map@all")
    assert "Unknown metric 'map@all' for dataset 'synthetic'. Did you mean 'mAP@all'?" in error.value.message
    assert "Metrics of synthetic: mAP@all, P@10." in error.value.hint


def test_panels_per_dataset_backbone_and_setting(tmp_path: Path) -> None:
    results = [
        *GRID,
        result("up2", 50, 0.3, dataset="synthetic-fg"),
        result("up2", 50, 0.1, prompt="text:a drawing"),
        result("up2", 50, 0.2, backbone="sd15"),
        result("embed", None, 0.2, backbone="vit"),  # no timestep: not part of a sweep
    ]
    panels = load_sweep(write_all(tmp_path, results))
    keys = [(p.dataset, p.backbone, p.metric, p.variant) for p in panels]
    assert keys == [
        ("synthetic", "sd-tiny", "mAP@all", (("prompt", "none"),)),
        ("synthetic", "sd-tiny", "mAP@all", (("prompt", "text:a drawing"),)),
        ("synthetic", "sd15", "mAP@all", ()),
        ("synthetic-fg", "sd-tiny", "Acc@1", ()),
    ]
    assert panels[-1].unit == "%"
    assert [p.backbone for p in load_sweep(tmp_path, datasets=["synthetic"], backbones=["sd15"])] == ["sd15"]


@pytest.mark.parametrize(
    ("setup", "kwargs", "message"),
    [
        (None, {}, "does not exist"),
        ([], {}, "No results files in"),
        ([result("embed", None, 0.2)], {}, "No layer x timestep results"),
        (
            GRID,
            {"datasets": ["synthetc"]},
            "No results of dataset 'synthetc' in this folder. Did you mean 'synthetic'?",
        ),
        (GRID, {"metric": "Acc@1"}, "Unknown metric 'Acc@1'"),
    ],
)
def test_sweep_errors(tmp_path: Path, setup: list[RunResult] | None, kwargs: dict, message: str) -> None:
    folder = tmp_path / "results"
    if setup is not None:
        write_all(folder, setup) if setup else folder.mkdir()
    with pytest.raises(BenchError, match=message):
        load_sweep(folder, **kwargs)


def test_a_copied_results_file_is_an_error(tmp_path: Path) -> None:
    write_all(tmp_path / "a", GRID)
    write_all(tmp_path / "b", GRID[:1])
    with pytest.raises(BenchError, match="Two results files hold the same configuration"):
        load_sweep(tmp_path)


def test_output_suffix_picks_the_format(tmp_path: Path) -> None:
    assert checked_output(tmp_path / "a.SVG").name == "a.SVG"
    with pytest.raises(BenchError, match="Cannot tell the figure format") as error:
        checked_output(tmp_path / "figure.jpg")
    assert ".png, .svg, .pdf" in error.value.hint


# ----------------------------------------------------------------------------- PCA and pairs


def test_joint_pca_colours_sketch_and_photo_in_one_space() -> None:
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(2, 8, 5, 5)).astype(np.float32)  # (B, C, h, w)
    projection = joint_pca_rgb([shared, shared[:, :, :3, :4]])
    sketch, photo = projection.images
    assert sketch.shape == (2, 5, 5, 3) and photo.shape == (2, 3, 4, 3) and sketch.dtype == np.float32
    assert sketch.min() >= 0.0 and sketch.max() <= 1.0 and sketch.std() > 0.1
    np.testing.assert_array_equal(sketch[:, :3, :4], photo)  # same feature, same colour
    explained = projection.explained
    assert explained.shape == (3,) and np.all(np.diff(explained) <= 0) and 0 < explained.sum() <= 1
    again = joint_pca_rgb([shared, shared[:, :, :3, :4]])
    np.testing.assert_array_equal(again.images[0], sketch)


def test_joint_pca_separates_a_modality_shift_and_handles_few_channels() -> None:
    rng = np.random.default_rng(1)
    sketch = rng.normal(size=(3, 2, 4, 4))
    photo = sketch + np.array([40.0, 0.0])[None, :, None, None]  # photos shifted along channel 0
    projection = joint_pca_rgb([sketch, photo])
    red_sketch, red_photo = (images[..., 0].mean() for images in projection.images)
    assert abs(red_sketch - red_photo) > 0.8  # the first component is the modality gap
    assert projection.explained[2] == 0.0  # two channels: the blue channel is constant
    np.testing.assert_array_equal(projection.images[0][..., 2], 0.5)


def test_choose_pairs_takes_classes_in_turn() -> None:
    from bench_datasets.synthetic import SyntheticCategory

    dataset = SyntheticCategory(num_unseen=3, photos_per_class=2, image_size=32)
    pairs = choose_pairs(dataset, 5)
    assert len(pairs) == 5
    assert all(sketch.instance == photo.instance and sketch.modality == "sketch" for sketch, photo in pairs)
    labels = [sketch.label for sketch, _ in pairs]
    assert labels[:3] == dataset.unseen_classes and labels[3:] == dataset.unseen_classes[:2]
    assert len({photo.key for _, photo in pairs}) == 5
    assert len(choose_pairs(dataset, 50)) == 6  # every photo once


def test_vector_layer_is_refused_with_the_map_layers() -> None:
    """PCA maps need a spatial map: bench.feature_maps refuses a vector tap, listing the map layers."""
    import bench

    backbone = bench.load_backbone("vit-tiny", device="cpu")
    with pytest.raises(BenchError, match="'embed' of backbone 'vit-tiny' is a vector") as error:
        bench.feature_maps(backbone, [], layer="embed")
    assert error.value.hint.startswith("Layers of vit-tiny with a map: block0, block-2,")


# ----------------------------------------------------------------------------- figures


def png_pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def expected_pixels(size: tuple[float, float], dpi: int) -> tuple[int, int]:
    """(height, width) in pixels of a figure of ``size`` inches."""
    return round(size[1] * dpi), round(size[0] * dpi)


def assert_size(pixels: np.ndarray, size: tuple[float, float], dpi: int) -> None:
    height, width = expected_pixels(size, dpi)
    assert abs(pixels.shape[0] - height) <= 1 and abs(pixels.shape[1] - width) <= 1


def test_sweep_figure_png_and_svg(tmp_path: Path) -> None:
    from bench_plots.sweep_figure import figure_size, render_sweep

    panels = load_sweep(
        write_all(tmp_path / "results", [*GRID, result("up2", 50, 0.3, dataset="synthetic-fg")])
    )
    png = render_sweep(panels, tmp_path / "sweep.png", dpi=DPI)
    pixels = png_pixels(png)
    assert_size(pixels, figure_size(panels), DPI)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    svg = render_sweep(panels, tmp_path / "sweep.svg").read_text(encoding="utf-8")
    for text in (
        "mAP@all of sd-tiny on synthetic (zs-sbir)",
        "Acc@1 of sd-tiny on synthetic-fg (fg-sbir)",
        "mAP@all (fraction)",
        "Acc@1 (%)",
        "diffusion timestep t (DDPM steps, 0–999)",
        "feature layer",
        "best: up2 at t = 273 (0.450)",
        "t = 273: Koley et al.'s operating point",
        "t = 273 (Koley et al.)",
        "best (up2, t = 273)",
        "not run",
    ):
        assert text in svg, text
    assert render_sweep(panels, tmp_path / "again.svg").read_text(encoding="utf-8") == svg


def test_pca_figure_png_and_svg(tmp_path: Path) -> None:
    from bench_plots.pca_figure import PcaColumn, figure_size, render_pca

    rng = np.random.default_rng(0)
    inputs = PcaColumn(
        "input images", *(rng.integers(0, 255, (2, 32, 32, 3), dtype=np.uint8) for _ in range(2))
    )
    columns = [PcaColumn(f"t = {t}", *(rng.random((2, 4, 4, 3)) for _ in range(2))) for t in (50, 273, 600)]
    title = "PCA of net grid features on d"
    png = render_pca(inputs, columns, ["star", "ring"], tmp_path / "pca.png", title=title, dpi=DPI)
    pixels = png_pixels(png)
    assert_size(pixels, figure_size(2, 3, title), DPI)
    assert pixels.std() > 20
    svg = render_pca(inputs, columns, ["star", "ring"], tmp_path / "pca.svg", title=title).read_text(
        encoding="utf-8"
    )
    for text in (title, "input images", "t = 273", "sketch", "photo", "1: star", "2: ring"):
        assert text in svg, text


# ----------------------------------------------------------------------------- the command line


def test_plot_help_imports_no_plotting_or_model_library() -> None:
    code = textwrap.dedent(
        """
        import sys
        from bench.cli.main import main
        for command in ("", "plot sweep", "plot pca"):
            sys.argv = ["bench", *command.split(), "--help"]
            try:
                main()
            except SystemExit as exit:
                assert not exit.code, exit.code
        print("HEAVY", [m for m in ("matplotlib", "numpy", "torch") if m in sys.modules])
        """
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in output and "plot" in output and "--reference-t" in output and "--pair" in output


def test_plot_sweep_errors_name_the_problem(tmp_path: Path) -> None:
    missing = run_bench("plot", "sweep", str(tmp_path / "nowhere"))
    assert (
        missing.returncode == 1 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    )
    write_all(tmp_path / "results", GRID)
    metric = run_bench("plot", "sweep", str(tmp_path / "results"), "--metric", "P@100", "--output", "x.png")
    assert metric.returncode == 1 and "Metrics of synthetic: mAP@all, P@10" in metric.stderr
    suffix = run_bench("plot", "sweep", str(tmp_path / "results"), "--output", "figure.jpeg")
    assert suffix.returncode == 1 and "Cannot tell the figure format" in suffix.stderr


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Results of a 2-layer x 2-timestep sd-tiny sweep on a small synthetic benchmark."""
    folder = tmp_path_factory.mktemp("sweep")
    run = run_bench(
        "run",
        *("--backbone", "sd-tiny", "--dataset", "synthetic", "--image-size", "64", "--noise-samples", "1"),
        *("--layer", "up0", "--layer", "up1", "--t", "50", "--t", "273", *TINY_DATASET),
        *("--output-dir", str(folder)),
    )
    assert run.returncode == 0, run.stderr
    return folder


@pytest.mark.slow
def test_bench_plot_sweep_end_to_end(sweep_dir: Path, tmp_path: Path) -> None:
    from bench_plots.sweep_figure import figure_size

    png, svg = tmp_path / "figures" / "sweep.png", tmp_path / "figures" / "sweep.svg"
    done = run_bench("plot", "sweep", str(sweep_dir), "--output", str(png), "--dpi", str(DPI))
    assert done.returncode == 0, done.stderr
    assert (
        f"Wrote {png}" in done.stdout
        and "synthetic / sd-tiny: mAP@all over 2 layer(s) x 2 timestep(s)" in done.stdout
    )
    pixels = png_pixels(png)
    assert_size(pixels, figure_size(load_sweep(sweep_dir)), DPI)
    assert pixels.std() > 20
    assert (
        run_bench("plot", "sweep", str(sweep_dir), "--output", str(svg), "--metric", "P@10").returncode == 0
    )
    text = svg.read_text(encoding="utf-8")
    for label in (
        "P@10 of sd-tiny on synthetic",
        "P@10 (fraction)",
        "feature layer",
        "t = 273 (Koley et al.)",
    ):
        assert label in text, label
    assert text.index(">up0<") < text.index(">up1<")


@pytest.mark.slow
def test_bench_plot_pca_end_to_end(tmp_path: Path) -> None:
    from bench_plots.pca_figure import figure_size

    png = tmp_path / "pca.png"
    done = run_bench(
        "plot",
        "pca",
        *("--backbone", "sd-tiny", "--layer", "up0+up1", "--t", "50", "--t", "273", "--dataset", "synthetic"),
        *("--pair", "2", "--image-size", "64", *TINY_DATASET, "--output", str(png), "--dpi", str(DPI)),
    )
    assert done.returncode == 0, done.stderr
    assert "2 pair(s) x 2 timestep(s) of sd-tiny up0+up1 on synthetic" in done.stdout
    assert "img/s" in done.stderr and "eta" in done.stderr
    pixels = png_pixels(png)
    height, width = expected_pixels(figure_size(2, 2, "title"), DPI)
    assert abs(pixels.shape[1] - width) <= 1 and pixels.shape[0] >= height
    assert pixels.std() > 20
