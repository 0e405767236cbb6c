"""The two rich consoles of the command line (results on stdout, progress and messages on stderr)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

WIDTH_WHEN_PIPED = 200  # rich would wrap tables and messages at 80 columns when not on a terminal


def command_console(stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr) as the command line's own: one that does not wrap at 80
    columns when the output is piped. For plugin commands (``bench.command_console``)."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console.width = WIDTH_WHEN_PIPED
    return console


stdout = command_console()
stderr = command_console(stderr=True)


def warn(message: str) -> None:
    """Print ``message`` on stderr as a warning (the text is shown literally, not as rich markup)."""
    stderr.print(f"[yellow]Warning:[/yellow] {escape(message)}", highlight=False, soft_wrap=True)


def note(message: str) -> None:
    """Print ``message`` on stderr as a dim informational line."""
    stderr.print(f"[dim]{escape(message)}[/dim]", highlight=False, soft_wrap=True)


def print_error(message: str, hint: str | None = None) -> None:
    """Print a user error (and its hint on the next line) on stderr."""
    stderr.print(f"[bold red]Error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    if hint:
        stderr.print(escape(hint), highlight=False, soft_wrap=True)
