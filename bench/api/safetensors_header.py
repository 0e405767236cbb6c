"""The JSON side of a safetensors file the toolkit wrote (learned prompts, linear probes), read without
torch: its tensor table, bounded, and the JSON object it keeps under one ``__metadata__`` key.

A safetensors file is an 8-byte little-endian header length, a JSON table (tensor name ->
``{dtype, shape, data_offsets}``, plus ``__metadata__``: text -> text), then the tensor bytes.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from bench.api.bounded_read import open_regular_file
from bench.api.errors import BenchError
from bench.api.validation import SchemaModel, as_tuple_of, check_nesting, validated

MAX_HEADER_BYTES = 16 * 2**20  # a header of ours is a few kB; safetensors itself allows 100 MiB
FLOAT32_BYTES = 4
Corrupt = Callable[[str], BenchError]  # why -> the error naming the file and what it should be


class TensorEntry(SchemaModel):
    """One tensor of the safetensors table: float32, its shape and byte range."""

    dtype: Literal["F32"]
    shape: as_tuple_of(Annotated[int, Field(ge=1, le=2**20)])
    data_offsets: Annotated[as_tuple_of(Annotated[int, Field(ge=0)]), Field(min_length=2, max_length=2)]


def read_table(path: Path, what: str, corrupt: Corrupt) -> tuple[dict[str, Any], int]:
    """(the safetensors table of the regular file ``path``, bytes of tensor data after it).

    Args:
        what: the file's kind in messages about reading it (``"Learned prompt file"``).
        corrupt: builds the error for a file that is not what it should be.
    """
    try:
        with open_regular_file(path, what) as (handle, size):
            (length,) = struct.unpack("<Q", handle.read(8))
            if not 0 < length <= MAX_HEADER_BYTES:
                raise corrupt("its safetensors header length is invalid")
            table = json.loads(handle.read(length))
    except (struct.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise corrupt(f"its safetensors header cannot be read ({exc})") from exc
    except RecursionError:
        raise corrupt("its safetensors header nests too deeply") from None
    if not isinstance(table, dict):
        raise corrupt("its safetensors header is not a table")
    return table, size - 8 - length


def metadata_object(table: dict[str, Any], key: str, source: str, corrupt: Corrupt) -> dict[str, Any]:
    """The JSON object stored as text under ``__metadata__[key]`` (removing ``__metadata__`` from
    ``table``), checked for nesting (``source`` names it in messages)."""
    metadata = table.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not isinstance(metadata.get(key), str):
        raise corrupt(f"it has no {key!r} header")
    try:
        raw = json.loads(metadata[key])
    except json.JSONDecodeError as exc:
        raise corrupt(f"its header is not JSON ({exc})") from exc
    except RecursionError:
        raise corrupt("its header nests too deeply") from None
    if not isinstance(raw, dict):
        raise corrupt(f"its header is {type(raw).__name__}, not a JSON object")
    check_nesting(raw, source)
    return raw


def check_float32_tensors(
    path: Path,
    table: dict[str, Any],
    expected: dict[str, tuple[int, ...] | None],
    data_bytes: int,
    corrupt: Corrupt,
) -> None:
    """Raise unless ``table`` holds exactly the float32 tensors ``expected`` names, each of its shape
    (None: any 2-D shape) and inside the file's ``data_bytes``."""
    if set(table) != set(expected):
        raise corrupt(f"it holds {sorted(table)}, its header promises {sorted(expected)}")
    for name, raw in table.items():
        entry = validated(TensorEntry, raw, f"{str(path)!r}: tensor {name!r}")
        shape = expected[name]
        if (shape is not None and entry.shape != shape) or (shape is None and len(entry.shape) != 2):
            wanted = "a 2-D shape" if shape is None else f"shape {list(shape)}"
            raise corrupt(f"tensor {name!r} has shape {list(entry.shape)}, its header needs {wanted}")
        begin, end = entry.data_offsets
        if end - begin != math.prod(entry.shape) * FLOAT32_BYTES or end > data_bytes:
            raise corrupt(
                f"the byte range {begin}..{end} of tensor {name!r} does not fit its shape or the file"
            )
