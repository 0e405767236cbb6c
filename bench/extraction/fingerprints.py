"""Short hashes of what a descriptor depends on besides the image and the weights: code, prompt content."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
from pathlib import Path
from typing import Any

import numpy as np

from bench.api.components import PromptCondition


def code_fingerprint(target: Any) -> str:
    """A hash of the source of the package that implements ``target`` (a ``"module:attr"`` string or
    a callable), read without importing it: editing a backbone's code (a random model's config,
    preprocessing) invalidates its cached descriptors."""
    if isinstance(target, str):
        spec = importlib.util.find_spec(target.split(":")[0].split(".")[0])
        origin = Path(spec.origin) if spec and spec.origin else None
    else:
        source = inspect.getsourcefile(target)
        origin = Path(source) if source else None
    if origin is None:
        return "unknown"
    files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
    hasher = hashlib.sha256()
    for file in files:
        hasher.update(file.read_bytes())
    return hasher.hexdigest()[:16]


def prompt_fingerprint(prompt: PromptCondition) -> str:
    """A hash of everything in the prompt: its text and the bytes of any learned tensors."""
    hasher = hashlib.sha256(prompt.text.encode())
    for tensor in (prompt.text_embedding, *(sorted((prompt.visual or {}).items()))):
        if tensor is None:
            continue
        name, value = tensor if isinstance(tensor, tuple) else ("text", tensor)
        hasher.update(name.encode())
        hasher.update(np.ascontiguousarray(value.detach().float().cpu().numpy()).tobytes())
    return hasher.hexdigest()[:16]
