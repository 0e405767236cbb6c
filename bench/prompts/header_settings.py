"""``bench run --prompt learned:FILE`` or ``--probe linear:FILE``: the settings the file was trained
for, from its header."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.config.run_config import SweepSpec
from bench.plan import probes
from bench.plan.runs import split_prompt
from bench.prompts.files import other_backbone_error, read_header
from bench.registry.tables import Registry

UNRECORDED = (None, (None,))  # a header written by hand may omit a setting
FILE_KINDS = {"prompt": "learned prompt", "probe": "linear probe"}


def settings_from_trained_files(
    spec: SweepSpec, given: set[str], registry: Registry
) -> tuple[SweepSpec, dict[str, Any], list[str]]:
    """With exactly one ``learned:FILE`` prompt, fill the sweep settings the user did not give
    (``given`` names those typed) from the file's header (what it was trained for): backbone, layer,
    t, image size, dataset and its options; then, with exactly one ``linear:FILE`` probe, the
    settings still open from the probe's header, its prompt too (unless that prompt was a scheme
    its run trained: the note names it). What the user typed always wins; a backbone typed that is
    not the one the prompt was trained for is an error saying so (a probe's is refused when the run
    is planned).

    Weights are never taken from a header (a shared file must not point a run at a hub id or a path
    of its choosing): when the header's weights differ from the backbone's default, a note says
    how to ask for them. A layer or timestep the user typed that differs from the one the file
    was trained at gets a note too (the run is valid, but does not evaluate the file as trained).

    Returns:
        (the sweep, the settings filled in: key -> (the file's kind, value), the notes).

    Raises:
        BenchError: a file is no learned prompt or probe, or the user typed another backbone than
            the one the prompt was trained for.
    """
    filled: dict[str, tuple[str, Any]] = {}
    notes: list[str] = []
    learned = [prompt for prompt in spec.prompt if prompt.startswith("learned:")]
    if len(learned) == 1:
        path = Path(learned[0].partition(":")[2])
        header = read_header(path)
        other = next((backbone for backbone in spec.backbone if backbone != header["backbone"]), None)
        if "backbone" in given and other is not None:  # before its layer is looked for in that backbone
            raise other_backbone_error(path, header["backbone"], other)
        spec = _fill(spec, given, registry, header, {}, "prompt", filled, notes)
    saved_probes = [probe for probe in spec.probe if probe.startswith(f"{probes.LINEAR}:")]
    if len(saved_probes) == 1:
        header = probes.read_header(probes.split_probe(saved_probes[0])[1])  # type: ignore[arg-type]
        prompt = header["prompt"]
        if registry.prompt_schemes.get(split_prompt(prompt)[0]).learns:
            notes.append(
                f"the probe was trained on descriptors with a {prompt} prompt its run trained; pass "
                "--prompt learned:FILE with that prompt's file to evaluate it as trained"
            )
            extra = {}
        else:
            extra = {"prompt": (prompt,)}
        spec = _fill(spec, given | set(filled), registry, header, extra, "probe", filled, notes)
    return spec, filled, notes


def _fill(
    spec: SweepSpec,
    given: set[str],
    registry: Registry,
    header: dict[str, Any],
    extra: dict[str, Any],
    what: str,
    filled: dict[str, tuple[str, Any]],
    notes: list[str],
) -> SweepSpec:
    """``spec`` with the settings of ``header`` (and ``extra``) that are not in ``given``; adds them to
    ``filled`` and the notes about a file of kind ``what`` (``prompt``, ``probe``) to ``notes``."""
    recorded = {
        "backbone": (header["backbone"],),
        "layer": (header.get("layer"),),
        "t": (header.get("t"),),
        "image_size": header.get("image_size"),
        "dataset": (header.get("dataset"),),
        "dataset_options": header.get("dataset_options"),
        **extra,
    }
    new = {key: value for key, value in recorded.items() if key not in given and value not in UNRECORDED}
    spec = replace(spec, **new)
    filled.update({key: (FILE_KINDS[what], value) for key, value in new.items()})
    notes.extend(
        f"the {what} was trained at {key} {recorded[key][0]}; this run reads {key} "
        f"{', '.join(map(str, getattr(spec, key)))} "
        f"(pass --{key} {recorded[key][0]} to evaluate it as trained)"
        for key in ("layer", "t")
        if key in given and recorded[key] not in UNRECORDED and getattr(spec, key) != recorded[key]
    )
    trained_weights = header.get("weights")
    if trained_weights and "weights" not in given and len(spec.backbone) == 1:
        backbone = spec.backbone[0]
        default = registry.backbones.get(backbone).weights
        if backbone == header["backbone"] and trained_weights != default:
            notes.append(
                f"the {what} was trained with weights {trained_weights!r}; the run uses {backbone}'s "
                f"default (or --weights); pass --weights {backbone}={trained_weights} to use those"
            )
    return spec
