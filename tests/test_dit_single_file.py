"""SD3 and FLUX transformers from single-file checkpoints, in the key layouts their publishers use
(Stability AI's MMDiT, under ``model.diffusion_model.`` and bundled with other parts; Black Forest
Labs' FLUX.1), with the other parts from a diffusers folder (``--weights ID=FILE+DIR``)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save_file

from bench import BenchError, PromptCondition
from tests.helpers.cli import run_bench
from tests.helpers.dit_models import CPU, bfl_state, mmdit_state, save_tiny, tiny

FEATURES = {"timesteps": [500], "noise_samples": 1, "noise_seeds": [1, 2], "condition": PromptCondition()}


def _contiguous(state: dict) -> dict:
    return {key: value.contiguous() for key, value in state.items()}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """Per family: the tiny model, its diffusers folder and its single file in the original layout
    (SD3's with the LDM prefix and a bundled VAE tensor, as Stability AI's files bundle parts)."""
    root = tmp_path_factory.mktemp("dit-single-files")
    made = {}
    for backbone_id, original in (("sd3-tiny", mmdit_state), ("flux-tiny", bfl_state)):
        model = tiny(backbone_id)
        folder = root / backbone_id
        save_tiny(model, folder)
        state = original(model.transformer)
        if backbone_id == "sd3-tiny":
            state = {f"model.diffusion_model.{key}": value for key, value in state.items()}
            state["first_stage_model.encoder.conv_in.weight"] = torch.zeros(4, 3, 3, 3)
        file = root / f"{backbone_id}.safetensors"
        save_file(_contiguous(state), str(file))
        others = root / f"{backbone_id}-without-transformer-weights"  # as people keep it beside the file
        shutil.copytree(folder, others, ignore=shutil.ignore_patterns("diffusion_pytorch_model*.safetensors"))
        shutil.copytree(folder / "vae", others / "vae", dirs_exist_ok=True)
        made[backbone_id] = SimpleNamespace(model=model, folder=folder, file=file, others=others)
    return made


def _pretrained(monkeypatch, backbone_id: str, default: str) -> SimpleNamespace:
    """A registered-like id with ``backbone_id``'s architecture and ``default`` as its weights."""
    from bench_dit.architecture import VARIANTS

    test_id = backbone_id.replace("tiny", "test")
    monkeypatch.setitem(VARIANTS, test_id, replace(VARIANTS[backbone_id], id=test_id, weights=default))
    return SimpleNamespace(id=test_id)


@pytest.mark.slow
@pytest.mark.parametrize(("backbone_id", "tap"), [("sd3-tiny", "jb3"), ("flux-tiny", "sb1")])
def test_original_layout_file_gives_the_folders_features(layouts, monkeypatch, backbone_id, tap):
    """FILE+DIR and plain FILE (the other parts from the default weights) load the transformer the
    file holds: the same features as the folder it was written from."""
    from bench_dit.loaders import build_pretrained

    made = layouts[backbone_id]
    info = _pretrained(monkeypatch, backbone_id, str(made.folder))
    pixels = torch.rand(2, 3, 32, 32) * 2 - 1
    expected = made.model.features(pixels, [tap], **FEATURES)[500][tap]
    for weights in (f"{made.file}+{made.others}", str(made.file)):
        loaded = build_pretrained(info, weights=weights, device=CPU, dtype=torch.float32, image_size=32)
        assert not any(p.is_meta for p in loaded.transformer.parameters())
        assert torch.allclose(loaded.features(pixels, [tap], **FEATURES)[500][tap], expected, atol=1e-6)


def test_a_diffusers_layout_file_loads_as_it_is(layouts, monkeypatch, tmp_path):
    from bench_dit.loaders import build_pretrained

    made = layouts["flux-tiny"]
    file = tmp_path / "converted.safetensors"
    save_file(_contiguous(made.model.transformer.state_dict()), str(file))
    info = _pretrained(monkeypatch, "flux-tiny", str(made.folder))
    loaded = build_pretrained(info, weights=str(file), device=CPU, dtype=torch.float32, image_size=32)
    for name, value in made.model.transformer.state_dict().items():
        assert torch.equal(loaded.transformer.state_dict()[name], value), name


def test_a_file_of_another_architecture_is_refused_naming_the_backbone_it_fits(layouts, monkeypatch):
    from bench_dit.weights import check_weights

    made = layouts["flux-tiny"]
    _pretrained(monkeypatch, "sd3-tiny", str(layouts["sd3-tiny"].folder))
    with pytest.raises(BenchError) as refused:
        check_weights(f"{made.file}+{layouts['sd3-tiny'].folder}", "sd3-test")
    message = " ".join(str(refused.value).split())
    assert "holds a FLUX.1 transformer with 2 joint and 2 single-stream blocks" in message
    assert "not sd3-test's (an SD3 / SD3.5 MMDiT with 4 joint blocks)" in message
    assert "Use --backbone flux-tiny with this file" in message


def test_a_truncated_or_incomplete_file_is_one_message(layouts, monkeypatch, tmp_path):
    from bench_dit.loaders import build_pretrained
    from bench_dit.weights import check_weights

    made = layouts["flux-tiny"]
    info = _pretrained(monkeypatch, "flux-tiny", str(made.folder))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(made.file.read_bytes()[:100])
    with pytest.raises(BenchError, match="cannot be read"):
        check_weights(str(truncated), info.id)
    state = bfl_state(made.model.transformer)
    state.pop("single_blocks.1.linear2.weight")
    incomplete = tmp_path / "incomplete.safetensors"
    save_file(_contiguous(state), str(incomplete))
    missing = r"1 tensor missing \(single_transformer_blocks\.1\.proj_out\.weight\)"
    with pytest.raises(BenchError, match=missing):
        build_pretrained(info, weights=str(incomplete), device=CPU, dtype=torch.float32, image_size=32)


def test_the_command_line_checks_the_file_before_loading_anything(layouts, tmp_path):
    absent = run_bench(
        "run", "--backbone", "flux1-dev", "--weights", f"flux1-dev={tmp_path / 'x.safetensors'}"
    )
    assert absent.returncode == 1 and "Traceback" not in absent.stderr
    assert "x.safetensors' for backbone 'flux1-dev' does not exist" in " ".join(absent.stderr.split())
    other = run_bench("run", "--backbone", "flux1-dev", "--weights", f"flux1-dev={layouts['flux-tiny'].file}")
    message = " ".join(other.stderr.split())
    assert other.returncode == 1 and "Traceback" not in other.stderr
    assert "not flux1-dev's (a FLUX.1 transformer with 19 joint and 38 single-stream blocks)" in message


@pytest.mark.slow
def test_flux_conversion_equals_diffusers_at_flux1_width():
    """diffusers' own FLUX converter assumes FLUX.1's width (3072); at that width the plugin's
    converter (which reads every width from the tensors) gives the same tensors, name for name.
    One double and one single block of FLUX.1-dev's shapes, filled with distinct int16 values."""
    from bench_dit.architecture import VARIANTS
    from bench_dit.single_file import flux_to_diffusers
    from diffusers import FluxTransformer2DModel
    from diffusers.loaders.single_file_utils import convert_flux_transformer_checkpoint_to_diffusers

    config = {**VARIANTS["flux1-dev"].transformer, "num_layers": 1, "num_single_layers": 1}
    with torch.device("meta"):
        shapes = {key: value.shape for key, value in bfl_state(FluxTransformer2DModel(**config)).items()}
    generator = torch.Generator().manual_seed(0)
    state = {
        key: torch.randint(-(2**15), 2**15 - 1, shape, dtype=torch.int16, generator=generator)
        for key, shape in shapes.items()
    }
    ours = flux_to_diffusers(dict(state))
    theirs = convert_flux_transformer_checkpoint_to_diffusers(dict(state))
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        assert torch.equal(ours[key], value), key
