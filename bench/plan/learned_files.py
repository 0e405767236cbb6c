"""The safetensors files sbir-bench trains (a learned prompt, a linear probe): one reader of their
JSON header, checked against the file's kind, format version and schema before any tensor is read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Generic, TypeVar

from bench.api.errors import BenchError
from bench.api.safetensors_header import check_float32_tensors, metadata_object, read_table
from bench.api.validation import SchemaModel, validated

Header = TypeVar("Header", bound=SchemaModel)


@dataclass(frozen=True)
class LearnedFileKind:
    """One kind of trained file.

    Attributes:
        what: its name in messages, capitalised (``"Linear probe"``).
        header_key: the safetensors metadata key of its JSON header.
        format_version: the header's ``format_version`` this reader understands.
        command: the command that writes it (``"bench train --probe linear"``).
        missing_hint: what to do when the file does not exist.
    """

    what: str
    header_key: str
    format_version: int
    command: str
    missing_hint: str

    @property
    def damaged_hint(self) -> str:
        """What to do about a header that breaks the schema."""
        return f"The file is damaged or was not written by `{self.command}`."

    def corrupt(self, path: Path, why: str) -> BenchError:
        """The error for ``path``, which is not a file of this kind (``why``: what is wrong)."""
        return BenchError(
            f"{str(path)!r} is not a {self.what.lower()} file: {why}.",
            f"Pass a file written by `{self.command} --output FILE` (train one if needed).",
        )


@dataclass(frozen=True)
class LearnedHeader(Generic[Header]):
    """A trained file's validated header, how messages name the file (``source``), and
    ``check_tensors(expected)``: raise unless the file's tensor table holds exactly the float32
    tensors ``expected`` names (name -> shape; None: any 2-D shape), without reading them."""

    header: Header
    source: str
    check_tensors: Callable[[dict[str, tuple[int, ...] | None]], None]


def read_learned_header(path: Path, kind: LearnedFileKind, schema: type[Header]) -> LearnedHeader[Header]:
    """The header of the trained file ``path`` of ``kind``, validated against ``schema`` (no tensor
    is read, no torch imported).

    Raises:
        BenchError: the file is missing, not safetensors, carries no header of ``kind``, has another
            format version, or its header breaks the schema (naming the key).
    """
    path = Path(path).expanduser()
    if not path.exists():  # anything else there is refused by the read (a FIFO, a folder)
        raise BenchError(f"{kind.what} file {str(path)!r} does not exist.", kind.missing_hint)
    corrupt = partial(kind.corrupt, path)
    table, data_bytes = read_table(path, f"{kind.what} file", corrupt)
    source = f"{kind.what} {str(path)!r}"
    raw = metadata_object(table, kind.header_key, source, corrupt)
    if raw.get("format_version") != kind.format_version:
        raise corrupt(f"format version {raw.get('format_version')!r}, expected {kind.format_version}")
    header = validated(schema, raw, source, hint=kind.damaged_hint)
    return LearnedHeader(
        header, source, partial(check_float32_tensors, path, table, data_bytes=data_bytes, corrupt=corrupt)
    )
