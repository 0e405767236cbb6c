"""User-facing errors: each says what was wrong, what is valid and what to do next.

The command line prints a :class:`BenchError` as one message (no traceback unless ``--debug``);
anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Iterator


class BenchError(Exception):
    """A mistake in the user's input or environment, reported without a traceback.

    Args:
        message: what was wrong, in one sentence.
        hint: what is valid and what to do next (printed on its own line).
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


@contextlib.contextmanager
def plugin_failure(failed: str, hint: str) -> Iterator[None]:
    """Run a plugin's code: a :class:`BenchError` passes, any other exception (a plugin's bug) is
    named instead of a bare traceback: ``BenchError(f"{failed}: {type}: {exception}", hint)``.

    Example::

        with plugin_failure(f"Plugin {plugin!r} failed to resolve {name!r}", "Report it to its authors."):
            info = resolve(name)
    """
    try:
        yield
    except BenchError:
        raise
    except Exception as exc:
        raise BenchError(f"{failed}: {type(exc).__name__}: {exc}", hint) from exc


def closest_match(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``name`` (difflib ratio >= 0.5), or None."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown_name_error(
    kind: str, name: str, valid: Iterable[str], next_step: str, context: str = ""
) -> BenchError:
    """A :class:`BenchError` for an unknown ``name`` of ``kind``, listing ``valid`` and the closest match.

    ``context`` follows the kind in both sentences, e.g. ``" for backbone 'sd-tiny'"``.
    """
    valid = list(valid)
    suggestion = closest_match(name, valid)
    message = f"Unknown {kind} {name!r}{context}."
    if suggestion:
        message += f" Did you mean {suggestion!r}?"
    listed = ", ".join(valid) if valid else "(none registered)"
    return BenchError(message, f"Valid {kind}s{context}: {listed}. {next_step}")
