"""``bench list`` and ``bench plugins``: what is registered, and by which plugin (no torch).

Both print tables for people, or with ``--json`` the same rows as typed values under snake_case
keys (see :mod:`bench.cli.listing`).
"""

from __future__ import annotations

import json

import click

from bench.cli.console import stdout
from bench.cli.listing import LAYERS_HINT, LIST_KINDS, ListingSection
from bench.cli.options import command_registry, plugin_option, plugin_set

OVERVIEW_WIDTH = 100  # `bench list`, the short overview: one line per row, at most this wide


def print_sections(sections: list[ListingSection], *, short: bool = False) -> None:
    """Each section with rows as a table; ``short`` (the overview): its short columns, one line per
    row, descriptions cut to fit :data:`OVERVIEW_WIDTH` columns (or the terminal, when narrower)."""
    from rich.markup import escape

    from bench.cli.display import listing_table

    width = min(stdout.width, OVERVIEW_WIDTH) if short else None
    for section in sections:
        if section.rows:  # e.g. no layer selector applies to the backbone: no empty table
            title, headers, rows = section.table(short=short)
            plain = [[escape(cell) for cell in row] for row in rows]  # names with [brackets] are no markup
            stdout.print(listing_table(title, headers, plain, width=width))


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(LIST_KINDS))
@click.option(
    "--backbone", "backbone_id", help="List this backbone's layers (implies `layers`; any family name too)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (typed values).")
@plugin_option
@click.pass_context
def list_command(
    ctx: click.Context, kind: str | None, backbone_id: str | None, as_json: bool, plugin_files
) -> None:
    """List registered backbones, prompt schemes and datasets, with the plugin owning each.

    `bench list` is the short overview; `bench list KIND` shows one kind in full, and
    `bench list layers --backbone ID` a backbone's taps (channels, stride, other names).
    """
    from bench.api.errors import BenchError
    from bench.cli.listing import listing_payload, listing_sections

    if backbone_id and kind not in (None, "layers"):
        raise BenchError(
            f"--backbone lists a backbone's layers, not {kind}.",
            f"Use `bench list layers --backbone {backbone_id}`.",
        )
    registry = command_registry(ctx, plugin_files)
    sections = listing_sections(registry, kind, backbone_id)
    if as_json:
        click.echo(json.dumps(listing_payload(sections), indent=2))
        return
    print_sections(sections, short=kind is None)
    if not backbone_id and kind in (None, "layers"):
        stdout.print(f"Layers: {LAYERS_HINT}", highlight=False)


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (typed values).")
@plugin_option
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool, plugin_files) -> None:
    """List plugins: where each came from, whether it loaded, and the hooks it implements."""
    from bench.cli.listing import plugin_section

    command_registry(ctx, plugin_files)
    section = plugin_section(plugin_set(ctx))
    if as_json:
        click.echo(json.dumps(section.rows, indent=2))
        return
    print_sections([section])
