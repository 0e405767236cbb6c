"""``bench cache info|verify|clear``: inspect, check and empty the feature cache (no torch)."""

from __future__ import annotations

from pathlib import Path

import click

from bench.api.errors import BenchError
from bench.cli.console import stdout
from bench.cli.options import command_registry, plugin_option
from bench.config.cache_location import CACHE_ENV

CACHE_DIR_HELP = f"The cache directory (default: ${CACHE_ENV} or the user cache directory)."
REWRITTEN = "the next run of its configuration rewrites it; or run `bench cache clear`"


def _open(ctx: click.Context, cache_dir: str | None, plugin_files: tuple[str, ...]):
    """The feature cache at ``cache_dir`` (default location otherwise); plugin files are checked."""
    if plugin_files:  # the cache needs no component; a plugin file is still loaded and checked
        command_registry(ctx, plugin_files)
    from bench.config.cache_location import default_cache_dir
    from bench.extraction.cache import FeatureCache

    return FeatureCache(Path(cache_dir) if cache_dir else default_cache_dir())


def _echo_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    from bench.cli.display import listing_table

    stdout.print(listing_table(title, headers, rows))


@click.group("cache")
def cache_group() -> None:
    """Inspect, verify or clear the feature cache (descriptors are reused across runs)."""


@cache_group.command("info")
@click.option("--cache-dir", type=click.Path(file_okay=False), help=CACHE_DIR_HELP)
@plugin_option
@click.pass_context
def cache_info(ctx: click.Context, cache_dir: str | None, plugin_files) -> None:
    """Stores in the cache: configuration, entries, size on disk."""
    from bench.extraction.cache import EXTRACTOR_VERSION
    from bench.extraction.cached import describe_fields

    cache = _open(ctx, cache_dir, plugin_files)
    rows, total = [], 0
    for meta, store in cache.stores():
        store.load_index()
        size = store.size_bytes()
        total += size
        fields = describe_fields(meta)
        if meta.get("extractor_version") != EXTRACTOR_VERSION:
            fields = f"outdated (extractor version {meta.get('extractor_version')}, not read): {fields}"
        rows.append([store.directory.name, fields, str(len(store.index)), f"{size / 2**20:.1f} MiB"])
    for directory, problem in cache.damaged_stores():
        size = sum(path.stat().st_size for path in directory.glob("*.npy"))
        total += size
        rows.append([directory.name, f"{problem} ({REWRITTEN})", "?", f"{size / 2**20:.1f} MiB"])
    _echo_table(
        f"Feature cache {cache.root} ({total / 2**20:.1f} MiB)",
        ["Store", "Configuration", "Images", "Size"],
        rows,
    )


@cache_group.command("verify")
@click.option("--cache-dir", type=click.Path(file_okay=False), help=CACHE_DIR_HELP)
@plugin_option
@click.pass_context
def cache_verify(ctx: click.Context, cache_dir: str | None, plugin_files) -> None:
    """Re-check every shard (shapes, dtypes, content hash, finite values, agreement between shards);
    exit 1 on a problem."""
    cache = _open(ctx, cache_dir, plugin_files)
    problems = [(store.directory.name, p) for _, store in cache.stores() for p in store.verify()]
    shards = sum(1 for _, store in cache.stores() for _ in store.shards())
    damaged = cache.damaged_stores()
    if problems or damaged:
        rows = [[name, str(problem.path.name), problem.reason] for name, problem in problems]
        rows += [[directory.name, "", problem] for directory, problem in damaged]
        _echo_table("Cache problems", ["Store", "Shard", "Problem"], rows)
        found = [f"{len(problems)} of {shards} cache shard(s) are damaged"] if problems else []
        if damaged:
            found.append(f"{len(damaged)} store(s) have no usable metadata (their shards were not checked)")
        raise BenchError(
            "; ".join(found) + ".",
            "The next run that needs them moves damaged shards aside and recomputes their rows, and "
            "rewrites a store's metadata; or run `bench cache clear`.",
        )
    click.echo(f"{shards} shard(s) in {cache.root} verified: shapes, dtypes and content hashes are intact.")


@cache_group.command("clear")
@click.option("--cache-dir", type=click.Path(file_okay=False), help=CACHE_DIR_HELP)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@plugin_option
@click.pass_context
def cache_clear(ctx: click.Context, cache_dir: str | None, yes: bool, plugin_files) -> None:
    """Delete every cached descriptor."""
    cache = _open(ctx, cache_dir, plugin_files)
    if not yes:
        click.confirm(f"Delete the feature cache in {cache.root}?", abort=True)
    report = cache.clear()
    freed = f"{report.freed / 2**20:.1f} MiB freed"
    if report.failures:
        raise BenchError(
            f"Could not clear {cache.root}: {len(report.failures)} file(s) or folder(s) were not deleted, "
            f"e.g. {report.failures[0]} ({freed}).",
            "Check the cache's permissions (another user's cache?), or pass --cache-dir to your own.",
        )
    click.echo(f"Cleared {cache.root} ({freed}).")
    if report.left:
        shown = ", ".join(str(path) for path in report.left[:3])
        more = f" and {len(report.left) - 3} more" if len(report.left) > 3 else ""
        left = f"Left in place {len(report.left)} entries the cache did not write: {shown}{more}."
        click.echo(left, err=True)
