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
from PIL import Image

from bench import BenchError
from bench.results.schema import RunResult, write_result
from tests.helpers.cli import run_bench
from tests.helpers.retrieval import specs

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
        write_result(folder, item, specs())
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


@pytest.mark.slow
def test_sweep_figure_png_and_svg(tmp_path: Path) -> None:
    from bench_plots.sweep_figure import figure_size, render_sweep

    fine = [result("up2", 50, 0.3, dataset="synthetic-fg"), result("up2", 273, 0.2, dataset="synthetic-fg")]
    panels = load_sweep(write_all(tmp_path / "results", [*GRID, *fine]))
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


@pytest.mark.slow
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


# ----------------------------------------------------------------------------- what a paper prints

CHANCE = {"metrics": {"mAP@all": 0.183, "P@10": 0.125}, "methods": {"mAP@all": "exact", "P@10": "exact"}}


def measured(layer: str, t: int, value: float, **config: object) -> RunResult:
    """A sweep cell whose results record the chance level and a 95% bootstrap interval."""
    cell = result(layer, t, value, **config)
    cell.chance = CHANCE
    cell.intervals = {
        "level": 0.95,
        "method": "percentile bootstrap",
        "unit": "query",
        "resamples": 200,
        "seed": 0,
        "bounds": {"mAP@all": [value - 0.02, value + 0.03], "P@10": [0.5, 0.9]},
    }
    return cell


CROWDED_T = (0, 10, 20, 50, 100, 150, 200, 273, 500, 999)


def drawn(panels):
    """The figure of ``panels`` after a layout pass, and every text on it."""
    from bench_plots.style import styled
    from bench_plots.sweep_figure import draw_sweep
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with styled():
        figure = draw_sweep(panels)
        FigureCanvasAgg(figure).draw()
    texts = figure.findobj(lambda artist: hasattr(artist, "get_text"))
    return figure, [text.get_text().replace("\n", " ") for text in texts]  # wrapped legends unwrapped


def axes_titled(figure, row: int, start: str):
    """The axes of panel ``row`` whose title starts with ``start``."""
    return next(axes for axes in figure.subfigs[row].axes if axes.get_title().startswith(start))


def test_chance_line_bands_and_readable_titles(tmp_path: Path) -> None:
    from matplotlib.collections import PolyCollection

    options = {"num_unseen": 4, "photos_per_class": 8}
    cells = [
        measured(layer, t, 0.2 + t / 5000, dataset_options=options)
        for layer in ("up0", "up1")
        for t in CROWDED_T
    ]
    (panel,) = load_sweep(write_all(tmp_path, cells))
    assert (
        panel.chance == 0.183
        and panel.chance_method == "exact"
        and panel.bounds[("up0", 0)] == pytest.approx((0.18, 0.23))
    )
    figure, texts = drawn([panel])
    curves = axes_titled(figure, 0, "mAP@all against timestep")
    chance = [line for line in curves.get_lines() if line.get_label().startswith("chance")]
    assert len(chance) == 1 and chance[0].get_linestyle() == "--" and set(chance[0].get_ydata()) == {0.183}
    assert "chance" in texts and "chance (exact): 0.183" in texts
    assert sum(isinstance(c, PolyCollection) for c in curves.collections) == 2  # one band per layer
    assert any(t.startswith("shaded: 95% interval: percentile bootstrap over queries") for t in texts)
    title = figure.subfigs[0]._suptitle.get_text()
    assert "on synthetic (zs-sbir; num_unseen=4, photos_per_class=8)" in title
    assert not any("{" in text or '"' in text for text in texts)  # no raw JSON anywhere


def test_tick_labels_never_overlap_and_are_plain_decimals(tmp_path: Path) -> None:
    import re

    cells = [measured("up0", t, 0.382) for t in CROWDED_T] + [measured("up1", t, 0.382) for t in CROWDED_T]
    figure, _ = drawn(load_sweep(write_all(tmp_path, cells)))  # every value equal: a flat colour scale
    renderer = figure.canvas.get_renderer()
    for axes in figure.subfigs[0].axes:
        for axis in (axes.xaxis, axes.yaxis):
            labels = [label for label in axis.get_ticklabels() if label.get_visible() and label.get_text()]
            boxes = sorted(
                (label.get_window_extent(renderer) for label in labels), key=lambda b: (b.x0, b.y0)
            )
            for first, second in zip(boxes, boxes[1:], strict=False):
                assert not first.overlaps(second), [label.get_text() for label in labels]
            assert axis.get_offset_text().get_text() == ""
            for label in labels:
                assert label.get_text() in {str(t) for t in CROWDED_T} or re.fullmatch(
                    r"-?\d+\.\d{1,6}|up\d", label.get_text()
                ), label.get_text()
    colorbar = next(
        axes
        for axes in figure.subfigs[0].axes
        if axes.get_ylabel() == "mAP@all (fraction)" and not axes.get_title()
    )
    colorbar_ticks = [label.get_text() for label in colorbar.get_yticklabels()]
    assert len(set(colorbar_ticks)) == len(colorbar_ticks) >= 3


def test_results_without_chance_or_intervals_say_so(tmp_path: Path) -> None:
    from bench_plots.sweep_figure import NO_CHANCE, NO_INTERVALS

    figure, texts = drawn(load_sweep(write_all(tmp_path, GRID)))
    assert NO_CHANCE in texts and NO_INTERVALS in texts
    assert not any(line.get_label().startswith("chance") for line in figure.subfigs[0].axes[-1].get_lines())


def test_one_layer_is_a_curve_one_timestep_is_bars_one_cell_is_refused(tmp_path: Path) -> None:
    from bench_plots.sweep_data import plottable
    from bench_plots.sweep_figure import draw_sweep, panel_kind

    cells = [
        measured("up1", 50, 0.3, noise_samples=1),
        measured("up1", 273, 0.35, noise_samples=1),
        *(measured(layer, 273, 0.25, noise_samples=6) for layer in ("up0", "up1", "up2")),
        measured("up1", 50, 0.3, backbone="sd15"),
    ]
    panels = load_sweep(write_all(tmp_path / "results", cells))
    assert [panel_kind(p) for p in panels] == ["curve", "bars", "single"]
    assert panels[0].variant == (("noise_samples", "1"),)
    kept, single = plottable(panels, tmp_path)
    assert [p.backbone for p in single] == ["sd15"]
    figure, texts = drawn(kept)
    assert [len(subfigure.axes) for subfigure in figure.subfigs] == [1, 1]  # no 1-row or 1-column heatmap
    titles = [subfigure._suptitle.get_text() for subfigure in figure.subfigs]
    assert "by layer and timestep — noise draws: 1\n" in titles[0]
    assert "by layer at t = 273 — noise draws: 6" in titles[1] and "chance" in texts
    with pytest.raises(BenchError, match="one layer at one timestep"):
        draw_sweep(single)
    with pytest.raises(BenchError, match="Nothing to plot in") as error:
        plottable(single, tmp_path)
    assert "sd15 up1 at t = 50 on synthetic: mAP@all 0.300" in error.value.message
    assert "bench leaderboard" in error.value.hint


def test_bench_plot_sweep_reads_hand_written_results_files(tmp_path: Path) -> None:
    """Results files written as `bench run` will write them (schema 2, provenance, chance,
    intervals), from a committed file as the template; a folder of single cells is refused."""
    import json

    from bench.results.naming import run_name

    template = Path(__file__).resolve().parents[1] / "leaderboard" / "results" / "synthetic"
    (committed,) = template.glob("sd-mini_coarse_t273_none_n2_s0_fp32-*.json")
    data = json.loads(committed.read_text())
    assert data["schema_version"] == 2 and data["provenance"]["command"]
    folder = tmp_path / "results"
    folder.mkdir()
    for t, value in ((50, 0.21), (273, 0.19), (600, 0.18)):
        data["config"]["t"] = t
        data["name"] = run_name(data["config"])
        data["metrics"]["mAP@all"] = value
        data["chance"] = CHANCE
        data["intervals"] = {
            "level": 0.95,
            "method": "percentile bootstrap",
            "unit": "query",
            "resamples": 200,
            "seed": 0,
            "bounds": {"mAP@all": [value - 0.02, value + 0.02]},
        }
        (folder / f"{data['name']}.json").write_text(json.dumps(data))
    svg = tmp_path / "sweep.svg"
    done = run_bench("plot", "sweep", str(folder), "--output", str(svg))
    assert done.returncode == 0, done.stderr
    assert "mAP@all over 1 layer(s) x 3 timestep(s); best 0.21 at coarse, t = 50; chance 0.183" in done.stdout
    text = svg.read_text(encoding="utf-8")
    assert ">chance<" in text and "95% interval" in text
    single = tmp_path / "single"
    single.mkdir()
    (single / f"{data['name']}.json").write_text(json.dumps(data))
    refused = run_bench("plot", "sweep", str(single), "--output", str(tmp_path / "one.png"))
    assert refused.returncode == 1 and "one number is no heatmap or curve" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "one.png").exists()
