"""The built-in metrics on the streamed ranking (bench.evaluation.ranking): a slow reference written
from the definitions, hand-worked rankings, chunking invariance, input types and input validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from bench.evaluation.ranking import same_class_scores
from tests.helpers.metric_references import assert_close, reference_category, reference_fine_grained
from tests.helpers.retrieval import category_metrics as evaluate_category
from tests.helpers.retrieval import fine_grained_metrics as evaluate_fine_grained
from tests.helpers.retrieval import metric_set

# --- random data ----------------------------------------------------------------------------------


def _random_features(rng: np.random.Generator, n: int, dim: int, ties: bool) -> np.ndarray:
    """(n, dim) float32: small integers (exact dot products, many ties) or Gaussian (tie-free)."""
    if ties:
        return rng.integers(-1, 2, size=(n, dim)).astype(np.float32)
    return rng.standard_normal((n, dim)).astype(np.float32)


CATEGORY_CASES = [
    # (seed, ties, queries, gallery, classes)
    (0, False, 20, 60, 4),
    (1, True, 20, 60, 4),
    (2, True, 15, 7, 3),  # gallery smaller than every K below
    (3, False, 15, 9, 5),  # some query classes absent from the gallery
    (4, True, 30, 120, 6),
]


@pytest.mark.parametrize(("seed", "ties", "num_queries", "num_gallery", "num_classes"), CATEGORY_CASES)
def test_category_matches_reference(seed, ties, num_queries, num_gallery, num_classes):
    rng = np.random.default_rng(seed)
    dim = 3 if ties else 8
    q, g = _random_features(rng, num_queries, dim, ties), _random_features(rng, num_gallery, dim, ties)
    ql, gl = rng.integers(0, num_classes, num_queries), rng.integers(0, num_classes, num_gallery)
    kwargs = {"map_k": (1, 5, 10, 200), "prec_k": (1, 3, 10, 100)}
    assert_close(evaluate_category(q, ql, g, gl, **kwargs), reference_category(q, ql, g, gl, **kwargs))


@pytest.mark.parametrize(
    ("seed", "ties", "grouped"), [(0, False, False), (1, True, False), (2, False, True), (3, True, True)]
)
def test_fine_grained_matches_reference(seed, ties, grouped):
    rng = np.random.default_rng(seed)
    dim = 3 if ties else 8
    q, g = _random_features(rng, 40, dim, ties), _random_features(rng, 50, dim, ties)
    g_groups = rng.integers(0, 4, 50)
    targets = rng.integers(0, 50, 40)
    groups = {"query_groups": g_groups[targets], "gallery_groups": g_groups} if grouped else {}
    expected = reference_fine_grained(
        q, targets, g, (1, 2, 5, 10), groups.get("query_groups"), groups.get("gallery_groups")
    )
    assert_close(evaluate_fine_grained(q, targets, g, ks=(1, 2, 5, 10), **groups), expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plain_ap_equals_sklearn_without_ties(seed):
    rng = np.random.default_rng(seed)
    q, g = rng.standard_normal((25, 6)), rng.standard_normal((80, 6))
    ql, gl = rng.integers(0, 5, 25), rng.integers(0, 5, 80)
    sims = q.astype(np.float32) @ g.astype(np.float32).T
    expected = np.mean(
        [
            average_precision_score(gl == label, s)
            for label, s in zip(ql, sims, strict=True)
            if (gl == label).any()
        ]
    )
    assert evaluate_category(q, ql, g, gl)["mAP@all[plain]"] == pytest.approx(expected, abs=1e-6)


# --- hand-worked rankings -------------------------------------------------------------------------


def _ranked_gallery(n: int) -> np.ndarray:
    """(n, 1) gallery whose similarity to the query [[1.0]] falls with the index: rank i = index i."""
    return np.arange(n, 0, -1, dtype=np.float32)[:, None]


QUERY = np.array([[1.0]], dtype=np.float32)


def test_rel_non_rel_non():
    # Ranking [rel, non, rel, non]: P@1..4 = 1, 1/2, 2/3, 1/2; R = 2.
    # plain AP = (P@1 + P@3) / 2 = (1 + 2/3) / 2 = 5/6.
    # interpolated: max_{j>=1} P@j = 1, max_{j>=3} P@j = 2/3 -> also 5/6.
    metrics = evaluate_category(QUERY, [0], _ranked_gallery(4), [0, 1, 0, 1], map_k=(4,), prec_k=(2,))
    assert metrics["mAP@all[plain]"] == pytest.approx(5 / 6)
    assert metrics["mAP@all"] == pytest.approx(5 / 6)
    assert metrics["mAP@4"] == pytest.approx(5 / 6)
    assert metrics["P@2"] == pytest.approx(1 / 2)


def test_interpolation_raises_earlier_precision():
    # Ranking [non, rel, rel]: P@1..3 = 0, 1/2, 2/3; R = 2.
    # plain AP = (1/2 + 2/3) / 2 = 7/12.
    # interpolated: at rank 2, max(1/2, 2/3) = 2/3; at rank 3, 2/3 -> (2/3 + 2/3) / 2 = 2/3.
    metrics = evaluate_category(QUERY, [0], _ranked_gallery(3), [1, 0, 0], map_k=(3,), prec_k=(3,))
    assert metrics["mAP@all[plain]"] == pytest.approx(7 / 12)
    assert metrics["mAP@all"] == pytest.approx(2 / 3)
    assert metrics["mAP@3[retrieved]"] == pytest.approx(7 / 12)


def test_map_at_k_window_and_normalisation():
    # Ranking [rel, non, non, rel, rel]: P@1..5 = 1, 1/2, 1/3, 1/2, 3/5; R = 3.
    # mAP@all: (1 + max(1/2, 3/5) + 3/5) / 3 = 2.2 / 3.
    # mAP@4: the window stops at rank 4, so rank 4 gets max(P@4) = 1/2, not 3/5: (1 + 1/2) / min(4, 3) = 1/2.
    # mAP@2: one hit (rank 1), normalised by min(2, 3) = 2 -> 1/2; [retrieved] divides by hits@2 = 1 -> 1.
    metrics = evaluate_category(QUERY, [0], _ranked_gallery(5), [0, 1, 1, 0, 0], map_k=(2, 4), prec_k=(2,))
    assert metrics["mAP@all"] == pytest.approx(2.2 / 3)
    assert metrics["mAP@4"] == pytest.approx(1 / 2)
    assert metrics["mAP@4[retrieved]"] == pytest.approx((1 + 1 / 2) / 2)
    assert metrics["mAP@2"] == pytest.approx(1 / 2)
    assert metrics["mAP@2[retrieved]"] == pytest.approx(1.0)


def test_r_smaller_than_k_and_gallery_smaller_than_k():
    # Gallery of 3 ranked [rel, non, rel]; K = 5 exceeds it: P@1..3 = 1, 1/2, 2/3; R = 2.
    # mAP@5 = (1 + 2/3) / min(5, 2) = 5/6; P@5 = 2 hits / 5.
    metrics = evaluate_category(QUERY, [0], _ranked_gallery(3), [0, 1, 0], map_k=(5,), prec_k=(5,))
    assert metrics["mAP@5"] == pytest.approx(5 / 6)
    assert metrics["mAP@5[retrieved]"] == pytest.approx(5 / 6)
    assert metrics["P@5"] == pytest.approx(2 / 5)


def test_no_hit_in_top_k_gives_zero_retrieved_ap():
    # Ranking [non, non, rel]: no hit in the top 2 -> mAP@2 = mAP@2[retrieved] = P@2 = 0.
    metrics = evaluate_category(QUERY, [0], _ranked_gallery(3), [1, 1, 0], map_k=(2,), prec_k=(2,))
    assert (metrics["mAP@2"], metrics["mAP@2[retrieved]"], metrics["P@2"]) == (0.0, 0.0, 0.0)


def test_ties_rank_lower_gallery_index_first():
    # Similarities to the query: [1, 2, 2]; indices 1 and 2 tie, so the ranking is [1, 2, 0].
    # Labels [non, non, rel] -> ranking [non, rel, non]: AP = 1/2 (it would be 1 if index 2 came first).
    gallery = np.array([[1.0], [2.0], [2.0]], dtype=np.float32)
    metrics = evaluate_category(QUERY, [0], gallery, [1, 1, 0], map_k=(1,), prec_k=(1,))
    assert metrics["mAP@all"] == pytest.approx(1 / 2)
    assert metrics["mAP@all[plain]"] == pytest.approx(1 / 2)
    assert metrics["P@1"] == 0.0
    # Labels [non, rel, non] -> ranking [rel, non, non]: AP = 1.
    assert evaluate_category(QUERY, [0], gallery, [1, 0, 1])["mAP@all"] == pytest.approx(1.0)


def test_fine_grained_tie_counts_against_the_query():
    # The paired photo (index 2) ties with index 1 at similarity 2: both count, rank = 2.
    gallery = np.array([[1.0], [2.0], [2.0]], dtype=np.float32)
    metrics = evaluate_fine_grained(QUERY, [2], gallery, ks=(1, 2))
    assert metrics == {"Acc@1": 0.0, "Acc@2": 100.0}


def test_fine_grained_groups_restrict_the_gallery():
    # Gallery similarities [3, 2, 1]; the target is index 2 (rank 3 overall).
    # In group "b" = {1, 2} its rank is 2; in a group holding only itself, rank 1.
    gallery = _ranked_gallery(3)
    assert evaluate_fine_grained(QUERY, [2], gallery, ks=(1, 2, 3)) == {
        "Acc@1": 0.0,
        "Acc@2": 0.0,
        "Acc@3": 100.0,
    }
    grouped = evaluate_fine_grained(
        QUERY, [2], gallery, ks=(1, 2), query_groups=["b"], gallery_groups=["a", "b", "b"]
    )
    assert grouped == {"Acc@1": 0.0, "Acc@2": 100.0}
    alone = evaluate_fine_grained(QUERY, [2], gallery, ks=(1,), query_groups=[7], gallery_groups=[5, 6, 7])
    assert alone == {"Acc@1": 100.0}


def test_query_without_relevant_items_is_excluded():
    # Query 0 (class 0) sees ranking [rel, non, non]: AP = 1. Query 1 (class 9) has R = 0 and is
    # dropped, so the mean stays 1 rather than 1/2.
    queries = np.array([[1.0], [1.0]], dtype=np.float32)
    metrics = evaluate_category(queries, [0, 9], _ranked_gallery(3), [0, 1, 1])
    assert metrics["mAP@all"] == pytest.approx(1.0)
    feats, metrics = np.ones((3, 1), dtype=np.float32), metric_set(["P@1"])
    left_out = same_class_scores(feats[:2], [0, 9], feats, [0, 1, 1], metrics).evaluated
    assert left_out.tolist() == [True, False]
    names = same_class_scores(feats, np.array(["cat", "dog", "owl"]), feats[:1], np.array(["cat"]), metrics)
    assert (~names.evaluated).sum() == 2


def test_default_keys():
    metrics = evaluate_category(QUERY, [0], _ranked_gallery(3), [0, 1, 0])
    assert list(metrics) == ["mAP@all", "mAP@all[plain]", "mAP@200", "mAP@200[retrieved]", "P@100", "P@200"]
    assert all(isinstance(value, float) for value in metrics.values())
    assert list(evaluate_fine_grained(QUERY, [0], _ranked_gallery(3))) == ["Acc@1", "Acc@5", "Acc@10"]


# --- chunking and input types ---------------------------------------------------------------------


def _tied_dataset(seed: int = 5):
    """Quantised features (exact ties) with string labels, some absent from the gallery."""
    rng = np.random.default_rng(seed)
    q, g = _random_features(rng, 17, 3, True), _random_features(rng, 40, 3, True)
    names = np.array(["cat", "dog", "owl", "yak"], dtype=object)
    return q, names[rng.integers(0, 4, 17)], g, names[rng.integers(0, 3, 40)]


def test_chunking_does_not_change_results():
    q, ql, g, gl = _tied_dataset()
    results = [evaluate_category(q, ql, g, gl, map_k=(5, 200), chunk_size=size) for size in (1, 3, None)]
    assert results[0] == results[1] == results[2]
    targets = np.arange(17) * 2
    groups = {"query_groups": gl[targets], "gallery_groups": gl}
    fine = [evaluate_fine_grained(q, targets, g, chunk_size=size, **groups) for size in (1, 3, None)]
    assert fine[0] == fine[1] == fine[2]


def test_numpy_and_torch_inputs_agree():
    q, ql, g, gl = _tied_dataset()
    ids = {name: index for index, name in enumerate(sorted(set(ql) | set(gl)))}
    q_ids, g_ids = np.array([ids[x] for x in ql]), np.array([ids[x] for x in gl])
    from_numpy = evaluate_category(q.astype(np.float64), q_ids, g, g_ids)
    from_torch = evaluate_category(
        torch.from_numpy(q), torch.from_numpy(q_ids), torch.from_numpy(g), torch.from_numpy(g_ids)
    )
    assert from_numpy == from_torch
    assert evaluate_category(q, ql, g, gl) == from_numpy  # object (string) labels
    assert evaluate_category(q, ql.astype(str), g, list(gl)) == from_numpy  # unicode array and list
    targets = np.arange(17)
    assert evaluate_fine_grained(q, targets, g) == evaluate_fine_grained(
        torch.from_numpy(q), torch.from_numpy(targets), torch.from_numpy(g)
    )


# --- validation -----------------------------------------------------------------------------------


FEATS = np.eye(3, dtype=np.float32)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: evaluate_category(FEATS, [0, 1, 2], np.ones((3, 4)), [0, 1, 2]), "dimensions differ"),
        (lambda: evaluate_category(FEATS, [0, 1], FEATS, [0, 1, 2]), "query_labels has 2 entries"),
        (lambda: evaluate_category(FEATS, [0, 1, 2], FEATS, [0, 1]), "gallery_labels has 2 entries"),
        (lambda: evaluate_category(FEATS, [0, 1, 2], np.zeros((0, 3)), []), "gallery_feats is empty"),
        (lambda: evaluate_category(np.zeros((0, 3)), [], FEATS, [0, 1, 2]), "query_feats is empty"),
        (lambda: evaluate_category(FEATS, [0, 1, 2], FEATS, [3, 4, 5]), "R = 0"),
        (lambda: evaluate_category(FEATS, [0, 1, 2], FEATS, [0, 1, 2], chunk_size=0), "chunk_size"),
        (lambda: evaluate_category(FEATS[0], [0], FEATS, [0, 1, 2]), "2-D"),
        (lambda: evaluate_category(FEATS * np.nan, [0, 1, 2], FEATS, [0, 1, 2]), "NaN"),
        (lambda: evaluate_fine_grained(FEATS, [0, 1, 3], FEATS), "out of range"),
        (lambda: evaluate_fine_grained(FEATS, [0, -2, 2], FEATS), "out of range"),
        (lambda: evaluate_fine_grained(FEATS, [-1, -1, -1], FEATS), "no query sketch has its paired photo"),
        (lambda: evaluate_fine_grained(FEATS, [0, 1], FEATS), "query_targets has 2 entries"),
        (lambda: evaluate_fine_grained(FEATS, [0.0, 1.0, 2.0], FEATS), "integer"),
        (lambda: evaluate_fine_grained(FEATS, [0, 1, 2], FEATS, query_groups=[0, 0, 0]), "both"),
        (
            lambda: evaluate_fine_grained(
                FEATS, [0, 1, 2], FEATS, query_groups=[0, 0, 1], gallery_groups=[0, 1, 1]
            ),
            "not in the query's own group",
        ),
    ],
)
def test_bad_inputs_raise_helpful_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
