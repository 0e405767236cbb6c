"""Reading checkpoint files safely: tensors only, never code (no torch imported at import).

``torch.load`` unpickles, and with ``weights_only=False`` a planted file runs whatever code it
names. Every torch file the toolkit and its plugins read goes through :func:`read_torch_file`
(``weights_only=True``: tensors, numbers, strings and containers of them); a file it refuses, or
cannot read at all, is one message that says why.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

from bench.api.errors import BenchError

_BLOCKED = re.compile(r"GLOBAL (\S+)")
INTACT_FILE_HINT = (
    "Pass an intact .safetensors or .ckpt file of tensors only (a truncated download is common)."
)
"""What to do about a checkpoint file :func:`tensor_shapes` or :func:`read_state_dict` cannot read."""


def load_failure(exc: BaseException) -> str:
    """Why a checkpoint file could not be read, in one line: a refused Python object (naming it),
    else the first line of the library's error."""
    if isinstance(exc, pickle.UnpicklingError):
        found = _BLOCKED.search(str(exc))
        named = f" ({found[1]})" if found else ""
        return (
            f"it holds Python objects besides tensors{named}, which are never loaded: "
            "unpickling them could run code"
        )
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_torch_file(path: str | Path, what: str, hint: str, *, mmap: bool = False) -> Any:
    """The content of a ``torch.save`` file, on the CPU, read with ``weights_only=True``.

    Args:
        what: the file's role, e.g. ``"The CleanDIFT UNet checkpoint"`` (the message adds the path).
        hint: what to do next.
        mmap: map the file instead of reading it (files saved by torch >= 1.6).

    Raises:
        BenchError: the file holds other Python objects (never unpickled), or is truncated or not
            a torch file.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # a refused object, a truncated or foreign file: torch raises many types
        raise BenchError(f"{what} {str(path)!r} cannot be read: {load_failure(exc)}.", hint) from exc


def unwrap_state_dict(loaded: Any) -> dict[str, Any]:
    """The state dict of a loaded checkpoint: itself, or what it nests under ``"state_dict"`` (as
    Lightning and LDM checkpoints do); ``{}`` when it is not a dict."""
    while isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    return loaded if isinstance(loaded, dict) else {}


def read_state_dict(path: str | Path, what: str, hint: str, *, mmap: bool = False) -> dict[str, Any]:
    """The state dict of a checkpoint file: a ``.safetensors`` file's tensors, or a torch file read
    as :func:`read_torch_file` does and unwrapped by :func:`unwrap_state_dict`.

    Raises:
        BenchError: as :func:`read_torch_file`, or a damaged ``.safetensors`` file.
    """
    if Path(path).suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types for a damaged file
            raise BenchError(f"{what} {str(path)!r} cannot be read: {load_failure(exc)}.", hint) from exc
    return unwrap_state_dict(read_torch_file(path, what, hint, mmap=mmap))


def tensor_shapes(path: str | Path, what: str, hint: str) -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor in a checkpoint file, without reading a
    ``.safetensors`` file's data (its header says them); a torch file is memory-mapped.

    Raises:
        BenchError: as :func:`read_state_dict`.
    """
    if Path(path).suffix != ".safetensors":
        state = read_state_dict(path, what, hint, mmap=True)
        return {key: tuple(value.shape) for key, value in state.items() if hasattr(value, "shape")}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except Exception as exc:  # safetensors raises its own error types for a damaged header
        raise BenchError(f"{what} {str(path)!r} cannot be read: {load_failure(exc)}.", hint) from exc
