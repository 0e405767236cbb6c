"""Writing a file atomically: a temporary file beside it, flushed to disk, then renamed over it.

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


def output_problem(path: Path) -> str | None:
    """Why no file can be created at ``path``, in words, or None when nothing is in the way: the
    nearest existing folder above it (where missing folders would be created) is a file, or is not
    writable. A full disk shows only when writing."""
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{str(folder)!r} is a file, not a folder"
    if not os.access(folder, os.W_OK):
        return f"the folder {str(folder)!r} is not writable"
    return None
