"""The numbers are exactly what they claim: damaged caches, weights identity, batch invariance,
headers, fused taps, image decoding, permissions, full disks and concurrent runs."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import bench
from bench.api.files import atomic_file
from bench.extraction.cache import DescriptorStore, FeatureCache, remove_stale_files
from bench.extraction.features import backbone_features
from bench.weights import weights_identity
from tests.helpers.cli import BENCH, REPO, run_bench

OPTIONS = ("num_classes=6", "num_unseen=3", "photos_per_class=3", "train_photos_per_class=1")
SMALL = [part for option in OPTIONS for part in ("--dataset-option", option)]
EXAMPLE = REPO / "examples" / "hog_plugin.py"


def digests(count: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [bytes(rng.integers(0, 256, 16, dtype=np.uint8)) for _ in range(count)]


def store_with_one_shard(tmp_path: Path) -> tuple[DescriptorStore, np.ndarray, Path]:
    store = DescriptorStore(tmp_path, 4, "fp32")
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    store.put(digests(3), values)
    (keys_path,) = store.shards()
    return store, values, keys_path


def reread(tmp_path: Path) -> DescriptorStore:
    store = DescriptorStore(tmp_path, 4, "fp32")
    store.load_index()
    return store


# -- 1. a damaged shard is never trusted ------------------------------------------------------------


def test_a_shard_whose_rows_were_permuted_is_moved_aside(tmp_path):
    _, values, keys_path = store_with_one_shard(tmp_path)
    values_path = keys_path.with_name(keys_path.name.replace(".keys", ".values"))
    np.save(values_path, values[::-1].copy())  # same shape and dtype, other rows
    store = reread(tmp_path)
    assert store.index == {} and [p.reason for p in store.problems] == ["content does not match its hash"]
    assert not keys_path.exists() and list(tmp_path.glob(".bad-*"))


def test_a_second_shard_with_other_values_for_the_same_keys_loses(tmp_path):
    store, values, first = store_with_one_shard(tmp_path)
    store.put(digests(3), values + 1.0)  # same images, other descriptors
    names = sorted(p.name for p in store.shards())
    again = reread(tmp_path)
    assert [p.name for p in again.shards()] == names[:1]  # the first in name order is kept
    assert "gives other descriptors than shard" in again.problems[0].reason
    found, hit = again.lookup(digests(3))
    kept = values if names[0] == first.name else values + 1.0
    assert hit.all() and np.array_equal(found, kept)


def test_a_non_finite_row_is_moved_aside_not_evaluated(tmp_path):
    store = DescriptorStore(tmp_path, 4, "fp32")
    store.put(digests(2), np.array([[1, 2, 3, 4], [np.nan, 0, 0, 0]], dtype=np.float32))
    store = reread(tmp_path)
    assert store.index == {} and store.problems[0].reason == "non-finite descriptors"


def test_a_zero_byte_shard_is_quarantined_and_verify_names_it(tmp_path):
    _, _, keys_path = store_with_one_shard(tmp_path / "v1" / "store")
    (tmp_path / "v1" / "store" / "meta.json").write_text(json.dumps({"dim": 4, "storage": "fp32"}))
    keys_path.write_bytes(b"")
    verify = run_bench("cache", "verify", "--cache-dir", str(tmp_path))
    assert verify.returncode == 1 and "Aborted" not in verify.stderr + verify.stdout
    assert keys_path.name in verify.stdout and "1 of 1 cache shard(s) are damaged" in verify.stderr
    store = reread(tmp_path / "v1" / "store")
    assert store.problems[0].reason.startswith("unreadable") and store.problems[0].moved


@pytest.mark.slow
def test_a_rerun_repairs_a_tampered_cache_and_gives_the_first_numbers(tmp_path):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    run = ["run", "--backbone", "vit-tiny", "--dataset", "synthetic", *SMALL, *cache, "--json"]
    first = json.loads(run_bench(*run).stdout)[0]["metrics"]
    for values_path in (tmp_path / "cache").rglob("*.values.npy"):
        np.save(values_path, np.load(values_path)[::-1].copy())
    second = run_bench(*run)
    assert "content does not match its hash; moved aside, its rows are recomputed" in second.stderr
    assert json.loads(second.stdout)[0]["metrics"] == first


# -- 2. weights are identified by what they are ------------------------------------------------------


def test_a_hub_id_is_identified_by_its_cached_snapshot(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--org--model"
    (repo / "refs").mkdir(parents=True)
    assert weights_identity("org/model") == "org/model@not in the local cache"
    (repo / "refs" / "main").write_text("aaa111")
    old = weights_identity("org/model")
    (repo / "refs" / "main").write_text("bbb222")
    assert old == "org/model@aaa111" and weights_identity("org/model") == "org/model@bbb222"


def test_a_local_folder_is_identified_by_its_content(tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"a" * 100)
    memo = tmp_path / "memo.json"
    before = weights_identity(str(folder), memo)
    stat = (folder / "model.safetensors").stat()
    (folder / "model.safetensors").write_bytes(b"b" * 100)  # same size, same times restored
    os.utime(folder / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = weights_identity(str(folder), memo)
    assert before != after and before.split("#")[0] == str(folder.resolve())
    assert weights_identity(str(folder), memo) == after and weights_identity("random") == "random"


@pytest.mark.slow
def test_other_weights_under_one_path_are_extracted_anew_and_recorded(tmp_path):
    import timm
    from safetensors.torch import save_file

    folder = tmp_path / "dino"
    folder.mkdir()
    run = ["run", "--backbone", "dino-vits16", "--weights", f"dino-vits16={folder}", "--image-size", "32",
           "--dataset", "synthetic", *SMALL, "--json", "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    identities = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = timm.create_model("vit_small_patch16_224.dino", pretrained=False, num_classes=0)
        save_file(model.state_dict(), str(folder / "model.safetensors"))
        result = json.loads(run_bench(*run).stdout)[0]
        assert result["runtime"]["cache_hits"] == 0  # a new snapshot under the same path
        identities.append(result["config"]["weights_identity"])
    assert identities[0] != identities[1] and identities[0].startswith(f"{folder.resolve()}#")


# -- 3. descriptors do not depend on batch size or thread count -------------------------------------


@pytest.mark.slow
def test_descriptors_do_not_depend_on_batch_size_or_threads(registry):
    dataset = bench.open_dataset("synthetic", options={"num_classes": 6, "num_unseen": 3}, registry=registry)
    items = dataset.split("query")[:8] + dataset.split("gallery")[:8]
    backbone = bench.load_backbone("sd-tiny", device="cpu", registry=registry)
    threads = torch.get_num_threads()
    outs = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            for batch_size in (1, 5, 16):
                outs.append(
                    bench.descriptors(
                        backbone,
                        items,
                        dataset=dataset,
                        layer="up1",
                        t=200,
                        noise_samples=2,
                        batch_size=batch_size,
                        registry=registry,
                    )  # fmt: skip
                )
    finally:
        torch.set_num_threads(threads)
    worst = max(float(np.abs(out - outs[-1]).max()) for out in outs)
    assert worst < 1e-6, worst  # measured 2.2e-7; 5.3e-5 before pixels were made contiguous


# -- 5. a learned-prompt file never chooses the weights ---------------------------------------------


@pytest.mark.slow
def test_a_prompt_header_cannot_point_the_run_at_other_weights(tmp_path):
    from bench.prompts.files import save_prompt

    prompt = save_prompt(
        tmp_path / "shared.safetensors",
        {"visual.sketch": torch.zeros(3, 56, 56), "visual.photo": torch.zeros(3, 56, 56)},
        {"backbone": "vit-tiny", "image_size": 56, "parts": ["visual"], "weights": "evil/weights",
         "layer": "embed", "dataset": "synthetic"},
    )  # fmt: skip
    where = ["--cache-dir", str(tmp_path / "cache"), "--output-dir", str(tmp_path / "out")]
    result = run_bench("run", "--prompt", f"learned:{prompt}", *SMALL, "--json", *where)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["config"]["weights"] == "random"
    assert "pass --weights vit-tiny=evil/weights to use those" in result.stderr
    assert "from the learned prompt's header: backbone vit-tiny\n" in result.stderr
    typed = run_bench("run", "--prompt", f"learned:{prompt}", "--layer", "block-1", *SMALL, "--json", *where)
    assert json.loads(typed.stdout)[0]["config"]["layer"] == "block-1"  # what the user typed wins


# -- 6. fused taps are pooled tap by tap ----------------------------------------------------------------


@pytest.mark.parametrize("pool", ["gap", "gmp", "gem"])
def test_a_fused_layer_concatenates_its_pooled_taps(registry, pool):
    backbone = bench.load_backbone("sd-tiny", device="cpu", image_size=96, registry=registry)
    dataset = bench.open_dataset("synthetic", options={"num_classes": 4, "num_unseen": 2}, registry=registry)
    items = dataset.split("gallery")[:3]
    fused = bench.descriptors(
        backbone, items, dataset=dataset, layer="up0+up1", pool=pool, t=100, registry=registry
    )
    from bench.extraction.digests import item_digest, noise_seed
    from bench.extraction.pooling import pool as pool_map

    images = [dataset.load_image(item) for item in items]
    seeds = [noise_seed(0, item_digest(dataset, item)) for item in items]
    with torch.inference_mode():
        maps = backbone_features(backbone, backbone.preprocess(images), modality="photo", taps=["up0", "up1"],
                                 timesteps=[100], noise_samples=1, noise_seeds=seeds,
                                 prompt=bench.PromptCondition())[100]  # fmt: skip
    expected = torch.cat([pool_map(maps["up0"], pool), pool_map(maps["up1"], pool)], dim=-1)
    expected = torch.nn.functional.normalize(expected, dim=-1).mean(dim=1).numpy()
    np.testing.assert_allclose(fused, expected, atol=1e-6)


# -- 7, 10. high bit-depth and oversized images -------------------------------------------------------


def test_a_16_bit_png_decodes_to_its_grey_levels(tmp_path):
    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    assert Image.open(tmp_path / "ramp.png").mode.startswith("I")
    decoded = np.asarray(bench.load_rgb(tmp_path / "ramp.png"))[..., 0].astype(int)
    assert np.abs(decoded - np.rint(ramp / 257.0)).max() <= 1
    assert (decoded == 255).mean() < 0.01  # not clipped to white


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def folder_dataset(root: Path) -> None:
    for modality, colour in (("sketch", "white"), ("photo", "red")):
        for label in ("a", "b"):
            (root / modality / label).mkdir(parents=True)
            for index in range(2):
                Image.new("RGB", (32, 32), colour).save(root / modality / label / f"{index}.png")


def test_an_oversized_png_is_skipped_and_counted_or_refused(tmp_path):
    data = tmp_path / "data"
    folder_dataset(data)
    (data / "photo" / "a" / "bomb.png").write_bytes(_png_claiming(20000, 20000))
    with pytest.raises(bench.BenchError, match="more pixels than can be decoded safely"):
        bench.load_rgb(data / "photo" / "a" / "bomb.png")
    where = ["--cache-dir", str(tmp_path / "cache"), "--output-dir", str(tmp_path / "out")]
    run = ["run", "--plugin", str(EXAMPLE), "--backbone", "hog", "--dataset", "folders",
           "--data-root", str(data), *where]  # fmt: skip
    skipped = run_bench(*run, "--json")
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)[0]["dataset"]["skipped_images"] == 1
    strict = run_bench(*run, "--strict")
    assert strict.returncode == 1 and "more pixels than can be decoded safely" in strict.stderr
    assert "Traceback" not in strict.stderr
    check = run_bench("datasets", "check", "folders", "--plugin", str(EXAMPLE), "--data-root", str(data))
    assert "Traceback" not in check.stderr and "bomb.png" in check.stdout + check.stderr


# -- 8. permissions -----------------------------------------------------------------------------------


def test_written_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "a.txt") as temporary:
            temporary.write_text("x")
        store = DescriptorStore(tmp_path, 4, "fp32")
        store.put(digests(1), np.ones((1, 4), dtype=np.float32))
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir() if p.is_file()}
    assert set(modes.values()) == {0o644}, modes


def test_a_shard_this_user_cannot_read_is_reported_not_moved(tmp_path, monkeypatch):
    _, _, keys_path = store_with_one_shard(tmp_path)
    real_load = np.load

    def load(path, *args, **kwargs):
        if Path(path) == keys_path:
            raise PermissionError(13, "Permission denied")
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(np, "load", load)
    store = reread(tmp_path)
    assert keys_path.exists() and not store.problems[0].moved
    assert "not readable by this user" in store.problems[0].reason
    store.put(digests(4)[3:], np.ones((1, 4), dtype=np.float32))
    store.refresh()  # a new shard: read again, the unreadable one still listed once
    assert len(store.problems) == 1 and store.lookup(digests(4)[3:])[1].all()


# -- 11, 12. full disks, read-only caches, stale temporary files --------------------------------------


def test_a_full_disk_is_one_message_naming_the_cache(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(bench.BenchError, match="Cannot write to the feature cache in .*No space left"):
        DescriptorStore(tmp_path / "v1" / "store", 4, "fp32").put(digests(1), np.ones((1, 4), np.float32))
    assert not list((tmp_path / "v1" / "store").glob(".*"))  # no temporary file left behind


def test_stale_temporary_files_are_cleaned_up(tmp_path):
    old, fresh, orphan = (
        tmp_path / ".x.values.npy.1.tmp",
        tmp_path / ".y.keys.npy.2.tmp",
        tmp_path / "z.values.npy",
    )
    for path in (old, fresh, orphan):
        path.write_bytes(b"partial")
    past = time.time() - 3600
    for path in (old, orphan):
        os.utime(path, (past, past))
    remove_stale_files(tmp_path)
    assert not old.exists() and not orphan.exists() and fresh.exists()


def test_clearing_a_cache_that_cannot_be_deleted_says_so(tmp_path, monkeypatch):
    store_with_one_shard(tmp_path / "v1" / "store")

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "unlink", refuse)
    report = FeatureCache(tmp_path).clear()
    assert report.freed == 0 and report.failures and "Permission denied" in report.failures[0]
    result = run_bench("cache", "clear", "--yes", "--cache-dir", str(tmp_path))
    assert result.returncode == 1 and "Could not clear" in result.stderr and "Cleared" not in result.stdout


# -- 13. concurrent runs -------------------------------------------------------------------------------


def test_moving_a_shard_another_process_moved_first_is_no_crash(tmp_path):
    store, _, keys_path = store_with_one_shard(tmp_path)
    for path in tmp_path.glob("*.npy"):
        path.unlink()
    store._quarantine(keys_path, "content does not match its hash")
    assert store.problems[-1].moved


def test_a_store_opened_before_another_process_wrote_sees_its_rows_on_refresh(tmp_path):
    """The race CI once lost: the second run opened its stores, the first finished (so the second
    never waited for the lock) and the second extracted everything again from a stale index."""
    early = reread(tmp_path)
    _, values, _ = store_with_one_shard(tmp_path)
    assert early.lookup(digests(3))[1].tolist() == [False] * 3
    early.refresh()
    found_values, found = early.lookup(digests(3))
    assert found.all() and np.array_equal(found_values, values)


@pytest.mark.slow
def test_identical_concurrent_runs_extract_once(tmp_path):
    command = [*BENCH, "run", "--backbone", "vit-tiny", "--dataset", "synthetic", *SMALL, "--json",
               "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(tmp_path / "out")]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SBIR_BENCH_FLUSH_ROWS": "8"}
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]  # fmt: skip
    outputs = [run.communicate(timeout=600) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    # cache_misses is each run's own count; extracted_by_main_process is not: a fully cached run that
    # writes its results after the other keeps that file's extraction timings (timings_from says so)
    runtimes = [json.loads(out)[0]["runtime"] for out, _ in outputs]
    images = runtimes[0]["images"]
    assert sorted(runtime["cache_misses"] for runtime in runtimes) == [0, images]
    waited = next(runtime for runtime in runtimes if runtime["cache_misses"] == 0)
    assert waited["extracted_by_main_process"] == 0 or waited["timings_from"].startswith("the run that")
    assert json.loads(outputs[0][0])[0]["metrics"] == json.loads(outputs[1][0])[0]["metrics"]


# -- 4. the model that runs is the model asked for -----------------------------------------------------


def diffusers_folder(root: Path, unet: dict) -> Path:
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        (root / part).mkdir(parents=True)
    (root / "unet" / "config.json").write_text(json.dumps(unet))
    return root


@pytest.mark.parametrize(
    ("unet", "phrases"),
    [
        ("sd15", ["the architecture of sd15, not sd21's", "Use --backbone sd15 with these weights."]),
        ("other", ["an architecture no SD backbone here has", "block_out_channels [32, 64, 64, 64]"]),
    ],
)
def test_an_sd_folder_of_another_architecture_is_refused_before_loading(tmp_path, unet, phrases):
    from bench_sd.architecture import VARIANTS

    config = dict(VARIANTS["sd15"].unet)
    if unet == "other":
        config["block_out_channels"] = [32, 64, 64, 64]
    folder = diffusers_folder(tmp_path / "weights", config)
    result = run_bench("run", "--backbone", "sd21", "--weights", f"sd21={folder}", "--dataset", "synthetic",
                       "--t", "200", "--cache-dir", str(tmp_path / "cache"))  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "loading backbone" not in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


# -- issue 13's interrupted runs: what was extracted is kept ---------------------------------------

SLOW_ENCODER = """
import os, pathlib, time
import bench
from bench import BackboneInfo, TapInfo


class Slow(bench.ImageEncoderBase):
    def features(self, pixels, taps):
        marks = pathlib.Path(os.environ["MARKS"])
        marks.mkdir(exist_ok=True)
        (marks / str(len(list(marks.iterdir())))).touch()
        time.sleep(0.3)
        return {"v": pixels.mean(dim=(2, 3))}


@bench.hookimpl
def register_backbones(register):
    register(BackboneInfo(id="slow", target=Slow, description="", weights="none", image_size=16,
                          layers=(TapInfo("v", 3, 0),), default_layer="v"))
"""


@pytest.mark.slow
@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_an_interrupted_run_keeps_the_rows_it_extracted(tmp_path, signal_name):
    import signal

    plugin = tmp_path / "slow.py"
    plugin.write_text(SLOW_ENCODER)
    cache = tmp_path / "cache"
    command = [*BENCH, "run", "--plugin", str(plugin), "--backbone", "slow", "--dataset", "synthetic",
               "--batch-size", "4", "--workers", "0", "--cache-dir", str(cache)]  # fmt: skip
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "SBIR_BENCH_FLUSH_ROWS": "100000",
        "MARKS": str(tmp_path / "m"),
    }
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list((tmp_path / "m").glob("*"))) < 4 and time.monotonic() < deadline:
        assert process.poll() is None, "the run finished before it could be interrupted"
        time.sleep(0.05)
    process.send_signal(getattr(signal, signal_name))
    process.wait(timeout=60)
    rows = sum(len(np.load(path)) for path in cache.glob("v1/*/*.keys.npy"))
    assert rows >= 12, rows  # at least the three batches finished before the signal


@pytest.mark.slow
def test_clearing_the_cache_during_a_run_does_not_break_it(tmp_path):
    plugin = tmp_path / "slow.py"
    plugin.write_text(SLOW_ENCODER)
    cache = tmp_path / "cache"
    command = [*BENCH, "run", "--plugin", str(plugin), "--backbone", "slow", "--dataset", "synthetic",
               "--batch-size", "8", "--workers", "0", "--cache-dir", str(cache), "--json",
               "--output-dir", str(tmp_path / "out")]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SBIR_BENCH_FLUSH_ROWS": "8", "MARKS": str(tmp_path / "m")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list((tmp_path / "m").glob("*"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run_bench("cache", "clear", "--yes", "--cache-dir", str(cache)).returncode == 0
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0 and "Traceback" not in stderr, stderr
    assert json.loads(stdout)[0]["dataset"]["skipped_images"] == 0
