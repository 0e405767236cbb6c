"""``bench run --prompt learned:FILE``: the settings a learned prompt was trained for, from its header."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.config.run_config import SweepSpec
from bench.prompts.files import other_backbone_error, read_header
from bench.registry.tables import Registry


def settings_from_learned_prompt(
    spec: SweepSpec, given: set[str], registry: Registry
) -> tuple[SweepSpec, dict[str, Any], str | None]:
    """With exactly one ``learned:FILE`` prompt, fill the sweep settings the user did not give
    (``given`` names those typed) from the file's header (what it was trained for): backbone, layer,
    t, image size, dataset and its options. What the user typed always wins; a backbone typed that
    is not the one the prompt was trained for is an error saying so.

    Weights are never taken from a header (a shared file must not point a run at a hub id or a path
    of its choosing): when the header's weights differ from the backbone's default, a note says
    how to ask for them. A layer or timestep the user typed that differs from the one the prompt
    was trained at gets a note too (the run is valid, but does not evaluate the prompt as trained).

    Returns:
        (the sweep, the settings filled in, the notes).

    Raises:
        BenchError: the file is no learned prompt, or the user typed another backbone than the one
            it was trained for.
    """
    learned = [prompt for prompt in spec.prompt if prompt.startswith("learned:")]
    if len(learned) != 1:
        return spec, {}, []
    path = Path(learned[0].partition(":")[2])
    header = read_header(path)
    other = next((backbone for backbone in spec.backbone if backbone != header["backbone"]), None)
    if "backbone" in given and other is not None:  # before its layer is looked for in that backbone
        raise other_backbone_error(path, header["backbone"], other)
    recorded = {
        "backbone": (header["backbone"],),
        "layer": (header.get("layer"),),
        "t": (header.get("t"),),
        "image_size": header["image_size"],
        "dataset": (header.get("dataset"),),
        "dataset_options": header.get("dataset_options"),
    }
    unrecorded = (None, (None,))  # a header written by hand may omit them
    filled = {key: value for key, value in recorded.items() if key not in given and value not in unrecorded}
    spec = replace(spec, **filled)
    notes = [
        f"the prompt was trained at {key} {recorded[key][0]}; this run reads {key} "
        f"{', '.join(map(str, getattr(spec, key)))} "
        f"(pass --{key} {recorded[key][0]} to evaluate it as trained)"
        for key in ("layer", "t")
        if key in given and recorded[key] not in unrecorded and getattr(spec, key) != recorded[key]
    ]
    trained_weights = header.get("weights")
    if trained_weights and "weights" not in given and len(spec.backbone) == 1:
        backbone = spec.backbone[0]
        default = registry.backbones.get(backbone).weights
        if backbone == header["backbone"] and trained_weights != default:
            notes.append(
                f"the prompt was trained with weights {trained_weights!r}; the run uses {backbone}'s "
                f"default (or --weights); pass --weights {backbone}={trained_weights} to use those"
            )
    return spec, filled, notes
