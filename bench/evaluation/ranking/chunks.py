"""How many queries one chunk of the streamed ranking holds, from the working-set size."""

from __future__ import annotations

WORKING_SET_BYTES = 256 * 2**20
"""Target size of one query chunk's similarity block, in bytes."""

PAIRED_BYTES_PER_CELL = 5
"""Bytes per (query, gallery item) cell of paired ranking: similarities and one mask."""


def chunk_rows(chunk_size: int | None, num_gallery: int, bytes_per_cell: int) -> int:
    """Queries per chunk: ``chunk_size`` if given, else as many as fit in WORKING_SET_BYTES."""
    if chunk_size is None:
        return max(1, WORKING_SET_BYTES // (bytes_per_cell * num_gallery))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    return chunk_size
