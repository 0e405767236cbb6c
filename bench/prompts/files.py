"""Learned prompt files: one safetensors file holding the learned tensors and a JSON header.

Tensors (float32):

- ``visual.sketch``, ``visual.photo``: (3, S, S) additive pixel prompts (zero inside the border),
  in the backbone's preprocessed value range at its input resolution S;
- ``textual``: (77, d) context that replaces the text encoder's output.

The header (the safetensors ``__metadata__`` entry :data:`HEADER_KEY`, a JSON object) records what the
prompt was trained for: ``backbone``, ``weights``, ``layer``, ``t``, ``image_size``, ``scheme``,
``parts``, ``width``, ``dataset``, ``training`` (the full training configuration),
``training_data`` (how many items it was trained and validated on) and ``metrics``.
It is read here without torch, so a sweep can be checked before any model loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from bench.api.components import POOLINGS
from bench.api.errors import BenchError
from bench.api.files import atomic_file
from bench.api.validation import (
    Name,
    PathText,
    SchemaModel,
    Size,
    Timestep,
    as_tuple_of,
    validated,
)
from bench.config.run_config import OptionValue
from bench.plan.learned_files import LearnedFileKind, read_learned_header

HEADER_KEY = "sbir_bench.prompt"
FORMAT_VERSION = 1
VISUAL_KEYS = {"sketch": "visual.sketch", "photo": "visual.photo"}
TEXTUAL_KEY = "textual"
Number = Annotated[float, Field(description="a finite number")]


class SplitCounts(SchemaModel):
    """Counts of a set of training items (:class:`bench.prompts.train_subset.ItemCounts`)."""

    classes: Annotated[int, Field(ge=0)]
    sketches: Annotated[int, Field(ge=0)]
    photos: Annotated[int, Field(ge=0)]
    instances: Annotated[int, Field(ge=0)] | None = None


class TrainingData(SchemaModel):
    """What a prompt was trained on: the training subset kept, the training items it was drawn from
    (after the validation hold-out), and the validation items."""

    kept: SplitCounts
    available: SplitCounts
    validation: SplitCounts


class PromptHeader(SchemaModel):
    """The JSON header of a learned prompt file (see the module docstring); writer and reader share it."""

    format_version: Literal[FORMAT_VERSION]
    backbone: Name
    weights: PathText | None = None
    layer: Name | None = None
    pool: Literal[POOLINGS] | None = None
    t: Timestep | None = None
    image_size: Size
    scheme: Name | None = None
    parts: Annotated[as_tuple_of(Literal["visual", "textual"]), Field(min_length=1, max_length=2)]
    width: Annotated[int, Field(ge=1, le=4096)] | None = None
    dataset: Name | None = None
    dataset_options: dict[Name, OptionValue] = {}
    training: dict[Name, Any] | None = None  # a TrainSpec, checked by read_header
    training_data: TrainingData | None = None
    metrics: dict[Name, Number | None] = {}
    history: list[dict[Name, Number]] = []
    sbir_bench_version: Name | None = None


PROMPT_FILE = LearnedFileKind(
    what="Learned prompt",
    header_key=HEADER_KEY,
    format_version=FORMAT_VERSION,
    command="bench train",
    missing_hint="Train one with `bench train --prompt visual+textual --output FILE`, then pass "
    "--prompt learned:FILE.",
)


def _expected_shapes(header: PromptHeader) -> dict[str, tuple[int, ...] | None]:
    """Tensor name -> shape the header promises (None: any 2-D shape, the textual context)."""
    expected: dict[str, tuple[int, ...] | None] = {}
    if "visual" in header.parts:
        size = header.image_size
        expected.update({key: (3, size, size) for key in VISUAL_KEYS.values()})
    if "textual" in header.parts:
        expected[TEXTUAL_KEY] = None
    return expected


def read_header(path: Path) -> dict[str, Any]:
    """The validated header (:class:`PromptHeader`, as a dict) of the learned prompt file ``path``,
    after checking its tensor table against it (no tensors are read, no torch imported).

    Raises:
        BenchError: the file is missing, not safetensors, carries no sbir-bench prompt header, its
            header breaks the schema (naming the key), or its tensors are not the float32 tensors
            of the shapes the header promises.
    """
    read = read_learned_header(path, PROMPT_FILE, PromptHeader)
    header = read.header
    if header.training is not None:
        from bench.config.training import TrainSpec

        validated(TrainSpec, header.training, f"{read.source}: training", hint=PROMPT_FILE.damaged_hint)
    read.check_tensors(_expected_shapes(header))
    return header.model_dump(mode="json")


def other_backbone_error(path: Path, trained_for: str, backbone_id: str) -> BenchError:
    """The error for the learned prompt ``path``, trained for ``trained_for``, used with ``backbone_id``."""
    return BenchError(
        f"Learned prompt {str(path)!r} was trained for backbone {trained_for!r}, not {backbone_id!r}.",
        f"Use it with --backbone {trained_for}, or train a prompt for {backbone_id} with "
        f"`bench train --backbone {backbone_id}`.",
    )


def check_prompt_file(path: Path, backbone_id: str, image_size: int) -> dict[str, Any]:
    """The header of ``path`` after checking that it was trained for ``backbone_id`` at ``image_size``.

    Raises:
        BenchError: naming what the file was trained for and what it is being used with.
    """
    header = read_header(path)
    if header["backbone"] != backbone_id:
        raise other_backbone_error(path, header["backbone"], backbone_id)
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
    checked = PromptHeader.model_validate({"format_version": FORMAT_VERSION, **header})
    metadata = {HEADER_KEY: checked.model_dump_json()}
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
        BenchError: as :func:`read_header`, or the tensors cannot be read or hold NaN or inf.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    header = read_header(path)
    try:
        tensors = load_file(str(Path(path).expanduser()))
    except (SafetensorError, OSError) as exc:
        raise PROMPT_FILE.corrupt(Path(path), f"its tensors cannot be read ({exc})") from exc
    for name, tensor in tensors.items():
        if not bool(torch.isfinite(tensor).all()):
            raise PROMPT_FILE.corrupt(Path(path), f"tensor {name!r} holds non-finite values (NaN or inf)")
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
