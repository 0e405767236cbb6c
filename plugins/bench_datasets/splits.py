"""The published zero-shot splits shipped with this plugin (``split_data/``, provenance in its README).

Class lists hold one class name per line, spelled as in the source that published them; file lists
hold ``<relative path> <label id>`` per line, paths as in the release that source read (SAKE's
preprocessed copy appends ``_ready`` to folder names). Everything is read once and cached.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources

DATA = resources.files(__package__) / "split_data"


@cache
def class_list(name: str) -> tuple[str, ...]:
    """The class names of ``split_data/<name>.txt``, in file order."""
    text = (DATA / f"{name}.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@cache
def file_list(name: str) -> tuple[str, ...]:
    """The relative paths of ``split_data/filelists/<name>.txt.gz``, in file order (label ids dropped).

    Paths may contain spaces (``images/palm tree/...``); the label id is the last field of a line.
    """
    data = (DATA / "filelists" / f"{name}.txt.gz").read_bytes()
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    return tuple(line.rsplit(" ", 1)[0] for line in lines if line.strip())
