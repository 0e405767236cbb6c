"""How a run was produced, for its results file's ``provenance`` (never part of its identity).

When it ran, the command line, the project's version and git commit (and whether the checkout had
uncommitted changes), the plugin (and its version) of each component, the weights actually loaded
(the snapshot or content hash a name resolved to), the device, and the library versions.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.api.hookspecs import PROJECT_NAME
from bench.api.version import __version__
from bench.plan.runs import PlannedRun

RECORDED_PACKAGES = ("sbir-bench", "torch", "diffusers", "transformers", "open_clip_torch", "timm", "numpy")
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the checkout (or site-packages) holding bench/


@functools.cache
def library_versions() -> dict[str, str]:
    """Versions of Python and of the installed packages that affect numbers."""
    versions = {"python": platform.python_version()}
    for package in RECORDED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(SOURCE_ROOT), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.cache
def project_version() -> dict[str, Any]:
    """``{"version", "git_commit", "git_dirty"}``: the commit of the checkout the code runs from
    (None outside a git checkout) and whether tracked files differ from it."""
    commit = _git("rev-parse", "HEAD") if (SOURCE_ROOT / ".git").exists() else None
    dirty = None
    if commit is not None:
        status = _git("status", "--porcelain", "--untracked-files=no")
        dirty = None if status is None else bool(status)
    return {"version": __version__, "git_commit": commit, "git_dirty": dirty}


@functools.cache
def plugin_version(plugin: str) -> str | None:
    """The version of the distribution that installed ``plugin`` (an entry-point name), or the
    content hash of a one-file plugin (``--plugin FILE``); None when neither is known."""
    for entry_point in metadata.entry_points(group=PROJECT_NAME):
        if entry_point.name == plugin and entry_point.dist is not None:
            return entry_point.dist.version
    path = Path(plugin)
    if path.is_file():
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return None


def device_name(device: Any) -> str:
    """``cuda:0 (NVIDIA H200)``, ``cpu (x86_64, 2 threads)``: the device and what it is."""
    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        import torch

        return f"{device} ({torch.cuda.get_device_name(device)})"
    if kind == "cpu":
        import torch

        return f"cpu ({platform.machine() or 'unknown'}, {torch.get_num_threads()} threads)"
    return str(device)


def command_line() -> list[str]:
    """The process's command line as typed (``bench run ...``; ``python -m bench`` reads as
    ``bench``; a script or test runner using the Python API shows as itself)."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    name = "bench" if program.parts[-2:] == ("bench", "__main__.py") else program.name
    return [name, *sys.argv[1:]]


def run_provenance(
    runs: Sequence[PlannedRun], device: Any, command: list[str] | None = None
) -> dict[str, Any]:
    """The ``provenance`` of a result computed from ``runs`` (one run, or an ensemble's members);
    ``command``: the command line as typed (default: the process's, :func:`command_line`)."""
    components = {}
    weights = {}
    for run in runs:
        for kind, component, plugin in (
            ("backbone", run.backbone.id, run.backbone_plugin),
            ("dataset", run.dataset.id, run.dataset_plugin),
        ):
            components[(kind, component)] = {
                "kind": kind,
                "id": component,
                "plugin": plugin,
                "version": plugin_version(plugin),
            }
        weights[run.backbone.id] = {
            "backbone": run.backbone.id,
            "weights": run.weights,
            "identity": run.weights_identity or None,
        }
    return {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": list(command) if command else command_line(),
        "sbir_bench": dict(project_version()),
        "components": list(components.values()),
        "weights": list(weights.values()),
        "device": device_name(device),
        "libraries": dict(library_versions()),  # a copy: the cached dict stays as it is
    }
