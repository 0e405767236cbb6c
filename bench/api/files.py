"""Writing a file atomically: a temporary file beside it, flushed to disk, then renamed over it;
and checking, before long work, that a file can be created there at all.

Readers (another process, a rerun after ``kill -9``) see the old file or the new one, never a
part. The file gets the permissions an ordinary ``open()`` would give (0666 less the umask), so a
cache or results folder shared between users stays readable by all of them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.api.errors import BenchError

TEMPORARY_SUFFIX = ".tmp"
"""Every temporary file ends so (and starts with a dot): stale ones are recognisable."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; on a clean exit it is synced and
    renamed to ``path`` (creating parent folders first), on an error removed.

    Example::

        with atomic_file(target) as temporary:
            save_file(tensors, str(temporary))
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically; returns ``path``."""
    with atomic_file(path) as temporary:
        temporary.write_text(text, encoding="utf-8", newline="\n")
    return Path(path)


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_file(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def _file_in_the_way(folder: Path) -> Path | None:
    """The nearest of ``folder`` and its parents that exists but is not a folder, or None."""
    return next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)


def output_problem(path: Path) -> str | None:
    """Why no file can be created at ``path``, in words, or None when nothing is in the way: a
    folder above it is a file, or the nearest existing folder above it (where missing folders would
    be created) does not take a file (tried with a temporary file, removed at once; nothing else is
    created). A full disk shows only when writing."""
    folder = Path(path).parent
    blocking = _file_in_the_way(folder)
    if blocking is not None:
        return f"{str(blocking)!r} is a file, not a folder"
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"the folder {str(folder)!r} is not writable ({exc.strerror or exc})"
    return None


def check_can_write(path: Path, what: str, hint: str) -> None:
    """Fail now, not after the work is done, when no file can be created at ``path``
    (:func:`output_problem`).

    Args:
        what: the file's role and path, e.g. ``"--output 'prompts/x.safetensors'"``.
        hint: what to do next.

    Raises:
        BenchError: saying what is in the way.
    """
    problem = output_problem(path)
    if problem is not None:
        raise BenchError(f"{what} cannot be written: {problem}.", hint)
