"""Learned prompt files: one safetensors file holding the learned tensors and a JSON header.

Tensors (float32):

- ``visual.sketch``, ``visual.photo``: (3, S, S) additive pixel prompts (zero inside the border),
  in the backbone's preprocessed value range at its input resolution S;
- ``textual``: (77, d) context that replaces the text encoder's output.

The header (the safetensors ``__metadata__`` entry :data:`HEADER_KEY`, a JSON object) records what the
prompt was trained for: ``backbone``, ``weights``, ``layer``, ``t``, ``image_size``, ``scheme``,
``parts``, ``width``, ``dataset``, ``training`` (the full training configuration) and ``metrics``.
It is read here without torch, so a sweep can be checked before any model loads.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from bench.api.errors import BenchError
from bench.api.files import atomic_file

HEADER_KEY = "sbir_bench.prompt"
FORMAT_VERSION = 1
VISUAL_KEYS = {"sketch": "visual.sketch", "photo": "visual.photo"}
TEXTUAL_KEY = "textual"
MAX_HEADER_BYTES = 100 * 2**20  # safetensors' own limit
REQUIRED_HEADER_KEYS = ("backbone", "image_size", "parts")  # what checks and loading read


def _corrupt(path: Path, why: str) -> BenchError:
    return BenchError(
        f"{str(path)!r} is not a learned prompt file: {why}.",
        "Pass a file written by `bench train --output FILE` (train one if needed).",
    )


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of the learned prompt file ``path`` (no tensors are read, no torch imported).

    Raises:
        BenchError: the file is missing, not safetensors, or carries no sbir-bench prompt header.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise BenchError(
            f"Learned prompt file {str(path)!r} does not exist.",
            "Train one with `bench train --prompt visual+textual --output FILE`, then pass "
            "--prompt learned:FILE.",
        )
    try:
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if not 0 < length <= MAX_HEADER_BYTES:
                raise _corrupt(path, "its safetensors header length is invalid")
            table = json.loads(handle.read(length))
    except (struct.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(path, f"its safetensors header cannot be read ({exc})") from exc
    metadata = table.get("__metadata__", {}) if isinstance(table, dict) else {}
    if HEADER_KEY not in metadata:
        raise _corrupt(path, f"it has no {HEADER_KEY!r} header")
    try:
        header = json.loads(metadata[HEADER_KEY])
    except json.JSONDecodeError as exc:
        raise _corrupt(path, f"its header is not JSON ({exc})") from exc
    if header.get("format_version") != FORMAT_VERSION:
        raise _corrupt(path, f"format version {header.get('format_version')!r}, expected {FORMAT_VERSION}")
    missing = [key for key in REQUIRED_HEADER_KEYS if key not in header]
    if missing:
        raise _corrupt(path, f"its header lacks {', '.join(missing)}")
    return header


def check_prompt_file(path: Path, backbone_id: str, image_size: int) -> dict[str, Any]:
    """The header of ``path`` after checking that it was trained for ``backbone_id`` at ``image_size``.

    Raises:
        BenchError: naming what the file was trained for and what it is being used with.
    """
    header = read_header(path)
    if header["backbone"] != backbone_id:
        raise BenchError(
            f"Learned prompt {str(path)!r} was trained for backbone {header['backbone']!r}, "
            f"not {backbone_id!r}.",
            f"Use it with --backbone {header['backbone']}, or train a prompt for {backbone_id} with "
            f"`bench train --backbone {backbone_id}`.",
        )
    if "visual" in header["parts"] and header["image_size"] != image_size:
        raise BenchError(
            f"Learned prompt {str(path)!r} has a {header['image_size']} px visual prompt; this run "
            f"feeds {backbone_id} {image_size} px images.",
            f"Run with --image-size {header['image_size']}, or train at {image_size} px.",
        )
    return header


def save_prompt(path: Path, tensors: dict[str, Any], header: dict[str, Any]) -> Path:
    """Write ``tensors`` (names as in the module docstring) and ``header`` atomically to ``path``."""
    from safetensors.torch import save_file

    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {HEADER_KEY: json.dumps({"format_version": FORMAT_VERSION, **header}, sort_keys=True)}
    with atomic_file(path) as temporary:
        save_file(
            {name: value.detach().float().cpu().contiguous() for name, value in tensors.items()},
            str(temporary),
            metadata=metadata,
        )
    return path


def load_prompt(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, tensors) of the learned prompt file ``path``; tensors are float32 CPU torch tensors.

    Raises:
        BenchError: the file is unreadable, or its tensors do not match its header's parts.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    header = read_header(path)
    try:
        tensors = load_file(str(Path(path).expanduser()))
    except (SafetensorError, OSError) as exc:
        raise _corrupt(Path(path), f"its tensors cannot be read ({exc})") from exc
    expected = set()
    if "visual" in header["parts"]:
        expected |= set(VISUAL_KEYS.values())
    if "textual" in header["parts"]:
        expected.add(TEXTUAL_KEY)
    if set(tensors) != expected:
        raise _corrupt(Path(path), f"it holds {sorted(tensors)}, its header promises {sorted(expected)}")
    return header, tensors


def learned_condition(path: Path):
    """The :class:`bench.PromptCondition` a learned prompt file holds (empty text, its tensors).

    Raises:
        BenchError: as :func:`load_prompt`.
    """
    from bench.api.components import PromptCondition

    header, tensors = load_prompt(path)
    visual = None
    if "visual" in header["parts"]:
        visual = {modality: tensors[key] for modality, key in VISUAL_KEYS.items()}
    return PromptCondition(text="", text_embedding=tensors.get(TEXTUAL_KEY), visual=visual)
