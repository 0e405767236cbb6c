"""Reading a file that came from elsewhere without letting it hang or flood the reader.

Every file the toolkit parses from a path a user gives (run and training configurations, results
files, ``reported.toml`` and ``chance.toml``, learned-prompt headers) is opened here: without
blocking (a FIFO named ``x.json`` has no writer to wait for), refused unless the open descriptor is a
regular file (``fstat``, so a symlink to ``/dev/zero`` or a device is refused, and no race between a
check and the open), and read up to a bound on the bytes actually read, not on the size the file
claims (``/proc`` files claim 0 bytes). A gzip-compressed file of lines
(:func:`read_bounded_gzip_lines`) is bounded on the bytes it decompresses to, in all and per line,
so a small file that inflates to gigabytes (a gzip bomb) is refused after reading the bound.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from bench.api.errors import BenchError

NOT_FROM_SBIR_BENCH = "This is not a file sbir-bench wrote; check where it came from."


@contextlib.contextmanager
def open_regular_file(path: Path, what: str) -> Iterator[tuple[BinaryIO, int]]:
    """``(binary handle, size in bytes)`` of ``path``, opened only if it is a regular file.

    Args:
        path: the file (symlinks are followed; what they lead to must be a regular file).
        what: the file's kind in messages, e.g. ``"Results file"``.

    Raises:
        BenchError: the file is missing or unreadable, or is not a regular file (a FIFO, a device,
            a directory, a socket).
    """
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise BenchError(f"Cannot read {what} {str(path)!r}: {exc.strerror or exc}.") from exc
    try:
        mode = os.fstat(descriptor)
        if not stat.S_ISREG(mode.st_mode):
            raise BenchError(
                f"{what} {str(path)!r} is not a regular file (it is {_kind(mode.st_mode)}).",
                f"Only regular files are read: put the file itself there, or remove that name. "
                f"{NOT_FROM_SBIR_BENCH}",
            )
        os.set_blocking(descriptor, True)
        handle = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with handle:
        yield handle, mode.st_size


def read_bounded_bytes(path: Path, limit_bytes: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refusing one of more than ``limit_bytes``
    (at most ``limit_bytes + 1`` bytes are read, whatever size the file claims).

    Raises:
        BenchError: as :func:`open_regular_file`, or the file holds more than ``limit_bytes``.
    """
    with open_regular_file(path, what) as (handle, _):
        try:
            data = handle.read(limit_bytes + 1)
        except OSError as exc:
            raise BenchError(f"Cannot read {what} {str(path)!r}: {exc.strerror or exc}.") from exc
    if len(data) > limit_bytes:
        raise BenchError(
            f"{what} {str(path)!r} holds more than {_amount(limit_bytes)}; at most {_amount(limit_bytes)} "
            "is read.",
            NOT_FROM_SBIR_BENCH,
        )
    return data


def read_bounded_text(path: Path, limit_bytes: int, what: str) -> str:
    """The UTF-8 text of the regular file ``path`` (see :func:`read_bounded_bytes`), without the
    leading byte-order mark some editors write.

    Raises:
        BenchError: as :func:`read_bounded_bytes`, or the file is not UTF-8 (``what`` names it).
    """
    data = read_bounded_bytes(path, limit_bytes, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BenchError(f"{what} {str(path)!r} is not UTF-8 text ({exc.reason}).") from exc


def read_bounded_gzip_lines(
    path: Path, limit_bytes: int, line_limit_bytes: int, what: str
) -> Iterator[bytes]:
    """The lines (with their ``\\n``) of the gzip-compressed regular file ``path``, decompressed as
    they are read: at most ``limit_bytes`` in all and ``line_limit_bytes`` per line, and a file of
    more than ``limit_bytes`` compressed bytes is refused before reading.

    Raises:
        BenchError: as :func:`open_regular_file`; the file is not gzip data (or is cut short); it
            decompresses to more than ``limit_bytes``, or holds a longer line.
    """
    with open_regular_file(path, what) as (handle, size):
        if size > limit_bytes:
            raise _too_large(path, what, limit_bytes, "holds")
        total = 0
        try:
            with gzip.GzipFile(fileobj=handle, mode="rb") as stream:
                while line := stream.readline(line_limit_bytes + 1):
                    if len(line) > line_limit_bytes:
                        raise BenchError(
                            f"{what} {str(path)!r} has a line longer than {_amount(line_limit_bytes)}; "
                            f"lines of at most {_amount(line_limit_bytes)} are read.",
                            NOT_FROM_SBIR_BENCH,
                        )
                    total += len(line)
                    if total > limit_bytes:
                        raise _too_large(path, what, limit_bytes, "decompresses to")
                    yield line
        except (OSError, EOFError, zlib.error) as exc:
            raise BenchError(f"{what} {str(path)!r} is not readable gzip data ({exc}).") from exc


def _too_large(path: Path, what: str, limit_bytes: int, verb: str) -> BenchError:
    return BenchError(
        f"{what} {str(path)!r} {verb} more than {_amount(limit_bytes)}; at most "
        f"{_amount(limit_bytes)} is read.",
        NOT_FROM_SBIR_BENCH,
    )


def _amount(size: int) -> str:
    """``size`` bytes in words: whole mebibytes as ``"4 MiB"``, anything else in bytes."""
    return f"{size // 2**20} MiB" if size and size % 2**20 == 0 else f"{size:,} bytes"


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO, a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")
