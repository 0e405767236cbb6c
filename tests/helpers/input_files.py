"""Files a user hands the toolkit, written byte by byte as a damaged or hand-made file would be:
learned-prompt files (the safetensors layout: an 8-byte header length, the JSON header, the tensor
bytes) and JSON nested deeper than any recursive reader survives."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any


def good_header() -> dict[str, Any]:
    return {
        "format_version": 1,
        "backbone": "sd-tiny",
        "layer": "up1",
        "t": 200,
        "image_size": 64,
        "scheme": "visual",
        "parts": ["visual"],
        "width": 8,
        "dataset": "synthetic",
        "dataset_options": {"num_unseen": 4},
        "metrics": {"epochs_run": 1},
        "history": [{"epoch": 1, "loss": 0.2}],
    }


def write_prompt_file(path: Path, header: Any, table: dict[str, Any] | None = None) -> Path:
    """A safetensors file holding zero visual prompts for a 64 px backbone and ``header``."""
    size = 3 * 64 * 64 * 4
    if table is None:
        table = {
            "visual.sketch": {"dtype": "F32", "shape": [3, 64, 64], "data_offsets": [0, size]},
            "visual.photo": {"dtype": "F32", "shape": [3, 64, 64], "data_offsets": [size, 2 * size]},
        }
    data = json.dumps({"__metadata__": {"sbir_bench.prompt": json_text(header)}, **table}).encode()
    path.write_bytes(struct.pack("<Q", len(data)) + data + bytes(2 * size))
    return path


DEEP_TEXT = "[" * 100_000 + "0" + "]" * 100_000  # JSON no recursive reader survives
DEEP_MARK = "deeply nested value"  # replaced by DEEP_TEXT in the written JSON


def json_text(data: Any) -> str:
    """``data`` as JSON, each DEEP_MARK string replaced by DEEP_TEXT."""
    return json.dumps(data).replace(json.dumps(DEEP_MARK), DEEP_TEXT)
