"""Help strings that cannot go stale: lists of registered components are read from the registry when
the help is shown, and every other list in the help is checked here against what it names."""

from __future__ import annotations

import json
import re

import pytest

from bench.api.choices import CONFIG_FORMATS
from bench.config.files import load_config
from tests.helpers.cli import REPO, run_bench

PLUGIN = """
import bench


@bench.hookimpl
def register_prompt_schemes(register):
    register(bench.PromptScheme(id="doodle", description="a scheme", build="x:y", takes_argument=True))
    register(bench.PromptScheme(id="border", description="learns a border", build="x:y", learns=("visual",)))
"""


def option_help(command_help: str, option: str) -> str:
    """The help text of ``option`` in a command's ``--help`` (on one line)."""
    text = " ".join(command_help.split())
    match = re.search(rf" {re.escape(option)} [A-Z]+ (.*?)(?= --[a-z]|$)", text)
    assert match, (option, text)
    return match.group(1)


def listed(text: str, before: str, after: str) -> set[str]:
    """The comma-separated names in ``text`` between ``before`` and ``after``."""
    return set(text.split(before, 1)[1].split(after, 1)[0].split(", "))


@pytest.mark.slow
def test_prompt_choice_lists_in_help_are_the_registrys(tmp_path):
    """`bench run --help` listed only `none, text:` and `bench train --help` three schemes, whatever
    was registered; a plugin's schemes (SBIR_BENCH_PLUGINS: help is read before --plugin) are listed."""
    plugin = tmp_path / "schemes.py"
    plugin.write_text(PLUGIN)
    env = {"SBIR_BENCH_PLUGINS": str(plugin)}
    registered = json.loads(run_bench("list", "prompts", "--json", env=env).stdout)["prompt_schemes"]
    usages = {row["usage"] for row in registered}
    assert {"none", "text:<argument>", "doodle:<argument>", "border"} <= usages
    run_help = option_help(run_bench("run", "--help", env=env).stdout, "--prompt")
    assert listed(run_help, "Prompt scheme: ", " (repeat") == usages, run_help
    train_help = option_help(run_bench("train", "--help", env=env).stdout, "--prompt")
    learned = {row["usage"] for row in registered if row["learns"]}
    assert listed(train_help, "Scheme to learn: ", " (") == learned and "border" in learned, train_help


def test_other_lists_in_help_match_what_they_name():
    """`--config` said TOML only (YAML works); `bench --help` called the default backbone "a tiny
    Stable Diffusion" (it is sd-mini, trained by this project)."""
    config_help = option_help(run_bench("run", "--help").stdout, "--config")
    for suffix, file_format in CONFIG_FORMATS.items():
        assert suffix in config_help and file_format in config_help, config_help
    main_help = " ".join(run_bench("--help").stdout.split())
    for backbone in load_config("default").backbone:
        assert backbone in main_help, main_help
    assert "tiny Stable Diffusion" not in main_help and "trained by this project" in main_help
    assert (REPO / "configs" / "default.toml").is_file() and "configs/default.toml" in main_help
