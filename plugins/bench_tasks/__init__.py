"""Built-in plugin: the retrieval tasks, their metrics and the leaderboard formats.

Registered exactly as a third-party plugin registers its own (docs/plugins.md):

* tasks: ``zs-sbir`` (zero-shot category-level: every photo of the query's class is relevant),
  ``fg-sbir`` (fine-grained: the paired photo, in a per-class gallery where the dataset splits it),
  ``scene-sbir`` (scene-level, FS-COCO: the paired photo in the whole gallery) and ``shape-bias``
  (cue-conflict images decided by their nearest clean reference, :mod:`bench_tasks.cue_conflict`);
* metrics: ``mAP@all``, ``mAP@all[plain]``, ``mAP@K``, ``mAP@K[retrieved]``, ``P@K`` (fractions),
  ``Acc@K`` and ``R@K`` (percentages), ``MeanR`` and ``MedR`` (ranks, lower is better),
  ``ShapeBias`` (a fraction), ``ShapeAcc`` and ``TextureAcc`` (percentages);
* leaderboard formats: ``md``, ``csv``, ``latex`` and ``json``.

Registration imports nothing heavy: the per-query functions are ``"module:attribute"`` targets
imported when a run scores.
"""

from __future__ import annotations

from bench import LeaderboardFormat, MetricInfo, TaskInfo, hookimpl

MODULE = "bench_tasks.retrieval_metrics"
CUE_CONFLICT = "bench_tasks.cue_conflict"


def _metric(
    pattern: str, function: str, unit: str, higher: bool, description: str, module: str = MODULE, **extra
) -> MetricInfo:
    chance = extra.pop("chance", None)
    return MetricInfo(
        id=pattern,
        per_query=f"{module}:{function}",
        unit=unit,
        higher_is_better=higher,
        description=description,
        chance=f"{module}:{chance}" if chance else None,
        **extra,
    )


METRICS = (
    _metric(
        "mAP@all",
        "interpolated_ap",
        "fraction",
        True,
        "interpolated average precision over the whole ranking",
    ),
    _metric(
        "mAP@all[plain]",
        "plain_ap",
        "fraction",
        True,
        "average precision, not interpolated",
        chance="plain_ap_chance",
    ),
    _metric("mAP@K", "interpolated_ap_at", "fraction", True, "interpolated AP of the top K", top_k_only=True),
    _metric(
        "mAP@K[retrieved]",
        "retrieved_ap_at",
        "fraction",
        True,
        "AP of the top K normalised by the relevant items retrieved there",
        top_k_only=True,
    ),
    _metric(
        "P@K",
        "precision_at",
        "fraction",
        True,
        "precision of the top K",
        chance="precision_chance",
        top_k_only=True,
    ),
    _metric(
        "Acc@K",
        "accuracy_at",
        "percentage",
        True,
        "share of queries whose paired photo ranks within K",
        digits=2,
        chance="hit_chance",
        top_k_only=True,
    ),
    _metric(
        "R@K",
        "recall_at",
        "percentage",
        True,
        "recall: share of a query's relevant items within the top K",
        digits=2,
        chance="hit_chance",
        top_k_only=True,
    ),
    _metric(
        "MeanR",
        "first_relevant_rank",
        "rank",
        False,
        "mean rank of the first relevant item",
        digits=1,
        chance="mean_rank_chance",
    ),
    _metric(
        "MedR",
        "first_relevant_rank",
        "rank",
        False,
        "median rank of the first relevant item",
        digits=1,
        aggregate="median",
    ),
    _metric(
        "ShapeBias",
        "shape_bias",
        "fraction",
        True,
        "shape decisions / (shape + texture decisions) of cue-conflict images (Geirhos et al.)",
        CUE_CONFLICT,
        partial=True,
    ),
    _metric(
        "ShapeAcc",
        "shape_accuracy",
        "percentage",
        True,
        "share of cue-conflict images whose nearest reference has their shape class",
        CUE_CONFLICT,
        digits=2,
        chance="shape_chance",
    ),
    _metric(
        "TextureAcc",
        "texture_accuracy",
        "percentage",
        True,
        "share of cue-conflict images whose nearest reference has their texture class",
        CUE_CONFLICT,
        digits=2,
    ),
)

TASKS = (
    TaskInfo(
        id="zs-sbir",
        title="Zero-shot category-level SBIR",
        relevance="same-class",
        metrics=("mAP@all", "mAP@all[plain]", "mAP@200", "mAP@200[retrieved]", "P@100", "P@200"),
        columns=("mAP@all", "P@100"),
        main_metric="mAP@all",
        description="unseen-class sketches retrieve the photos of their class",
        values_note="zero-shot category-level (zs-sbir) metrics are fractions (0 to 1)",
    ),
    TaskInfo(
        id="fg-sbir",
        title="Fine-grained SBIR",
        relevance="paired",
        metrics=("Acc@1", "Acc@5", "Acc@10"),
        columns=("Acc@1", "Acc@5"),
        main_metric="Acc@1",
        description="a sketch retrieves the photo it was drawn from (within its class's photos where "
        "the dataset splits the gallery by class)",
        values_note="fine-grained (fg-sbir) Acc@K values are percentages (x100)",
    ),
    TaskInfo(
        id="scene-sbir",
        title="Scene-level SBIR",
        relevance="paired",
        metrics=("R@1", "R@5", "R@10", "MeanR", "MedR"),
        columns=("R@1", "R@10"),
        main_metric="R@1",
        description="a scene sketch retrieves its one photo from the whole gallery (FS-COCO)",
        values_note="scene-level (scene-sbir) R@K values are percentages (x100), MeanR and MedR ranks "
        "(lower is better)",
    ),
    TaskInfo(
        id="shape-bias",
        title="Shape bias (cue conflict)",
        relevance="two-labels",
        metrics=("ShapeBias", "ShapeAcc", "TextureAcc"),
        columns=("ShapeBias",),
        main_metric="ShapeBias",
        description="cue-conflict images (one class's shape, another's texture) decided by their nearest "
        "clean reference: shape decisions / (shape + texture decisions)",
        values_note="shape-bias ShapeBias values are fractions (0 to 1; higher: more shape-biased), "
        "ShapeAcc and TextureAcc percentages (x100)",
    ),
)

FORMATS = (
    LeaderboardFormat("md", "bench:leaderboard_markdown", "the leaderboard page (markdown)", ".md"),
    LeaderboardFormat(
        "csv", "bench:leaderboard_csv", "one row per entry and metric; numbers round-trip", ".csv"
    ),
    LeaderboardFormat(
        "latex", "bench:leaderboard_latex", "booktabs tables of the best configuration per backbone", ".tex"
    ),
    LeaderboardFormat("json", "bench:leaderboard_json", "everything, for programs", ".json"),
)


@hookimpl
def register_metrics(register) -> None:
    for metric in METRICS:
        register(metric)


@hookimpl
def register_tasks(register) -> None:
    for task in TASKS:
        register(task)


@hookimpl
def register_leaderboard_formats(register) -> None:
    for leaderboard_format in FORMATS:
        register(leaderboard_format)
