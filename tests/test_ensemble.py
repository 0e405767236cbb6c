"""Feature ensembles: hand-computed combinations, score fusion against an explicit weighted similarity
matrix, `bench run --ensemble` over a cached sweep (nothing extracted), and clear refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from bench.api.components import DatasetInfo
from bench.evaluation.ensembles import MemberDescriptors, combine, skipped_by_any
from bench.results.naming import run_name
from bench.results.schema import RunResult, read_result
from tests.helpers.cli import run_bench
from tests.helpers.metric_references import assert_close, reference_category, reference_query_metrics
from tests.helpers.retrieval import category_metrics as evaluate_category
from tests.helpers.retrieval import fine_grained_metrics as evaluate_fine_grained
from tests.helpers.retrieval import specs

SMALL = ["--dataset-option", "num_unseen=3", "--dataset-option", "photos_per_class=4", "--image-size", "64"]
SWEEP = ["run", "--backbone", "sd-tiny", "--t", "50", "--t", "200", "--dataset", "synthetic"]
SYNTHETIC_CUTOFFS = ((10,), (10,))  # synthetic's mAP@K and P@K cut-offs


def unit(rows: np.ndarray) -> np.ndarray:
    """(N, D) rows divided by their length (float64, for references)."""
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def reference_from_similarities(sims: np.ndarray, ql, gl, map_k, prec_k) -> dict[str, float]:
    """Category metrics of a given (Q, G) similarity matrix, ranked query by query (ties by index)."""
    per_query = []
    for row, label in zip(sims, ql, strict=True):
        order = sorted(range(len(row)), key=lambda index: (-row[index], index))
        rel = [int(gl[index] == label) for index in order]
        if sum(rel):
            per_query.append(reference_query_metrics(rel, map_k, prec_k))
    return {key: float(np.mean([m[key] for m in per_query])) for key in per_query[0]}


def test_mean_concat_and_score_sum_equal_hand_computed_values():
    a = np.array([[3.0, 4.0], [0.0, 2.0]])  # normalised: [.6, .8], [0, 1]
    b = np.array([[5.0, 0.0], [0.0, 0.5]])  # normalised: [1, 0], [0, 1]
    c = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, -3.0]])  # normalised: [1, 0, 0], [0, 0, -1]
    np.testing.assert_allclose(combine("mean", [a, b]), [[0.8, 0.4], [0.0, 1.0]], atol=1e-7)
    np.testing.assert_allclose(combine("concat", [a, c]), [[0.6, 0.8, 1, 0, 0], [0, 1, 0, 0, -1]], atol=1e-7)
    half, rest = 0.5, np.sqrt(0.75)  # sqrt(w_i / sum w) for weights (1, 3)
    np.testing.assert_allclose(
        combine("score-sum", [a, c], (1, 3)),
        [[0.6 * half, 0.8 * half, rest, 0, 0], [0, half, 0, 0, -rest]],
        atol=1e-7,
    )
    np.testing.assert_allclose(
        combine("score-sum", [a, c]), combine("concat", [a, c]) / np.sqrt(2), atol=1e-7
    )
    assert combine("mean", [a, b]).dtype == np.float32


def test_score_sum_ranks_like_the_weighted_similarity_matrix():
    rng = np.random.default_rng(3)
    num_queries, num_gallery, weights = 15, 24, (0.3, 1.7, 0.0)
    members = [rng.standard_normal((num_queries + num_gallery, dim)) for dim in (5, 8, 3)]
    fused = combine("score-sum", members, weights)
    sims = sum(
        w * unit(m[:num_queries]) @ unit(m[num_queries:]).T for w, m in zip(weights, members, strict=True)
    )
    ql, gl = rng.integers(0, 3, num_queries), rng.integers(0, 3, num_gallery)
    got = evaluate_category(fused[:num_queries], ql, fused[num_queries:], gl, map_k=(5,), prec_k=(5, 10))
    assert_close(got, reference_from_similarities(sims, ql, gl, (5,), (5, 10)))
    targets = rng.integers(0, num_gallery, num_queries)
    accuracy = evaluate_fine_grained(fused[:num_queries], targets, fused[num_queries:], ks=(1, 5))
    ranks = [(row >= row[target]).sum() for row, target in zip(sims, targets, strict=True)]
    assert_close(accuracy, {f"Acc@{k}": 100.0 * np.mean([rank <= k for rank in ranks]) for k in (1, 5)})


def test_rows_skipped_by_any_member_are_left_out():
    def member(name: str, skipped: list[tuple[int, str]]) -> MemberDescriptors:
        result = RunResult("zs-sbir", {"backbone": name, "layer": "x", "prompt": "none"}, {}, {})
        return MemberDescriptors(result, np.zeros((6, 2), dtype=np.float32), skipped)

    rows = skipped_by_any([member("a", [(4, "broken")]), member("b", [(1, "gone"), (4, "broken")])])
    assert [row for row, _ in rows] == [1, 4] and "gone" in rows[0][1]


def cached_descriptors(cache_dir: Path) -> tuple[dict[int, np.ndarray], list, list, DatasetInfo]:
    """The sweep's descriptors read back from the cache through bench's own API, by timestep:
    ({t: (N, D) rows in query + gallery order}, query labels, gallery labels, the dataset's info)."""
    from bench.config.run_config import SweepSpec
    from bench.config.values import parse_option_values
    from bench.extraction.cache import FeatureCache
    from bench.extraction.digests import identify_items
    from bench.plan.runs import plan_sweep
    from bench.registry.manager import load_plugins

    spec = SweepSpec(
        backbone=("sd-tiny",),
        t=(50, 200),
        dataset=("synthetic",),
        image_size=64,
        dataset_options=parse_option_values(("num_unseen=3", "photos_per_class=4")),
    )
    run = plan_sweep(spec, load_plugins().build_registry())[0]
    dataset = run.open_dataset()
    queries, gallery = dataset.split("query"), dataset.split("gallery")
    identities, unreadable = identify_items(dataset, queries + gallery, workers=1)
    assert not unreadable
    digests = [identity.key for identity in identities]
    by_t = {}
    for meta, store in FeatureCache(cache_dir).stores():
        store.load_index()
        by_t[meta["t"]], found = store.lookup(digests)
        assert found.all()
    return by_t, [q.label for q in queries], [g.label for g in gallery], run.dataset


@pytest.mark.slow
def test_ensembles_of_a_cached_sweep_extract_nothing_and_equal_hand_computed_metrics(tmp_path):
    cache, out = ["--cache-dir", str(tmp_path / "cache")], ["--output-dir", str(tmp_path / "out")]
    first = run_bench(*SWEEP, *SMALL, "--noise-samples", "1", "--json", *cache, *out)
    assert first.returncode == 0, first.stderr
    members = [run["name"] for run in json.loads(first.stdout)]

    descriptors, ql, gl, info = cached_descriptors(tmp_path / "cache")
    split = len(ql)
    u, v = unit(descriptors[50]), unit(descriptors[200])
    by_hand = {"mean": unit((u + v) / 2), "concat": unit(np.hstack([u, v]))}
    for method, combined in by_hand.items():
        again = run_bench(
            *SWEEP, *SMALL, "--noise-samples", "1", "--json", "--ensemble", method, *cache, *out
        )
        assert again.returncode == 0, again.stderr
        assert "extracting" not in again.stderr and "loading backbone" not in again.stderr
        *runs, ensemble = json.loads(again.stdout)
        assert [run["name"] for run in runs] == members
        assert all(run["runtime"]["cache_misses"] == 0 for run in runs)
        assert ensemble["config"]["ensemble"] == {"method": method, "weights": None, "members": members}
        assert ensemble["config"]["backbone"] == f"ensemble({method}): sd-tiny"
        assert ensemble["config"]["t"] == "50, 200" and ensemble["config"]["layer"] == "up1"
        assert Path(ensemble["path"]).stem == ensemble["name"] == run_name(ensemble["config"])
        expected = reference_category(combined[:split], ql, combined[split:], gl, *SYNTHETIC_CUTOFFS)
        assert_close(dict(sorted(ensemble["metrics"].items())), dict(sorted(expected.items())))

    config = tmp_path / "weighted.toml"
    config.write_text(
        'backbone = "sd-tiny"\nt = [50, 200]\ndataset = ["synthetic"]\nnoise_samples = 1\nimage_size = 64\n'
        "dataset_options = { num_unseen = 3, photos_per_class = 4 }\n"
        'ensemble = "score-sum"\nensemble_weights = [1, 0.25]\n'
    )
    weighted = run_bench("run", "--config", str(config), *cache, *out)
    assert weighted.returncode == 0, weighted.stderr
    assert "ensemble(score-sum): sd-tiny" in weighted.stdout and "50, 200" in weighted.stdout
    (path,) = (tmp_path / "out" / "synthetic").glob("ensemble-score-sum-*.json")
    result = read_result(path, specs())
    assert result.config["ensemble"]["weights"] == [1.0, 0.25]
    sims = u[:split] @ u[split:].T + 0.25 * v[:split] @ v[split:].T
    expected = reference_from_similarities(sims, ql, gl, *SYNTHETIC_CUTOFFS)
    assert_close(dict(sorted(result.metrics.items())), dict(sorted(expected.items())))

    board = tmp_path / "board.md"
    rendered = run_bench("leaderboard", str(tmp_path / "out"), "--output", str(board))
    assert rendered.returncode == 0, rendered.stderr
    text = board.read_text()
    assert "| ensemble(mean): sd-tiny[^" in text and "| 50, 200 |" in text
    assert f"Ensemble (mean) of the runs `{members[0]}`, `{members[1]}`." in text
    assert "Ensemble (score-sum, weights `[1.0, 0.25]`)" in text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--layer", "up1", "--layer", "up3", "--t", "50", "--ensemble", "mean"],
            "sd-tiny layer up1 t=50 prompt none (dim 64); sd-tiny layer up3 t=50 prompt none (dim 32)",
        ),
        (["--t", "50", "--ensemble", "concat"], "dataset 'synthetic' has only one"),
        (
            ["--t", "50", "--t", "200", "--ensemble", "score-sum", "--ensemble-weights", "1,2,3"],
            "gives 3 weight(s), and the ensemble on dataset 'synthetic' has 2 members",
        ),
        (["--t", "50", "--t", "200", "--ensemble", "score-sum", "--ensemble-weights", "0,0"], "not all 0"),
        (["--t", "50", "--t", "200", "--ensemble", "mean", "--ensemble-weights", "1,1"], "score-sum only"),
        (["--t", "50", "--t", "200", "--ensemble", "median"], "'median' is not one of 'mean', 'concat'"),
    ],
)
def test_bad_ensembles_are_refused_before_any_extraction(tmp_path, arguments, message):
    base = ["run", "--backbone", "sd-tiny", "--dataset", "synthetic", *SMALL]
    result = run_bench(*base, *arguments, "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr
    assert not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_an_ensemble_of_a_diffusion_backbone_and_an_image_encoder_has_a_safe_file_name(tmp_path):
    """Its members' noise draws and seeds join as ``2, none``: the file name was ``..._n2, none_s0,
    none_fp32-....json``; it is safe characters only now, and a file under such an old name still
    reads and ranks."""
    out = tmp_path / "out"
    small = ["--dataset-option", "num_unseen=3", "--dataset-option", "photos_per_class=4"]
    result = run_bench(
        "run", "--backbone", "sd-mini", "--backbone", "vit-tiny", "--t", "200", "--noise-samples", "2",
        "--dataset", "synthetic", *small, "--ensemble", "concat", "--json",
        "--output-dir", str(out), "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    *_, ensemble = json.loads(result.stdout)
    assert ensemble["config"]["noise_samples"] == "2, none"
    names = sorted(path.name for path in out.rglob("*.json"))
    assert len(names) == 3 and all(re.fullmatch(r"[A-Za-z0-9._+-]+", name) for name in names), names
    assert "_n2-none_s0-none_fp32-" in Path(ensemble["path"]).name
    old = Path(ensemble["path"]).with_name(
        Path(ensemble["path"]).name.replace("n2-none_s0-none", "n2, none_s0, none")
    )
    Path(ensemble["path"]).rename(old)
    board = run_bench("leaderboard", str(out))
    assert board.returncode == 0, board.stderr
    assert f"measured: [{old.stem}]" in board.stdout
