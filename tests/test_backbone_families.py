"""Backbone families (``register_backbone_families``): names resolved by prefix, their errors and
listing. A one-file plugin stands in for a model library, so nothing here imports torch."""

from __future__ import annotations

import json
import textwrap

import pytest

from bench import BackboneFamily, BackboneInfo, BenchError, TapInfo
from bench.registry.components import ComponentTable
from bench.registry.tables import Registry
from tests.helpers.cli import run_bench


def _info(backbone_id: str) -> BackboneInfo:
    return BackboneInfo(
        id=backbone_id,
        target="x:y",
        description="a toy",
        layers=(TapInfo("embed", 8, 0),),
        default_layer="embed",
        weights="random",
        image_size=32,
    )


def _resolve(name: str) -> BackboneInfo:
    if name == "missing":
        raise BenchError("toylib has no model 'missing'.", "Try 'small'.")
    if name == "wrong-id":
        return _info("something-else")
    if name == "crash":
        raise ZeroDivisionError("oops")
    return _info(f"toy:{name}")


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    family = BackboneFamily("toy", _resolve, "toy:<model>", "toy models by name", example="toy:small")
    registry.backbone_families.add(family, "toyplugin")
    registry.backbones.add(_info("registered"), "other")
    return registry


def test_a_family_resolves_a_name_once_and_owns_it(registry):
    info = registry.backbones.get("toy:small")
    assert info.id == "toy:small" and registry.backbones.owner("toy:small") == "toyplugin"
    assert registry.backbones.get("toy:small") is info  # remembered
    assert "toy:small" in registry.backbones and "toy:missing" not in registry.backbones
    assert registry.backbones.ids() == ["registered"]  # listing shows registered ids only


def test_unknown_names_list_the_family_forms(registry):
    with pytest.raises(BenchError) as caught:
        registry.backbones.get("nope:small")
    assert "Unknown backbone 'nope:small'" in str(caught.value)
    assert "Valid backbones: registered." in str(caught.value) and "Also accepted: toy:<model>." in str(
        caught.value
    )
    with pytest.raises(BenchError, match="names no model after 'toy'.\nUse toy:<model>, e.g. toy:small"):
        registry.backbones.get("toy:")
    with pytest.raises(BenchError, match="toylib has no model 'missing'"):
        registry.backbones.get("toy:missing")


def test_a_broken_resolver_is_named(registry):
    with pytest.raises(BenchError, match="resolved backbone 'toy:wrong-id' to"):
        registry.backbones.get("toy:wrong-id")
    with pytest.raises(
        BenchError, match="Plugin 'toyplugin' failed to resolve backbone 'toy:crash': ZeroDivisionError"
    ):
        registry.backbones.get("toy:crash")


def test_two_families_with_one_prefix_are_an_error():
    table = ComponentTable("backbone family", BackboneFamily, "bench list backbones")
    table.add(BackboneFamily("toy", _resolve, "toy:<m>", "one"), "a")
    with pytest.raises(BenchError, match="registered twice: by plugin 'a' and by plugin 'b'"):
        table.add(BackboneFamily("toy", _resolve, "toy:<m>", "two"), "b")


PLUGIN = textwrap.dedent(
    """
    from bench import BackboneFamily, BackboneInfo, TapInfo, hookimpl

    def resolve(name):
        return BackboneInfo(id="toy:" + name, target="x:y", description="toy " + name,
                            layers=(TapInfo("embed", 8, 0, "the toy's vector"),), default_layer="embed",
                            weights="random", image_size=32)

    @hookimpl
    def register_backbone_families(register):
        register(BackboneFamily("toy", resolve, "toy:<model>", "toy models", example="toy:small"))
    """
)


@pytest.mark.slow
def test_bench_list_shows_families_and_a_named_backbones_layers(tmp_path):
    plugin = tmp_path / "toy_family.py"
    plugin.write_text(PLUGIN)
    listed = run_bench("list", "backbones", "--json", "--plugin", str(plugin), subprocess=True)
    assert listed.returncode == 0, listed.stderr
    families = {row["usage"]: row for row in json.loads(listed.stdout)["backbone_families"]}
    assert families["toy:<model>"]["plugin"] == "file:toy_family"
    assert {"timm:<model>[.<tag>]", "open_clip:<arch>/<tag>", "hf:<repo id>"} <= set(families)
    layers = run_bench(
        "list", "layers", "--backbone", "toy:small", "--json", "--plugin", str(plugin), subprocess=True
    )
    assert layers.returncode == 0, layers.stderr
    rows = json.loads(layers.stdout)["layers"]
    assert [(r["backbone"], r["name"], r["description"]) for r in rows] == [
        ("toy:small", "embed", "the toy's vector")
    ]
