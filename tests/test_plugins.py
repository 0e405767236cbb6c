"""The plugin system through the command line: entry points, one-file plugins, errors, laziness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.registry.manager import load_plugins
from tests.helpers.cli import REPO, WITH_INSTALLED_PLUGINS, run_bench
from tests.helpers.plugin_files import make_distribution

BUILT_INS = {"sd", "datasets", "prompts"}


@pytest.fixture
def third_party_site(tmp_path: Path) -> dict[str, str]:
    """A site dir with one working plugin (adds a command and a backbone) and one that fails to import."""
    site = tmp_path / "site"
    make_distribution(
        site,
        "bench-thirdparty",
        {
            "friendly_plugin": """
                import click
                from bench import BackboneInfo, TapInfo, hookimpl

                @hookimpl
                def register_backbones(register):
                    register(BackboneInfo(id="friendly-net", target="friendly_plugin:build", description="x",
                                          layers=(TapInfo("embed", 8, 0),), default_layer="embed",
                                          weights="none", image_size=32))

                @hookimpl
                def register_commands(cli):
                    @cli.command()
                    def hello():
                        click.echo("hello from a plugin")
            """,
            "broken_plugin": "raise ImportError('this plugin needs a package that is not installed')\n",
        },
    )
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])  # the checkout's plugins too
    return {"PYTHONPATH": path, **WITH_INSTALLED_PLUGINS}


def test_built_in_plugins_load_through_entry_points():
    plugins = load_plugins()
    assert BUILT_INS <= {record.name for record in plugins.records if record.error is None}
    registry = plugins.build_registry()
    assert registry.backbones.owner("sd-tiny") == "sd"
    assert registry.datasets.owner("synthetic") == "datasets"
    assert {"none", "text"} <= set(registry.prompt_schemes.ids())


def test_broken_plugin_warns_and_the_rest_work(third_party_site):
    result = run_bench("list", "backbones", "--json", env=third_party_site)
    assert result.returncode == 0, result.stderr
    assert "broken_plugin" in result.stderr and "failed to load" in result.stderr
    ids = {row["id"]: row["plugin"] for row in json.loads(result.stdout)["backbones"]}
    assert ids["friendly-net"] == "friendly_plugin"
    assert ids["sd-tiny"] == "sd"


def test_plugin_adds_a_command(third_party_site):
    result = run_bench("hello", env=third_party_site)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello from a plugin"


def test_a_plugin_on_the_old_name_layerinfo_still_registers_its_backbone(tmp_path):
    """``bench.LayerInfo`` was renamed ``bench.TapInfo``; plugins written against the old name work,
    and a plugin author sees a DeprecationWarning naming the new one."""
    with pytest.warns(DeprecationWarning, match=r"bench\.LayerInfo is deprecated: import bench\.TapInfo"):
        from bench import LayerInfo
    import bench

    assert LayerInfo is bench.TapInfo
    plugin = tmp_path / "old_names.py"
    plugin.write_text(
        "from bench import BackboneInfo, LayerInfo, hookimpl\n\n"
        "@hookimpl\n"
        "def register_backbones(register):\n"
        "    register(BackboneInfo(id='old-net', target='old_names:build', description='x',\n"
        "                          layers=(LayerInfo('embed', 8, 0),), default_layer='embed',\n"
        "                          weights='none', image_size=32))\n"
    )
    with pytest.warns(DeprecationWarning, match="LayerInfo"):
        result = run_bench("list", "layers", "--backbone", "old-net", "--json", "--plugin", str(plugin))
    assert result.returncode == 0, result.stderr
    assert "embed" in result.stdout


def test_a_plugin_command_prints_unwrapped_lines_when_piped(tmp_path):
    """``bench.command_console()`` is as wide as bench's own console when the output is piped."""
    plugin = tmp_path / "wide.py"
    plugin.write_text(
        "import bench\n\n"
        "@bench.hookimpl\n"
        "def register_commands(cli):\n"
        "    @cli.command()\n"
        "    def wide():\n"
        "        bench.command_console().print('x' * 150)\n"
    )
    result = run_bench("wide", env={"SBIR_BENCH_PLUGINS": str(plugin), "COLUMNS": ""}, subprocess=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "x" * 150 + "\n"


def test_plugins_command_shows_sources_status_and_hooks(third_party_site):
    result = run_bench("plugins", "--json", env=third_party_site)
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["sd"]["status"] == "loaded" and rows["sd"]["error"] is None
    assert "register_backbones" in rows["sd"]["hooks"]
    assert rows["broken_plugin"]["status"] == "failed" and rows["broken_plugin"]["hooks"] == []
    assert rows["broken_plugin"]["error"].startswith("ImportError")
    assert rows["friendly_plugin"]["hooks"] == ["register_backbones", "register_commands"]
    table = run_bench("plugins", env=third_party_site).stdout
    assert "failed: ImportError" in table and "register_backbones, register_commands" in table


def _with_site(site: Path, **env: str) -> dict[str, str]:
    """An environment whose Python path starts with ``site`` (then this checkout's path, if set)."""
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, **env}


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    """A site dir with an installed plugin distribution that fails to import."""
    site = tmp_path / "broken-site"
    make_distribution(site, "bench-broken", {"broken_plugin": "raise ImportError('needs a missing package')"})
    return site


def test_builtin_plugins_only_leaves_installed_plugins_out(broken_site):
    isolated = run_bench("plugins", "--json", env=_with_site(broken_site))  # the suite's setting
    assert isolated.returncode == 0 and "Warning" not in isolated.stderr, isolated.stderr
    names = {row["name"] for row in json.loads(isolated.stdout)}
    assert BUILT_INS <= names and "broken_plugin" not in names
    installed = run_bench("plugins", "--json", env=_with_site(broken_site, **WITH_INSTALLED_PLUGINS))
    assert "broken_plugin" in {row["name"] for row in json.loads(installed.stdout)}
    assert "plugin 'broken_plugin'" in installed.stderr


@pytest.mark.slow
def test_the_suite_is_unaffected_by_a_broken_installed_plugin(broken_site):
    """A one-message assertion of the suite (exactly one "Error:" on stderr) still holds when a plugin
    that fails to import ("ImportError: ...") is installed on the machine."""
    one_message_test = (
        "tests/test_plugin_contracts.py::test_a_dataset_with_an_empty_gallery_is_named_before_the_model_loads"
    )
    env = {key: value for key, value in os.environ.items() if key != "SBIR_BENCH_BUILTIN_PLUGINS_ONLY"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", one_message_test],
        cwd=REPO,
        env={**env, **_with_site(broken_site)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_blocking_a_plugin():
    result = run_bench("list", "backbones", "--json", env={"SBIR_BENCH_BLOCK_PLUGINS": "sd"})
    assert result.returncode == 0
    assert "sd-tiny" not in result.stdout
    plugins = json.loads(run_bench("plugins", "--json", env={"SBIR_BENCH_BLOCK_PLUGINS": "sd"}).stdout)
    assert {row["name"]: row["status"] for row in plugins}["sd"] == "blocked"


def test_duplicate_id_names_both_plugins(tmp_path):
    plugin = tmp_path / "copycat.py"
    plugin.write_text(
        textwrap.dedent(
            """
            from bench import DatasetInfo, hookimpl

            @hookimpl
            def register_datasets(register):
                register(DatasetInfo(id="synthetic", target="x:y", task="zs-sbir", description="d",
                                     columns=()))
            """
        )
    )
    result = run_bench("list", "--plugin", str(plugin))
    assert result.returncode == 1
    assert "'synthetic' is registered twice" in result.stderr
    assert "'datasets'" in result.stderr and "'file:copycat'" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugin_file_that_does_not_import(tmp_path):
    plugin = tmp_path / "typo.py"
    plugin.write_text("from bench import hookimpll\n")
    result = run_bench("run", "--plugin", str(plugin))
    assert result.returncode == 1
    assert "typo.py" in result.stderr and "failed to import" in result.stderr and "hookimpll" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_bench("run", "--plugin", str(tmp_path / "nowhere.py"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = run_bench("--debug", "run", "--backbone", "nope")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "BenchError" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["run", "--backbone", "sd-tinny"],
            ["Unknown backbone 'sd-tinny'", "Did you mean 'sd-tiny'?", "sd15"],
        ),
        (["run", "--dataset", "synthetik"], ["Unknown dataset 'synthetik'", "Did you mean 'synthetic'?"]),
        (
            ["run", "--prompt", "nothing"],
            ["Unknown prompt scheme 'nothing'", "Valid prompt schemes: learned, none, text, textual, visual"],
        ),
        (
            ["run", "--backbone", "sd-tiny", "--layer", "up9"],
            ["Unknown layer 'up9' for backbone 'sd-tiny'", "up0, up1, up2, up3", "coarse, fine"],
        ),
        (
            ["run", "--backbone", "vit-tiny", "--layer", "coarse"],
            ["'coarse' does not apply to backbone 'vit-tiny'"],
        ),
        (["run", "--prompt", "text"], ["needs an argument"]),
        (["list", "layers", "--backbone", "sd-15"], ["Unknown backbone 'sd-15'", "Did you mean 'sd15'"]),
        (["run", "--dataset-option", "colour=red"], ["No dataset of this run takes the option(s) colour"]),
    ],
)
def test_unknown_names_give_one_clear_message(args, expected):
    result = run_bench(*args)
    assert result.returncode == 1, result.stdout
    for text in expected:
        assert text in result.stderr
    assert "Traceback" not in result.stderr


def test_timestep_outside_the_backbones_own_schedule_is_refused():
    result = run_bench("run", "--backbone", "sd-tiny", "--dataset", "synthetic", "--t", "1200")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--t 1200 is outside the schedule of backbone 'sd-tiny' (0..999)" in result.stderr
    assert "Use a timestep in 0..999" in result.stderr


@pytest.mark.slow
def test_help_and_list_import_no_model_library():
    code = textwrap.dedent(
        """
        import sys
        from bench.cli.main import main
        for argv in (["bench", "--help"], ["bench", "list"],
                     ["bench", "list", "layers", "--backbone", "sd-tiny"],
                     ["bench", "list", "backbones", "--json"], ["bench", "plugins", "--json"]):
            sys.argv = argv
            try:
                main()
            except SystemExit as exit:
                assert not exit.code, exit.code
        libraries = ("torch", "diffusers", "transformers", "open_clip", "timm", "numpy", "pydantic")
        heavy = [m for m in libraries if m in sys.modules]
        print("HEAVY", heavy)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in result.stdout
    assert "up1" in result.stdout and "Stride" in result.stdout
