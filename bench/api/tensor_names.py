"""Weights must fill a model exactly: what every plugin loader checks (no torch imported).

A tensor the model has and the weights lack keeps the model's initial value (random, or under a
library's empty-weights initialisation whatever memory held); a tensor the weights hold and the
model lacks is dropped. Either way the features are not the named weights', yet they would be
recorded under the weights' identity. Loaders compare what they load with the model (a state dict,
a converted checkpoint, a library's loading report, or the error of a strict load) and refuse a
mismatch with one message that names the tensors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.api.errors import BenchError
from bench.api.library_notices import (
    NO_ACCELERATE,
    diffusers_notices_silenced,
    transformers_loading_bar_hidden,
)

SHOWN = 4
"""Tensor names quoted of each kind (the rest are counted)."""

_STRICT_LINE = re.compile(r"(Missing|Unexpected) key\(s\) in state_dict: (.*)")
_QUOTED = re.compile(r'"([^"]+)"')


@dataclass(frozen=True)
class TensorGaps:
    """How loaded weights and a model differ, by tensor name (each sorted).

    Attributes:
        missing: tensors of the model the weights do not hold.
        unexpected: tensors of the weights the model does not have.
    """

    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected)

    def describe(self) -> str:
        """``"1 tensor missing (conv_in.weight), 2 unexpected (a.weight, a.bias)"``."""
        parts = []
        for names, kind in ((self.missing, "missing"), (self.unexpected, "unexpected")):
            if names:
                more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
                noun = "tensor" if len(names) == 1 else "tensors"
                parts.append(f"{len(names)} {noun} {kind} ({', '.join(names[:SHOWN])}{more})")
        return ", ".join(parts)


def tensor_gaps(
    expected: Iterable[str], provided: Iterable[str], tolerated: Iterable[str] = ()
) -> TensorGaps:
    """The names in ``expected`` but not ``provided`` and the reverse; ``tolerated`` names may be
    provided without being expected."""
    expected, provided = set(expected), set(provided)
    return TensorGaps(tuple(sorted(expected - provided)), tuple(sorted(provided - expected - set(tolerated))))


def model_gaps(model: Any, provided: Iterable[str]) -> TensorGaps:
    """``provided`` tensor names against ``model.state_dict()`` (a ``torch.nn.Module``). Names of
    non-persistent buffers (never saved, but held by older files, e.g. CLIP's ``position_ids``)
    may be provided."""
    expected = set(model.state_dict())
    transient = {name for name, _ in model.named_buffers()} - expected
    return tensor_gaps(expected, provided, transient)


def loading_info_gaps(info: Mapping[str, Iterable[str]]) -> TensorGaps:
    """The gaps a diffusers or transformers ``from_pretrained(..., output_loading_info=True)``
    reports (its ``missing_keys`` and ``unexpected_keys``, after the library's own allowances)."""
    return TensorGaps(
        tuple(sorted(info.get("missing_keys", ()))), tuple(sorted(info.get("unexpected_keys", ())))
    )


def strict_load_gaps(exc: BaseException) -> TensorGaps:
    """The gaps a strict ``torch.nn.Module.load_state_dict`` names in its error (a library that
    loads strictly, like open_clip, raises it); empty for any other error."""
    found: dict[str, tuple[str, ...]] = {"Missing": (), "Unexpected": ()}
    for line in str(exc).splitlines():
        if match := _STRICT_LINE.search(line):
            found[match[1]] = tuple(sorted(_QUOTED.findall(match[2])))
    return TensorGaps(found["Missing"], found["Unexpected"])


def require_complete(gaps: TensorGaps, what: str, hint: str) -> None:
    """Refuse weights that do not fill the model exactly.

    Args:
        what: the weights and the model, e.g. ``"The UNet weights 'x.safetensors' of backbone 'sd15'"``.
        hint: what to do next.

    Raises:
        BenchError: ``"<what> do not match the model: 1 tensor missing (conv_in.weight)..."``.
    """
    if not gaps:
        return
    consequence = " (a missing tensor would keep a random value)" if gaps.missing else ""
    raise BenchError(f"{what} do not match the model: {gaps.describe()}{consequence}.", hint)


def load_complete(
    model: Any, state: Mapping[str, Any], what: str, hint: str, *, assign: bool = False
) -> None:
    """Load ``state`` into ``model`` (a ``torch.nn.Module``) when it fills it exactly, else refuse.

    Non-persistent buffers in ``state`` are skipped (see :func:`model_gaps`); ``assign`` keeps the
    state's tensors (a model built on the meta device).

    Raises:
        BenchError: tensors missing or unexpected (named), or of other shapes than the model's.
    """
    require_complete(model_gaps(model, state), what, hint)
    kept = set(model.state_dict())
    try:
        model.load_state_dict({k: v for k, v in state.items() if k in kept}, strict=True, assign=assign)
    except RuntimeError as exc:  # shapes that differ from the model's
        reason = str(exc).strip().splitlines()[-1].strip()
        raise BenchError(f"{what} do not match the model: {reason}", hint) from exc


def from_pretrained_part(model_class: Any, source: str, part: str, weights: str, **options: Any) -> Any:
    """The ``part/`` subfolder of a diffusers folder or hub id ``source`` as ``model_class`` (a
    diffusers or transformers class, ``from_pretrained`` with ``options``), refused when its files do
    not fill the model: the library only warns, and leaves such a tensor random or uninitialised.

    Args:
        weights: what the user named (in the message).

    Raises:
        BenchError: tensors missing or unexpected, named (see :func:`require_complete`).
    """
    with transformers_loading_bar_hidden(model_class), diffusers_notices_silenced(NO_ACCELERATE):
        model, info = model_class.from_pretrained(source, subfolder=part, output_loading_info=True, **options)
    require_complete(
        loading_info_gaps(info),
        f"The {part}/ weights of {weights!r}",
        f"Copy or download the whole {part}/ folder again (a truncated download or an edited file "
        "leaves tensors out), or pass the weights of this backbone.",
    )
    return model
