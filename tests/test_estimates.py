"""benchmarks/estimate_real_runs.py: FLOPs counted on meta-built models, and the docs table it writes."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from bench_sd.architecture import TINY_VAE_CONFIG

from tests.helpers.cli import REPO

SCRIPT = REPO / "benchmarks" / "estimate_real_runs.py"


def _script_module():
    spec = importlib.util.spec_from_file_location("estimate_real_runs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_counted_flops_are_positive_and_grow_with_the_pixels():
    """sd-tiny through the script's own counting: the VAE encoder (convolutions, one attention at the
    bottleneck) grows about as the pixels (x4 for twice the side); the truncated UNet at least as the
    pixels and at most as the square of the token count (its attention)."""
    estimates = _script_module()
    small = estimates.sd_cost("sd-tiny", 128, TINY_VAE_CONFIG)
    large = estimates.sd_cost("sd-tiny", 256, TINY_VAE_CONFIG)
    assert small.once > 0 and small.per_draw > 0
    assert 4.0 <= large.once / small.once < 4.5
    assert 4.0 <= large.per_draw / small.per_draw < 16.0
    assert small.total(images=10, draws=2, timesteps=1) == 10 * (small.once + 2 * small.per_draw)


def test_write_docs_replaces_only_its_own_section(tmp_path):
    estimates = _script_module()
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nintro\n", encoding="utf-8")
    first = f"{estimates.HEADING}\n\ntable one\n"
    estimates.write_docs(first, doc)
    doc.write_text(doc.read_text(encoding="utf-8") + "\n## Later section\n\nkept\n", encoding="utf-8")
    estimates.write_docs(f"{estimates.HEADING}\n\ntable two\n", doc)
    assert doc.read_text(encoding="utf-8") == (
        f"# Performance\n\nintro\n\n{estimates.HEADING}\n\ntable two\n\n## Later section\n\nkept\n"
    )


@pytest.mark.slow
def test_the_docs_section_is_what_the_script_prints():
    """The real architectures on the meta device (about 10 s): docs/performance.md holds exactly the
    section the script prints for the committed assumptions."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")])}
    command = [sys.executable, str(SCRIPT)]
    printed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
    assert printed.startswith("## Estimated cost of real runs\n\n**Estimates, not measured on a GPU.**")
    assert "| sd15 @ 512 px | Sketchy-ext (SAKE) | 29,831 | 2 |" in printed
    doc = (REPO / "docs" / "performance.md").read_text(encoding="utf-8")
    assert doc[doc.index(_script_module().HEADING) :] == printed
