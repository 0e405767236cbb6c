"""Every command that README.md, CONTRIBUTING.md and docs/*.md show in a shell code block is accounted for.

Each `bench ...` line (also behind `torchrun`/`accelerate launch ... -m bench`) is parsed by the real
click command line, so a stale option, subcommand or value fails here; the ones that run offline in
seconds are run for real, and every `bench run` line is checked with `--dry-run` (ids, layers,
timesteps, prompts, data roots, weights): where it names the reader's own data or weights, the dry
run must fail naming exactly that placeholder. Other programs' lines are listed in ``OTHER_COMMANDS``
with where they run; a new documented command that is none of these fails the test.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

import click
import pytest

from tests.helpers.cli import REPO, run_bench

DOCUMENTS = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_FENCES = {"", "bash", "sh", "shell", "console"}
FENCE = re.compile(r"^\s*```(\S*)")
LAUNCHERS = ("torchrun", "accelerate")  # `torchrun ... -m bench ARGS`: ARGS are bench's
ELIDED = "..."  # a documented command's "and further options"
# Shell expansions in documented commands, with a value they take in a Slurm array job.
SHELL_VALUES = {"$((SLURM_ARRAY_TASK_ID + 1))": "1", "$SLURM_ARRAY_TASK_COUNT": "4"}

# Documented commands of other programs, and where each is run (so nothing goes unaccounted for).
OTHER_COMMANDS = {
    'pip install -e ".[dev,offline-weights]"': ".ci/run (install in a fresh virtual environment)",
    "HF_HUB_OFFLINE=1 python -m pytest": ".ci/run (the test suite)",
    'python -m pytest -m "not slow"': "the quick check: a subset of .ci/run's test suite",
    "ruff check .": ".ci/run (lint)",
    "HF_HUB_OFFLINE=1 nohup nice -n 10 python -m bench_sdmini train --output /work/sd-mini-run "
    "--figures docs/sd-mini > /tmp/sdmini-train.log 2>&1 &": "tests/test_sdmini_training.py (the --quick "
    "pipeline and resumption; the full training takes half an hour)",
    "HF_HUB_OFFLINE=1 nohup nice -n 10 python -m bench_sdmini train --output /work/sd-mini-run "
    "--figures docs/sd-mini --resume >> /tmp/sdmini-train.log 2>&1 &": "tests/test_sdmini_training.py "
    "(exact resumption)",
    "HF_HUB_OFFLINE=1 nohup nice -n 10 python -m bench_sdmini train --output /work/sd-mini-repro --seed 1 "
    "--threads 1 --figures /work/sd-mini-repro/figures > /work/sd-mini-repro/train.log 2>&1 &": (
        "tests/test_sdmini_training.py (the same command line with --quick)"
    ),
    "HF_HUB_OFFLINE=1 nohup nice -n 19 python -m bench_sdmini train --output /work/sd-mini-remeasure/run "
    "--corpus-root /work/sd-mini-remeasure/corpus --threads 2 --figures /work/sd-mini-remeasure/figures "
    "> /work/sd-mini-remeasure/train.log 2>&1 &": (
        "tests/test_sdmini_training.py (the same pipeline with --quick)"
    ),
    "cp -r /work/sd-mini-run/sd-mini /work/sd-mini-run/SHA256SUMS plugins/bench_sd/weights/": (
        "a maintainer's copy of a finished training run; nothing to test"
    ),
    "(cd plugins/bench_sd/weights && sha256sum -c SHA256SUMS)": (
        "tests/test_sdmini_training.py (the shipped weights against SHA256SUMS)"
    ),
    "export SBIR_BENCH_CACHE=/shared/sbir-cache HF_HUB_OFFLINE=1": "shell set-up of a Slurm job script",
}

# `bench` commands run for real (offline, seconds, writing nothing), in the repository's folder.
RUN = {
    "list",
    "list --plugin examples/hog_plugin.py",
    "leaderboard --format",
    "leaderboard leaderboard/results --format csv",
    "leaderboard leaderboard/results --reported-sections all --output leaderboard/README.md --check",
}
# A documented block run for real, in order, in a fresh folder (the worked task plugin, ~10 s).
RUN_IN_ORDER = (
    "run --plugin examples/depth_task_plugin.py --backbone sd-tiny --dataset tiny-shapes --t 50 --t 200",
    "leaderboard results --plugin examples/depth_task_plugin.py --format csv",
    "plot sweep results --plugin examples/depth_task_plugin.py",
)


@dataclass(frozen=True)
class Documented:
    """One command line of a shell code block: backslash continuations joined, comment kept off."""

    where: str  # "docs/x.md:LINE"
    text: str

    def words(self) -> list[str]:
        text = self.text
        for expansion, value in SHELL_VALUES.items():
            text = text.replace(expansion, value)
        return shlex.split(text, comments=True)

    def bench_args(self) -> list[str] | None:
        """The arguments after `bench` (or a launcher's `-m bench`); None for another program."""
        words = self.words()
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words = words[1:]  # VAR=value before the command
        if words[:1] == ["bench"]:
            return words[1:]
        if words[:1] and words[0] in LAUNCHERS and "-m" in words:
            module = words.index("-m") + 1
            if words[module : module + 1] == ["bench"]:
                return words[module + 1 :]
        return None


def documented_commands() -> list[Documented]:
    """Every command line in the shell (or untagged) code blocks of DOCUMENTS."""
    found = []
    for document in DOCUMENTS:
        fence, pending = None, ""
        lines = document.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if match := FENCE.match(line):
                fence = match.group(1) if fence is None else None
                continue
            if fence not in SHELL_FENCES:
                continue
            text = f"{pending} {line.strip()}".strip()
            if text.endswith("\\"):
                pending = text[:-1].strip()
                continue
            pending = ""
            text = text.removeprefix("$ ")
            if not text or text.startswith("#"):
                continue
            where = f"{document.relative_to(REPO).as_posix()}:{number}"
            parts = [text] if text.startswith("(") else re.split(r"\s+&&\s+", text)
            found.extend(Documented(where, part) for part in parts)
    return found


COMMANDS = documented_commands()
BENCH = [command for command in COMMANDS if command.bench_args() is not None]
BENCH_RUN = [command for command in BENCH if command.bench_args()[:1] == ["run"]]


def without_elision(args: list[str]) -> list[str]:
    return [arg for arg in args if arg != ELIDED]


def parse(args: list[str]) -> click.Context:
    """``bench ARGS`` parsed by the real command line down to its (sub)command, which is not run."""
    from bench.cli.main import build_cli
    from bench.registry.manager import load_plugins

    command: click.Command = build_cli(load_plugins())
    name, parent = "bench", None
    while isinstance(command, click.Group):
        split = next(index for index, arg in enumerate(args) if not arg.startswith("-"))
        # the group's own options, and the subcommand's name (which parsing a group only sets aside)
        parent = command.make_context(name, args[: split + 1], parent=parent)
        name, args = args[split], args[split + 1 :]
        sub = command.get_command(parent, name)
        assert sub is not None, f"bench has no command {name!r} here"
        command = sub
    return command.make_context(name, args, parent=parent)


def placeholders(args: list[str]) -> list[str]:
    """The values that name the reader's own data or weights, or a file an earlier command writes
    (absent here): DIR, absolute paths, missing .safetensors files."""
    return [
        value
        for arg in args
        for value in re.split(r"[=+:]", arg)
        if value == "DIR"
        or value.startswith("/")
        or (value.endswith(".safetensors") and not (REPO / value).exists())
    ]


def test_the_commands_are_found() -> None:
    """The extraction sees the blocks it must (so the checks below mean something)."""
    texts = {command.text for command in COMMANDS}
    assert "bench list" in texts and "HF_HUB_OFFLINE=1 python -m pytest" in texts
    assert any(command.text.startswith("torchrun") for command in BENCH)
    assert len(BENCH) >= 40, len(BENCH)


def test_every_documented_command_is_bench_or_listed() -> None:
    """A documented command of another program must say where it runs; a listed one must still be shown."""
    others = {command.text for command in COMMANDS if command.bench_args() is None}
    unaccounted = sorted(others - OTHER_COMMANDS.keys())
    assert not unaccounted, f"documented commands neither parsed nor listed in OTHER_COMMANDS: {unaccounted}"
    assert not OTHER_COMMANDS.keys() - others, f"no longer documented: {OTHER_COMMANDS.keys() - others}"
    shown = {shlex.join(command.bench_args()) for command in BENCH}
    listed = RUN | set(RUN_IN_ORDER)
    assert listed <= shown, f"RUN or RUN_IN_ORDER list commands no longer documented: {listed - shown}"


@pytest.mark.parametrize("command", BENCH, ids=lambda command: command.where)
def test_every_documented_bench_command_parses(command: Documented) -> None:
    """Every option, subcommand and value of a documented `bench` line is one the command line takes."""
    try:
        parse(without_elision(command.bench_args()))
    except click.exceptions.Exit as done:  # an eager option such as `--format` alone
        assert done.exit_code == 0, command.text
    except click.UsageError as error:
        pytest.fail(f"{command.where}: `{command.text}` does not parse: {error.format_message()}")


@pytest.mark.parametrize("command", sorted(RUN))
def test_the_offline_documented_commands_run(command: str, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    result = run_bench(*shlex.split(command))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip(), f"`bench {command}` printed nothing"


@pytest.mark.parametrize("command", BENCH_RUN, ids=lambda command: command.where)
def test_every_documented_bench_run_passes_its_dry_run(command: Documented, monkeypatch) -> None:
    """The dry run checks a documented run without loading anything; a run on the reader's own data or
    weights fails it only there: one message naming that placeholder, no traceback."""
    monkeypatch.chdir(REPO)
    args = without_elision(command.bench_args())
    result = run_bench(*args, "--dry-run")
    missing = placeholders(args)
    if not missing:
        assert result.returncode == 0, f"{command.where}: {result.stdout}{result.stderr}"
        assert "nothing was run" in result.stdout
    else:
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stdout + result.stderr
        named = [value for value in missing if value in result.stderr]
        assert named, f"{command.where}: fails on something else than {missing}: {result.stderr}"


@pytest.mark.slow
def test_the_task_plugin_block_runs_in_order(tmp_path, monkeypatch) -> None:
    """docs/plugins.md's run, leaderboard and sweep figure of the worked task plugin, as typed there."""
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    outputs = []
    for command in RUN_IN_ORDER:
        result = run_bench(*shlex.split(command))
        assert result.returncode == 0, f"bench {command}: {result.stdout}{result.stderr}"
        outputs.append(result.stdout)
    assert "class-depth" in outputs[1] and "WorstR" in outputs[1]
