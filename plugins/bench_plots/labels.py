"""Settings from results files as words for figure titles (never raw JSON). Pure Python."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

OPTIONS = "dataset_options"  # shown beside the dataset in every title, not as a variant
SETTING_NAMES = {
    "noise_samples": "noise draws",
    "image_size": "image size",
    "query_text": "query text",
    "dataset_options": "dataset options",
}


def setting_name(name: str) -> str:
    """``noise_samples`` -> ``noise draws``; other settings with spaces for underscores."""
    return SETTING_NAMES.get(name, name.replace("_", " "))


def setting_value(value: Any) -> str:
    """A configuration value as text: ``num_unseen=4, photos_per_class=8`` for a mapping
    (``default`` when empty), lists joined by commas, ``none`` for null, numbers as written."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{key}={setting_value(item)}" for key, item in sorted(value.items())) or "default"
    if isinstance(value, (list, tuple)):
        return ", ".join(setting_value(item) for item in value)
    return str(value)


def options_text(options: dict[str, Any] | None) -> str:
    """Dataset options as ``num_unseen=4, photos_per_class=8``; empty (the defaults) -> ``""``."""
    return setting_value(options) if options else ""


GroupKey = tuple[str, str, str]  # (what a panel is, part 1 and 2; the group's other settings as JSON)


def variant_labels(groups: Iterable[GroupKey]) -> dict[GroupKey, tuple[tuple[str, str], ...]]:
    """For each group, ``(setting, value as text)`` of the settings whose values differ among the
    groups of its panel (the groups that share the key's first two parts), dataset options aside."""
    keys = list(groups)
    labels = {}
    for key in keys:
        siblings = [json.loads(other[2]) for other in keys if other[:2] == key[:2]]
        own = json.loads(key[2])
        varying = sorted(
            {
                name
                for sibling in siblings
                for name in sibling
                if sibling.get(name) != own.get(name) and name != OPTIONS
            }
        )
        labels[key] = tuple((name, setting_value(own.get(name))) for name in varying)
    return labels
