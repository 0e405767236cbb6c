"""`bench run` end to end in subprocesses: default run, sweeps, results files, determinism, errors."""

from __future__ import annotations

import json
import re
import time

import pytest

import bench
from bench.results.schema import read_result
from tests.helpers.cli import run_bench
from tests.helpers.plugin_files import hog_run
from tests.helpers.retrieval import specs

pytestmark = pytest.mark.slow
SMALL = ["--dataset-option", "num_unseen=3", "--dataset-option", "photos_per_class=4", "--image-size", "64"]


def test_default_run_prints_both_tables_and_writes_results(tmp_path):
    result = run_bench("run", "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "Zero-shot category-level SBIR" in result.stdout and "Fine-grained SBIR" in result.stdout
    assert "sd-mini" in result.stdout and "synthetic-fg" in result.stdout
    runs = {
        (f.parent.name, read_result(f, specs()).config["backbone"]): read_result(f, specs())
        for f in (tmp_path / "out").rglob("*.json")
    }
    backbones = {backbone for _, backbone in runs}
    assert "sd-mini" in backbones and set(runs) == {
        (d, b) for d in ("synthetic", "synthetic-fg") for b in backbones
    }
    zs = runs[("synthetic", "sd-mini")]
    assert zs.task == "zs-sbir" and zs.config["t"] == 200 and zs.config["layer"] == "up0"
    assert set(zs.metrics) == {"mAP@all", "mAP@all[plain]", "mAP@10", "mAP@10[retrieved]", "P@10"}
    assert zs.dataset["num_queries"] == 96 and zs.dataset["num_gallery"] == 96
    assert zs.dataset["gallery_unique"] and zs.dataset["queries_without_relevant"] == 0
    provenance = zs.provenance  # how it was produced: outside the identity, in every results file
    assert provenance["libraries"]["torch"] and provenance["command"]  # in-process here: pytest's
    assert provenance["created"].endswith("+00:00") and provenance["device"].startswith("cpu")
    assert provenance["sbir_bench"]["version"] and provenance["weights"][0]["backbone"] == "sd-mini"
    assert {(c["kind"], c["id"], c["plugin"]) for c in provenance["components"]} == {
        ("backbone", "sd-mini", "sd"),
        ("dataset", "synthetic", "datasets"),
    }
    assert zs.runtime["cache_hits"] + zs.runtime["cache_misses"] == 192
    fg = runs[("synthetic-fg", "sd-mini")]
    assert set(fg.metrics) == {"Acc@1", "Acc@5", "Acc@10"}
    assert 0 <= fg.metrics["Acc@1"] <= 100


def test_sweep_is_one_table_of_the_product_and_deterministic(tmp_path):
    args = [
        "run",
        "--backbone",
        "sd-tiny",
        "--layer",
        "up0",
        "--layer",
        "up1",
        "--t",
        "100",
        "--t",
        "500",
        "--dataset",
        "synthetic",
        *SMALL,
    ]
    first = run_bench(
        *args, "--json", "--output-dir", str(tmp_path / "a"), "--cache-dir", str(tmp_path / "c1")
    )
    assert first.returncode == 0, first.stderr
    runs = json.loads(first.stdout)
    assert sorted((r["config"]["layer"], r["config"]["t"]) for r in runs) == [
        ("up0", 100),
        ("up0", 500),
        ("up1", 100),
        ("up1", 500),
    ]
    assert first.stderr.count("extracting (sd-tiny on synthetic)") == 1  # one pass serves the whole sweep
    assert all(r["runtime"]["group_configurations"] == 4 for r in runs)
    second = json.loads(
        run_bench(
            *args,
            "--json",
            "--batch-size",
            "3",
            "--output-dir",
            str(tmp_path / "b"),
            "--cache-dir",
            str(tmp_path / "c2"),
        ).stdout
    )
    for a, b in zip(runs, second, strict=True):
        assert a["name"] == b["name"]
        for metric, value in a["metrics"].items():
            assert b["metrics"][metric] == pytest.approx(value, abs=1e-6), metric
    table = run_bench(*args, "--output-dir", str(tmp_path / "c"))
    assert table.returncode == 0
    assert table.stdout.count("│ synthetic │ sd-tiny") == 4


def test_config_file_and_prompt_sweep(tmp_path):
    config = tmp_path / "mine.toml"
    config.write_text(
        'backbone = "sd-tiny"\nlayer = ["coarse"]\nt = [50]\nprompt = ["none", "text:a drawing of"]\n'
        'dataset = ["synthetic"]\nnoise_samples = 1\n'
        "dataset_options = { num_unseen = 2, photos_per_class = 3 }\nimage_size = 64\n"
    )
    result = run_bench("run", "--config", str(config), "--json", "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)
    assert [r["config"]["prompt"] for r in runs] == ["none", "text:a drawing of"]
    assert runs[0]["metrics"] != runs[1]["metrics"]
    bad = tmp_path / "bad.toml"
    bad.write_text('backbone = "sd-tiny"\nlayers = ["up1"]\n')
    failed = run_bench("run", "--config", str(bad))
    assert (
        failed.returncode == 1
        and "layers is not a valid key (did you mean 'layer'?)" in failed.stderr
        and "Valid keys" in failed.stderr
    )


@pytest.mark.parametrize("backbone", ["sd15", "sd21", "sd21-base", "sd-turbo", "sdxl"])
def test_missing_weights_fail_in_seconds_with_the_model_id(tmp_path, backbone):
    started = time.monotonic()
    result = run_bench("run", "--backbone", backbone, env={"HF_HOME": str(tmp_path / "hf")})
    # seconds, not the minutes of network retries (generous: the CI machine runs two workers)
    assert time.monotonic() - started < 45
    assert result.returncode == 1 and "not available" in result.stderr and "Traceback" not in result.stderr
    assert f"--weights {backbone}=DIR" in result.stderr


def test_sd15_weights_errors_name_the_model_and_what_to_do(tmp_path):
    result = run_bench("run", "--backbone", "sd15", env={"HF_HOME": str(tmp_path / "hf")})
    assert result.returncode == 1
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in result.stderr
    assert "--weights sd15=DIR" in result.stderr and "Traceback" not in result.stderr
    local = run_bench("run", "--backbone", "sd15", "--weights", str(tmp_path / "no-such-dir"))
    assert local.returncode == 1 and "does not exist" in local.stderr
    (tmp_path / "partial" / "unet").mkdir(parents=True)
    partial = run_bench("run", "--backbone", "sdxl", "--weights", f"sdxl={tmp_path / 'partial'}")
    assert partial.returncode == 1 and "it lacks the subfolders vae, text_encoder," in partial.stderr
    assert "text_encoder_2" in partial.stderr


def test_fp16_on_cpu_is_refused_with_a_reason():
    result = run_bench("run", "--dtype", "fp16", "--device", "cpu")
    assert result.returncode == 1
    assert "fp16 is not supported on the CPU" in result.stderr and "bf16" in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("--noise-samples", "0", "allowed: an integer from 1 to 1024."),
        ("--t", "-1", "should be greater than or equal to 0."),
        ("--image-size", "4", "allowed: a size in pixels, 8 to 8192."),
    ],
)
def test_a_range_is_checked_once_for_the_command_line_config_files_and_python(option, value, allowed):
    """The schema is the one check of a setting's range: the command line reports it as a config file
    and ``bench.run`` do (no second, different rule in the options)."""
    result = run_bench("run", option, value, "--dry-run")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert allowed in " ".join(result.stderr.split())
    setting = option[2:].replace("-", "_")
    with pytest.raises(bench.BenchError, match=re.escape(allowed)):
        bench.run(**{setting: (int(value),) if setting == "t" else int(value)})


@pytest.mark.parametrize("size", [8, 13])
def test_an_image_size_below_the_backbones_finest_stride_is_refused_by_planning(tmp_path, size):
    """The schema allows 8 px and up; a ViT with 14 px patches has no feature cell below 14 px, which
    crashed extraction with a traceback. Planning refuses it for the command line, a config file
    and ``bench.run`` alike, naming the stride and the sizes that work."""
    expected = (
        f"--image-size {size} is smaller than the finest tap stride of backbone 'dinov2-vits14-imgfocus' "
        "(14 px: patch size or downsampling), so its feature maps would be empty.\n"
        "Use --image-size 14 to 8192, best a multiple of 14 (its default is 224)."
    )
    settings = {"backbone": ("dinov2-vits14-imgfocus",), "dataset": ("synthetic",), "image_size": size}
    typed = run_bench("run", "--backbone", "dinov2-vits14-imgfocus", "--dataset", "synthetic",
                      "--image-size", str(size), "--limit", "4", "--dry-run")  # fmt: skip
    config = tmp_path / "small.toml"
    config.write_text(f'backbone = "dinov2-vits14-imgfocus"\ndataset = "synthetic"\nimage_size = {size}\n')
    from_file = run_bench("run", "--config", str(config), "--dry-run")
    for result in (typed, from_file):
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert expected in result.stderr
    with pytest.raises(bench.BenchError) as caught:
        bench.run(**settings)
    assert str(caught.value) == expected


def test_sd_mini_runs_at_its_finest_stride():
    """sd-mini's finest tap stride is 8 px (the VAE's), so 8 px stays a valid size for it."""
    result = run_bench("run", "--backbone", "sd-mini", "--dataset", "synthetic", "--image-size", "8",
                       "--limit", "4", "--dry-run")  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_data_root_errors(tmp_path):
    base = hog_run()
    missing = run_bench(*base)
    assert missing.returncode == 1 and "no --data-root was given" in missing.stderr
    assert "<root>/sketch/<class>/*.png" in missing.stderr
    nowhere = run_bench(*base, "--data-root", str(tmp_path / "nowhere"))
    assert nowhere.returncode == 1 and "is not a directory" in nowhere.stderr
    (tmp_path / "empty").mkdir()
    empty = run_bench(*base, "--data-root", str(tmp_path / "empty"))
    assert empty.returncode == 1 and "is empty" in empty.stderr
    (tmp_path / "wrong" / "photos").mkdir(parents=True)
    (tmp_path / "wrong" / "photos" / "a.txt").write_text("x")
    wrong = run_bench(*base, "--data-root", str(tmp_path / "wrong"))
    assert wrong.returncode == 1 and "could not be opened: no images in" in wrong.stderr
    for result in (missing, nowhere, empty, wrong):
        assert "Traceback" not in result.stderr


def test_unreadable_images_are_skipped_and_counted_or_stop_a_strict_run(tmp_path):
    from tests.helpers.plugin_files import write_folder_dataset

    root = tmp_path / "data"
    write_folder_dataset(root)
    broken = next((root / "photo").glob("*/*.jpg"))
    broken.write_bytes(b"not a jpeg")
    base = hog_run("--data-root", str(root))
    lenient = run_bench(*base, "--json", "--output-dir", str(tmp_path / "out"))
    assert lenient.returncode == 0, lenient.stderr
    assert "skipped 1 unreadable image(s)" in lenient.stderr and broken.name in lenient.stderr
    (run,) = json.loads(lenient.stdout)
    assert run["dataset"]["skipped_images"] == 1 and run["dataset"]["num_gallery"] == 11
    strict = run_bench(*base, "--strict", "--output-dir", str(tmp_path / "out2"))
    assert strict.returncode == 1 and broken.name in strict.stderr and "Traceback" not in strict.stderr


def test_layer_timestep_sweep_costs_one_encode_per_image(tmp_path):
    args = [
        "run",
        "--backbone",
        "sd-tiny",
        "--dataset",
        "synthetic",
        *SMALL,
        "--noise-samples",
        "6",
        "--json",
    ]
    for layer in ("up0", "up1", "up2"):
        args += ["--layer", layer]
    for t in ("50", "273", "600"):
        args += ["--t", t]
    result = run_bench(*args, "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)
    assert len(runs) == 9 and len({r["name"] for r in runs}) == 9
    assert {r["runtime"]["group_configurations"] for r in runs} == {9}
    assert runs[0]["extractor"]["latent"].startswith("VAE posterior mean")


def test_leaderboard_command_writes_and_checks(tmp_path):
    out = tmp_path / "results"
    assert run_bench("run", "--dataset", "synthetic", *SMALL, "--output-dir", str(out)).returncode == 0
    board = tmp_path / "board" / "README.md"
    every = ("--reported-sections", "all")  # the paper's sections too, though synthetic alone was run
    written = run_bench("leaderboard", str(out), "--output", str(board), *every)
    assert written.returncode == 0, written.stderr
    text = board.read_text()
    assert "## synthetic" in text and "sd-mini" in text and "| *chance* |" in text
    assert "reported: Stable Diffusion features + learned prompts; Koley et al., CVPR 2024, Table 1" in text
    assert run_bench("leaderboard", str(out), "--output", str(board), *every, "--check").returncode == 0
    board.write_text(text + "edited\n")
    stale = run_bench("leaderboard", str(out), "--output", str(board), *every, "--check")
    assert stale.returncode == 1 and "is stale" in stale.stderr


def test_compile_falls_back_for_backbones_without_it(tmp_path):
    from tests.helpers.plugin_files import write_folder_dataset

    write_folder_dataset(tmp_path / "data")
    result = run_bench(
        *hog_run(
            "--compile",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--data-root",
            str(tmp_path / "data"),
            "--output-dir",
            str(tmp_path / "out"),
        )
    )
    assert result.returncode == 0, result.stderr
    assert "backbone hog cannot be compiled; running it eagerly" in result.stderr


def test_a_skip_existing_rerun_prints_the_first_runs_table(tmp_path):
    """The result table's metric columns came in the evaluation's order on a fresh run and in the
    results file's (sorted) order on a --skip-existing rerun; rows of reused files came first."""
    cache = ["--cache-dir", str(tmp_path / "cache")]
    datasets = ["--dataset", "synthetic", "--dataset", "synthetic-fg", "--dataset-option", "num_unseen=3"]
    sweep = ["run", "--backbone", "vit-tiny", "--backbone", "clip-tiny", *datasets, *cache]
    fresh = run_bench(*sweep, "--output-dir", str(tmp_path / "fresh"))
    assert fresh.returncode == 0, fresh.stderr
    part = run_bench(
        "run", "--backbone", "clip-tiny", *datasets, *cache, "--output-dir", str(tmp_path / "out")
    )
    assert part.returncode == 0, part.stderr  # clip-tiny's files exist, vit-tiny's are new
    rerun = run_bench(*sweep, "--output-dir", str(tmp_path / "out"), "--skip-existing")
    assert rerun.returncode == 0, rerun.stderr
    assert "2 left as they were (--skip-existing)" in " ".join(rerun.stdout.split())
    tables = [[line for line in out.stdout.splitlines() if line[:1] in "┃│"] for out in (fresh, rerun)]
    assert tables[0] == tables[1] and len(tables[0]) == 8, (fresh.stdout, rerun.stdout)
    header = [cell.strip() for cell in tables[0][0].split("┃")]
    assert header[6:-1] == ["mAP@all", "P@10", "mAP@10", "mAP@10[retrieved]", "mAP@all[plain]"]
