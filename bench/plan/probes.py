"""Linear probes: the ``--probe`` values, the probe file, and applying a probe to descriptors.

A linear probe is one matrix W (D_out x D_in) shared by queries and gallery, trained with the
prompts' triplet loss on a dataset's train split with the backbone frozen
(:mod:`bench.prompts.linear_probe`). A descriptor x (D_in, as cached) becomes

    y = W (x / |x|),   then y / |y|

``--probe`` values: ``none``; ``linear`` (a run trains it for each configuration, see
:mod:`bench.execution.probes`); ``linear:FILE`` (a probe saved by ``bench train --probe linear``).

The file is safetensors holding one float32 tensor ``weight`` (D_out, D_in) and a JSON header
(``__metadata__`` entry :data:`HEADER_KEY`, :class:`ProbeHeader`) naming what it was trained for;
the header is read without torch, so a sweep is checked before any model loads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from bench.api.components import POOLINGS
from bench.api.errors import BenchError
from bench.api.files import atomic_file
from bench.api.validation import Name, PathText, SchemaModel, Seed, Size, Timestep
from bench.config.run_config import OptionValue
from bench.plan.learned_files import LearnedFileKind, read_learned_header

HEADER_KEY = "sbir_bench.probe"
FORMAT_VERSION = 1
WEIGHT_KEY = "weight"
NONE = "none"
LINEAR = "linear"
Count = Annotated[int, Field(ge=0, description="a count")]
Dim = Annotated[int, Field(ge=1, le=2**20, description="a dimension from 1 to 1048576")]
Number = Annotated[float, Field(description="a finite number")]
PROBE_VALUES = "none, linear (trained by the run) or linear:FILE (saved by `bench train --probe linear`)"


class ProbeHeader(SchemaModel):
    """The JSON header of a linear probe file: what its descriptors were (backbone, weights, layer,
    pooling, t, resolution, prompt and the content hash of a learned one, noise draws, seed), what it
    was trained on (dataset and options, the training settings, the counts of the items it learned
    from and was validated on), its dimensions, and its metrics."""

    format_version: Literal[FORMAT_VERSION]
    kind: Literal["linear"] = LINEAR
    backbone: Name
    weights: PathText | None = None
    layer: Name
    pool: Literal[POOLINGS]
    t: Timestep | None = None
    image_size: Size | None = None
    prompt: Name = NONE
    prompt_content: Name | None = None
    noise_samples: Annotated[int, Field(ge=1)] | None = None
    seed: Seed | None = None
    input_dim: Dim
    output_dim: Dim
    dataset: Name | None = None
    dataset_options: dict[Name, OptionValue] = {}
    training: dict[Name, Any] | None = None  # the probe's training settings, checked by read_header
    training_data: dict[Literal["kept", "available", "validation"], dict[Name, Count | None]] | None = None
    metrics: dict[Name, Number | None] = {}
    history: list[dict[Name, Number]] = []
    sbir_bench_version: Name | None = None


def split_probe(value: str) -> tuple[str, Path | None]:
    """``"linear:p.safetensors"`` -> ``("linear", Path("p.safetensors"))``; ``"linear"`` ->
    ``("linear", None)``; ``"none"`` -> ``("none", None)``.

    Raises:
        BenchError: any other value.
    """
    kind, sep, argument = value.partition(":")
    if kind == NONE and not sep:
        return NONE, None
    if kind == LINEAR and (not sep or argument):
        return LINEAR, Path(argument).expanduser() if argument else None
    raise BenchError(f"Unknown probe {value!r}.", f"Use --probe {PROBE_VALUES}.")


PROBE_FILE = LearnedFileKind(
    what="Linear probe",
    header_key=HEADER_KEY,
    format_version=FORMAT_VERSION,
    command="bench train --probe linear",
    missing_hint="Train one with `bench train --probe linear --output FILE`, then pass --probe linear:FILE.",
)


def read_header(path: Path) -> dict[str, Any]:
    """The validated header (:class:`ProbeHeader`, as a dict) of the probe file ``path``, after
    checking its tensor table against it (no tensor is read, no torch imported).

    Raises:
        BenchError: the file is missing, not safetensors, carries no probe header, its header breaks
            the schema (naming the key), or it does not hold one float32 ``weight`` of the
            header's (output_dim, input_dim).
    """
    from bench.config.training import training_settings

    read = read_learned_header(path, PROBE_FILE, ProbeHeader)
    header = read.header
    if header.training is not None:
        training_settings(header.training, f"{read.source}: training")
    read.check_tensors({WEIGHT_KEY: (header.output_dim, header.input_dim)})
    return header.model_dump(mode="json")


def check_probe_file(path: Path, backbone: str, layer: str, pool: str, dim: int) -> dict[str, Any]:
    """The header of ``path`` after checking that it maps the descriptors of this configuration:
    the same backbone, layer and pooling, and ``dim`` inputs.

    Raises:
        BenchError: one message naming what the probe was trained for and what it is used with.
    """
    header = read_header(path)
    trained = (header["backbone"], header["layer"], header["pool"], header["input_dim"])
    if trained == (backbone, layer, pool, dim):
        return header
    raise BenchError(
        f"Linear probe {str(path)!r} maps {header['input_dim']}-d descriptors of backbone "
        f"{header['backbone']!r}, layer {header['layer']!r} ({header['pool']}); this run reads "
        f"{dim}-d descriptors of backbone {backbone!r}, layer {layer!r} ({pool}).",
        f"Use it with --backbone {header['backbone']} --layer {header['layer']}"
        + (f" --pool {header['pool']}" if header["pool"] != pool else "")
        + f", or train a probe for this configuration (--probe linear, or `bench train --probe linear "
        f"--backbone {backbone} --layer {layer}`).",
    )


def save_probe(path: Path, weight: Any, header: dict[str, Any]) -> Path:
    """Write ``weight`` (a (D_out, D_in) torch tensor or array) and ``header`` atomically to ``path``."""
    from safetensors.numpy import save_file

    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    values = np.ascontiguousarray(np.asarray(weight.detach().cpu() if hasattr(weight, "detach") else weight))
    output_dim, input_dim = values.shape
    checked = ProbeHeader.model_validate(
        {"format_version": FORMAT_VERSION, **header, "output_dim": output_dim, "input_dim": input_dim}
    )
    with atomic_file(path) as temporary:
        save_file(
            {WEIGHT_KEY: values.astype(np.float32)},
            str(temporary),
            metadata={HEADER_KEY: checked.model_dump_json()},
        )
    return path


def load_probe(path: Path) -> tuple[dict[str, Any], np.ndarray]:
    """(header, weight): the (D_out, D_in) float32 matrix of the probe file ``path``.

    Raises:
        BenchError: as :func:`read_header`, or its tensor cannot be read or holds NaN or inf.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    header = read_header(path)
    try:
        weight = load_file(str(Path(path).expanduser()))[WEIGHT_KEY]
    except (SafetensorError, OSError) as exc:
        raise PROBE_FILE.corrupt(Path(path), f"its tensor cannot be read ({exc})") from exc
    if not np.isfinite(weight).all():
        raise PROBE_FILE.corrupt(Path(path), "its weight holds non-finite values (NaN or inf)")
    return header, weight


def probe_content(weight: np.ndarray) -> str:
    """The probe's content hash (``probe_content`` in results): its shape and float32 bytes."""
    values = np.ascontiguousarray(weight, dtype=np.float32)
    hasher = hashlib.sha256(str(values.shape).encode())
    hasher.update(values.tobytes())
    return hasher.hexdigest()[:16]


def unit_rows(values: np.ndarray) -> np.ndarray:
    """``values`` (N, D) with each row divided by its L2 norm (all-zero rows stay zero)."""
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    return values / np.maximum(norms, np.finfo(np.float32).tiny)


def apply_probe(weight: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
    """(N, D_out) float32: ``weight`` (D_out, D_in) applied to the L2-normalised rows of
    ``descriptors`` (N, D_in), each result L2-normalised (see the module docstring)."""
    mapped = unit_rows(np.asarray(descriptors, dtype=np.float32)) @ np.asarray(weight, dtype=np.float32).T
    return unit_rows(mapped).astype(np.float32)
