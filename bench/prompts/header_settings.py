"""``bench run --prompt learned:FILE``: the settings a learned prompt was trained for, from its header."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.config.run_config import SweepSpec
from bench.prompts.files import read_header


def settings_from_learned_prompt(spec: SweepSpec, given: set[str]) -> tuple[SweepSpec, dict[str, Any]]:
    """With exactly one ``learned:FILE`` prompt, fill the sweep settings ``given`` does not name from
    the file's header (what it was trained for): backbone, weights, layer, t, image size, dataset and
    its options. Returns the sweep and the settings filled in (empty when nothing applies)."""
    learned = [prompt for prompt in spec.prompt if prompt.startswith("learned:")]
    if len(learned) != 1:
        return spec, {}
    header = read_header(Path(learned[0].partition(":")[2]))
    recorded = {
        "backbone": (header["backbone"],),
        "weights": {header["backbone"]: header.get("weights")},
        "layer": (header.get("layer"),),
        "t": (header.get("t"),),
        "image_size": header["image_size"],
        "dataset": (header.get("dataset"),),
        "dataset_options": header.get("dataset_options"),
    }
    unrecorded = (None, (None,), {header["backbone"]: None})  # a header written by hand may omit them
    filled = {key: value for key, value in recorded.items() if key not in given and value not in unrecorded}
    return replace(spec, **filled), filled
