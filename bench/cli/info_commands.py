"""``bench list`` and ``bench plugins``: what is registered, and by which plugin (no torch)."""

from __future__ import annotations

import json

import click

from bench.cli.console import stdout
from bench.cli.listing import LIST_KINDS
from bench.cli.options import command_registry, plugin_option, plugin_set


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(LIST_KINDS))
@click.option("--backbone", "backbone_id", help="Only this backbone's layers (with `layers`).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@plugin_option
@click.pass_context
def list_command(
    ctx: click.Context, kind: str | None, backbone_id: str | None, as_json: bool, plugin_files
) -> None:
    """List registered backbones, layers, prompt schemes and datasets, with the plugin owning each."""
    from bench.cli.display import listing_table
    from bench.cli.listing import listing_tables

    registry = command_registry(ctx, plugin_files)
    tables = [t for k in ([kind] if kind else LIST_KINDS) for t in listing_tables(registry, k, backbone_id)]
    if as_json:
        payload = {
            title: [dict(zip(headers, row, strict=True)) for row in rows] for title, headers, rows in tables
        }
        click.echo(json.dumps(payload, indent=2))
        return
    for title, headers, rows in tables:
        stdout.print(listing_table(title, headers, rows))


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@plugin_option
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool, plugin_files) -> None:
    """List plugins: where each came from, whether it loaded, and the hooks it implements."""
    from bench.cli.display import listing_table

    command_registry(ctx, plugin_files)
    plugins = plugin_set(ctx)
    rows = [
        [
            r.name,
            r.source,
            "loaded" if r.error is None else ("blocked" if r.error == "blocked" else f"failed: {r.error}"),
            ", ".join(plugins.hooks_of(r.name)),
        ]
        for r in plugins.records
    ]
    headers = ["Plugin", "Source", "Status", "Hooks"]
    if as_json:
        click.echo(json.dumps([dict(zip(headers, row, strict=True)) for row in rows], indent=2))
        return
    stdout.print(listing_table("Plugins", headers, rows))
