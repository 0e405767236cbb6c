"""Schemas at the edges: typed models for every file the toolkit reads, and one message per violation.

Every file format (run and training configurations, learned-prompt headers, results files,
``reported.toml``) is a pydantic model with ``extra="forbid"`` and strict types, used by its writer
and its reader alike. :func:`schema_error` turns a :class:`pydantic.ValidationError` into one
:class:`~bench.api.errors.BenchError` that names the file, the key, what the key holds and what is
allowed; :func:`check_nesting` (and :mod:`bench.api.bounded_read`, which reads the file) bound what a
file from elsewhere can make the reader do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from bench.api.errors import BenchError, closest_match

MAX_NESTING = 16  # containers inside containers; no file of the toolkit needs more than 5
MAX_NODES = 1_000_000  # values in one file (a YAML alias bomb expands to far more)
MAX_NAME_LENGTH = 500  # characters in an id, a layer expression or a prompt

# The settings every schema shares: unknown keys are errors, types are not coerced ("4" is not 4),
# floats are finite.
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class SchemaModel(BaseModel):
    """Base of the file schemas: strict, closed (no unknown keys), immutable."""

    model_config = STRICT


def _as_tuple(value: Any) -> Any:
    """A list as a tuple and a single value as a 1-tuple (files write lists; one value means one)."""
    if isinstance(value, list):
        return tuple(value)
    return value if isinstance(value, tuple) else (value,)


def _no_control_characters(value: str) -> str:
    if any(ord(char) < 32 for char in value):
        raise ValueError("it holds a control character (newline, tab, escape, ...)")
    return value


Name = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME_LENGTH, description="a non-empty name on one line"),
    AfterValidator(_no_control_characters),
]


def _path_text(value: Any) -> Any:
    """A ``pathlib.Path`` (any ``os.PathLike``) as its text: Python callers pass paths as either."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


PathText = Annotated[
    str,
    BeforeValidator(_path_text),
    Field(min_length=1, max_length=4096, description="a path (text)"),
]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1, description="an integer from 0 to 2**63 - 1")]
Count = Annotated[int, Field(ge=1, le=2**31 - 1, description="an integer >= 1")]
Size = Annotated[int, Field(ge=8, le=8192, description="a size in pixels, 8 to 8192")]
Timestep = Annotated[int, Field(ge=0, le=1_000_000, description="a timestep (an integer >= 0)")]
# JSON leaves: what dataset options, adapter facts and ablation values may be
Scalar = str | bool | int | float


def as_tuple_of(item: Any) -> Any:
    """``tuple[item, ...]`` that also accepts a list or a single item (as a file writes them)."""
    return Annotated[tuple[item, ...], BeforeValidator(_as_tuple)]


def _type_name(value: object) -> str:
    """What a value is, in a user's words."""
    names = {
        bool: "true/false",
        int: "an integer",
        float: "a number",
        str: "text",
        list: "a list",
        tuple: "a list",
        dict: "a table",
        type(None): "nothing",
    }
    return names.get(type(value), type(value).__name__)


def _shown(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _described(items: Any) -> str | None:
    """The first ``description`` among ``Field(...)`` metadata items, or None."""
    return next((item.description for item in items if getattr(item, "description", None)), None)


def _description_in(annotation: Any) -> str | None:
    """The ``Field(description=...)`` of an annotation (``Annotated``, or one within an optional)."""
    found = _described(getattr(annotation, "__metadata__", ()))
    if found or get_origin(annotation) not in (Union, UnionType):
        return found
    return next(filter(None, map(_description_in, get_args(annotation))), None)


def field_description(model: type | None, key: object) -> str | None:
    """What the schema ``model`` allows for its field ``key`` (its ``Field(description=...)``,
    ``"an integer from 1 to 1024"``), or None."""
    fields = getattr(model, "__pydantic_fields__", None) or {}
    info = fields.get(key) if isinstance(key, str) else None
    if info is None:
        return None
    # Annotated[..., Field(description=...)] at the top keeps it in the field's metadata
    return info.description or _described(info.metadata) or _description_in(info.annotation)


# pydantic's words -> the words of a config file
PLAIN_WORDS = {
    "Input should be": "should be",
    "List should have": "should have",
    "Dictionary should have": "should have",
    "String should have": "should have",
    " after validation": "",
    "a valid dictionary": "a table (key = value)",
    "a valid list": "a list",
    "a valid tuple": "a list",
    "a valid string": "text",
    "a valid integer": "an integer",
    "a valid number": "a number",
    "a valid boolean": "true or false",
}


def _allowed(error: dict[str, Any], model: type | None) -> str:
    """What the key of ``error`` allows: the field's description, or pydantic's own words."""
    kind = error["type"]
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "not a key of this file"
    if kind == "missing" or kind == "missing_argument":
        return "required"
    description = field_description(model, error["loc"][0] if error["loc"] else None)
    message = error["msg"].removeprefix("Value error, ")
    for words, plain in PLAIN_WORDS.items():
        message = message.replace(words, plain)
    if description and len(error["loc"]) == 1:
        return f"{message}; allowed: {description}" if kind == "value_error" else f"allowed: {description}"
    return message


# the labels pydantic puts in an error's location for the member of a union that failed
_UNION_TAGS = {
    "int",
    "float",
    "str",
    "bool",
    "none",
    "list",
    "dict",
    "tuple",
    "constrained-str",
    "constrained-int",
}


def _is_union_tag(part: object) -> bool:
    if not isinstance(part, str) or part == "[key]":
        return False
    return part in _UNION_TAGS or ("[" in part and part.endswith("]"))


def _key(loc: tuple[Any, ...], key_name: Callable[[str], str]) -> str:
    if not loc:
        return "(the whole file)"
    text = key_name(str(loc[0]))
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def schema_error(
    exc: ValidationError,
    source: str,
    *,
    model: type | None = None,
    key_name: Callable[[str], str] = str,
    hint: str | None = None,
) -> BenchError:
    """One :class:`BenchError` for every violation in ``exc``.

    Args:
        exc: what pydantic found.
        source: the file (or ``"the command line"``) the values came from.
        model: the schema, whose field descriptions say what each key allows.
        key_name: how a top-level key is written where it came from (e.g. ``--batch-size``).
        hint: what to do next (default: fix the keys named).
    """
    lines = []
    valid_keys: list[str] = []
    union_members: dict[tuple, tuple[Any, list[str]]] = {}  # key -> (value, what each member allows)
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
        key = _key(loc, key_name)
        if loc and loc[-1] == "[key]":
            lines.append(f"{_key(loc[:-1], key_name)} is not an allowed key: {_allowed(error, None)}")
            continue
        if error["type"] in ("missing", "missing_argument"):
            lines.append(f"{key} is missing (required)")
            continue
        if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            fields = getattr(model, "__pydantic_fields__", None) or {}
            guess = None
            if len(loc) == 1:
                valid_keys = [key_name(name) for name in fields]
                guess = closest_match(key, valid_keys)
            lines.append(f"{key} is not a valid key" + (f" (did you mean {guess!r}?)" if guess else ""))
            continue
        if len(loc) != len(error["loc"]):  # one member of a union: said once, with the others
            value, allowed = union_members.setdefault(loc, (error.get("input"), []))
            allowed.append(_allowed(error, model).removeprefix("should be "))
            continue
        value = error.get("input")
        lines.append(f"{key} = {_shown(value)} ({_type_name(value)}): {_allowed(error, model)}")
    for loc, (value, allowed) in union_members.items():
        *others, last = dict.fromkeys(allowed)
        choices = f"{', '.join(others)} or {last}" if others else last
        lines.append(f"{_key(loc, key_name)} = {_shown(value)} ({_type_name(value)}): should be {choices}")
    lines = list(dict.fromkeys(lines))  # a problem reported twice (e.g. by two validators) is said once
    if len(lines) == 1:
        message = f"{source}: {lines[0]}."
    else:
        message = f"{source} has {len(lines)} problems:\n" + "\n".join(f"  - {line}" for line in lines)
    if hint is None:
        hint = f"Valid keys: {', '.join(valid_keys)}." if valid_keys else "Fix the value(s) named above."
    return BenchError(message, hint)


def _check_keys_are_text(data: dict[Any, Any], source: str) -> None:
    """Raise :class:`BenchError` naming the first key of ``data`` that is not text (YAML reads
    ``1: x`` or ``true: x`` as a number or a boolean key)."""
    odd = next((key for key in data if not isinstance(key, str)), None)
    if odd is not None:
        raise BenchError(
            f"{source}: key {_shown(odd)} ({_type_name(odd)}) is not a setting name.",
            "Keys are setting names (text); in YAML, quote a key that reads as a number or true/false.",
        )


def validated(
    model: type, data: Any, source: str, *, context: dict[str, Any] | None = None, **kwargs: Any
) -> Any:
    """``model`` validated from ``data`` (``context``: what its validators may read, e.g. the
    registered metrics); :class:`BenchError` (see :func:`schema_error`) otherwise."""
    try:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate(data, context=context)
        if not isinstance(data, dict):
            raise BenchError(
                f"{source}: expected a table of keys, got {_type_name(data)}.",
                "Write key = value settings at the top level of the file.",
            )
        _check_keys_are_text(data, source)
        return model(**data)
    except ValidationError as exc:
        raise schema_error(exc, source, model=model, **kwargs) from None


def check_nesting(value: Any, source: str, limit: int = MAX_NESTING) -> None:
    """Raise :class:`BenchError` when ``value`` nests containers deeper than ``limit``, or holds more
    than :data:`MAX_NODES` values (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    visited = 0
    while stack:
        item, depth = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise BenchError(
                f"{source} holds more than {MAX_NODES:,} values.",
                "This is not a file sbir-bench wrote; check where it came from.",
            )
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, (list, tuple)):
            children = list(item)
        else:
            continue
        if depth >= limit:
            raise BenchError(
                f"{source} nests tables or lists more than {limit} levels deep.",
                "This is not a file sbir-bench wrote; check where it came from.",
            )
        stack.extend((child, depth + 1) for child in children)
