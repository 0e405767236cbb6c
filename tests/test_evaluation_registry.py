"""Tasks, metrics and leaderboard formats as registered components: the built-ins, what
`bench list` shows of them, and one clear error naming the plugin for each registration mistake."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bench.registry.manager import load_plugins
from tests.helpers.cli import run_bench


def plugin_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "my_metrics.py"
    path.write_text("from bench import DatasetInfo, MetricInfo, TaskInfo, hookimpl\n" + textwrap.dedent(body))
    return path


def test_built_in_tasks_and_metrics_are_registered_by_a_plugin():
    registry = load_plugins().build_registry()
    assert [entry.component.id for entry in registry.tasks.in_order()] == [
        "zs-sbir",
        "fg-sbir",
        "scene-sbir",
        "shape-bias",
    ]
    assert {registry.tasks.owner(task) for task in registry.tasks.ids()} == {"tasks"}
    specs = registry.evaluation_specs()
    resolved = specs.metric("mAP@200[retrieved]")
    assert (resolved.info.id, resolved.k, resolved.plugin) == ("mAP@K[retrieved]", 200, "tasks")
    assert specs.metric("mAP@all").k is None and specs.metric("mAP@all").info.id == "mAP@all"
    assert not specs.metric("MedR").higher_is_better and specs.metric("MedR").info.aggregate == "median"
    assert specs.find_metric("mAP@0") is None and specs.find_metric("P@x") is None
    assert sorted(specs.format_ids()) == ["csv", "html", "json", "latex", "md"]
    built_in = [format_id for format_id in specs.format_ids() if format_id != "html"]
    assert built_in == ["md", "csv", "latex", "json"]
    assert {specs.format_owner(format_id) for format_id in specs.format_ids()} == {"tasks", "plots"}
    synthetic = registry.datasets.get("synthetic")
    assert synthetic.metrics == ("mAP@all", "mAP@all[plain]", "mAP@10", "mAP@10[retrieved]", "P@10")


def test_bench_list_shows_tasks_metrics_and_formats():
    listed = json.loads(run_bench("list", "metrics", "--json").stdout)["metrics"]
    rows = {row["name"]: row for row in listed}
    assert rows["MeanR"]["direction"] == "lower" and rows["MeanR"]["chance"] == "exact"
    assert rows["mAP@K[retrieved]"]["plugin"] == "tasks"
    tasks = json.loads(run_bench("list", "tasks", "--json").stdout)["tasks"]
    scene = next(row for row in tasks if row["id"] == "scene-sbir")
    assert scene["columns"] == ["R@1", "R@10"] and scene["relevance"] == "paired"
    table = run_bench("list", "metrics").stdout
    assert "mAP@all[plain]" in table  # not eaten as rich markup
    formats = json.loads(run_bench("list", "formats", "--json").stdout)["leaderboard_formats"]
    assert sorted(row["id"] for row in formats) == ["csv", "html", "json", "latex", "md"]


MISTAKES = {
    "no direction": (
        """
        @hookimpl
        def register_metrics(register):
            register(MetricInfo(id="Hits@K", per_query="x:y", unit="fraction"))
        """,
        "registered metric 'Hits@K' without a direction",
    ),
    "bad unit": (
        """
        @hookimpl
        def register_metrics(register):
            register(MetricInfo(id="Hits@K", per_query="x:y", unit="percent", higher_is_better=True))
        """,
        "valid units are fraction, percentage, rank",
    ),
    "median with a closed form": (
        """
        @hookimpl
        def register_metrics(register):
            register(MetricInfo(id="MidR", per_query="x:y", unit="rank", higher_is_better=False,
                                aggregate="median", chance="x:z"))
        """,
        "closed-form chance level and a median aggregate",
    ),
    "overlapping names": (
        """
        @hookimpl
        def register_metrics(register):
            register(MetricInfo(id="P@5", per_query="x:y", unit="fraction", higher_is_better=True))
        """,
        "overlaps metric 'P@K' of plugin 'tasks'",
    ),
    "task naming an unknown metric": (
        """
        @hookimpl
        def register_tasks(register):
            register(TaskInfo(id="my-task", title="Mine", relevance="paired",
                              metrics=("R@1", "Recal@5"), columns=("R@1",)))
        """,
        "registered task 'my-task' naming metric 'Recal@5', which no plugin registers. Did you mean 'R@5'?",
    ),
    "task with an unknown relevance": (
        """
        @hookimpl
        def register_tasks(register):
            register(TaskInfo(id="my-task", title="Mine", relevance="same-scene",
                              metrics=("R@1",), columns=("R@1",)))
        """,
        "Valid relevance rules: same-class, paired, two-labels.",
    ),
    "dataset naming an unknown task": (
        """
        @hookimpl
        def register_datasets(register):
            register(DatasetInfo(id="my-data", target="x:y", task="scene-sbr", description="d"))
        """,
        "registered dataset 'my-data' with task 'scene-sbr', which no plugin registers. "
        "Did you mean 'scene-sbir'?",
    ),
    "dataset column outside its metrics": (
        """
        @hookimpl
        def register_datasets(register):
            register(DatasetInfo(id="my-data", target="x:y", task="fg-sbir", description="d",
                                 columns=("Acc@20",)))
        """,
        "paper column 'Acc@20' among its columns but not among its metrics",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_registration_mistake_is_one_error_naming_the_plugin(tmp_path, mistake):
    body, message = MISTAKES[mistake]
    result = run_bench("list", "tasks", "--plugin", str(plugin_file(tmp_path, body)))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "'file:my_metrics'" in result.stderr and message in " ".join(result.stderr.split()), result.stderr
    if "dataset naming" in mistake:
        assert "Registered tasks: zs-sbir, fg-sbir, scene-sbir, shape-bias" in result.stderr
