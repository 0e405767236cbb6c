"""The GPU code paths, checked on a CPU-only machine (issue 17, item 14).

What a GPU would do is observed through monkeypatched ``torch.cuda`` / ``torch.distributed``
functions (no process is started, no GPU is needed): the order of ``set_device`` and
``init_process_group``, which device each rank takes, when batches are pinned, and the precision
flags a dtype name sets. The CPU path is checked against the code it replaced: the same noise, bit
for bit, and no pinning. Throughput on a GPU is measured by ``benchmarks/gpu_throughput.py``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from bench import BenchError
from bench.extraction.distributed import World, join_world, rank_device


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """``torch.cuda`` and ``torch.distributed`` stand-ins that record their calls in order, for a
    node with 4 GPUs and a world of 4 processes in which this process is rank 2."""
    calls: list[tuple] = []
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "2")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: calls.append(("set_device", device)))
    initialized: list[bool] = [False]

    def init_process_group(**kwargs) -> None:
        calls.append(("init_process_group", kwargs.get("backend"), kwargs.get("device_id")))
        initialized[0] = True

    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: initialized[0])
    monkeypatch.setattr(torch.distributed, "init_process_group", init_process_group)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 4)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 2)
    return calls


@pytest.mark.parametrize("device", ["cuda", torch.device("cuda"), torch.device("cuda", 2)])
def test_join_world_binds_the_local_rank_gpu_before_the_process_group(fake_cuda, device) -> None:
    world = join_world(device)
    assert world == World(rank=2, size=4, local_rank=2)
    assert fake_cuda == [
        ("set_device", torch.device("cuda", 2)),
        ("init_process_group", "nccl", torch.device("cuda", 2)),
    ]


def test_join_world_on_cpu_ranks_uses_gloo_and_no_gpu(fake_cuda) -> None:
    join_world(torch.device("cpu"))
    assert fake_cuda == [("init_process_group", "gloo", None)]


def test_one_process_creates_no_process_group(fake_cuda, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert join_world("cuda").size == 1
    assert fake_cuda == []


def test_the_runner_computes_on_the_gpu_join_world_bound(
    fake_cuda, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from types import SimpleNamespace

    from bench.execution.runner import StudyRunner
    from bench.extraction import devices
    from bench.plan.settings import ExecutionSettings

    monkeypatch.setattr(devices, "resolve_device", lambda name: torch.device(name))
    settings = ExecutionSettings(device="cuda", dtype="bf16", cache_dir=str(tmp_path), cache_dtype="fp16")
    registry = SimpleNamespace(evaluation_specs=lambda: None)  # no run is scored here
    runner = StudyRunner(SimpleNamespace(settings=settings), registry=registry)
    assert runner.device == torch.device("cuda", 2)
    assert fake_cuda[0] == ("set_device", torch.device("cuda", 2))
    assert fake_cuda[1] == ("init_process_group", "nccl", torch.device("cuda", 2))


def test_rank_device_refuses_what_would_share_or_miss_a_gpu(
    fake_cuda, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(rank=2, size=4, local_rank=2)
    with pytest.raises(BenchError, match="computes on cuda:2"):
        rank_device(torch.device("cuda", 0), world)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(BenchError, match="LOCAL_RANK 2 has no GPU"):
        rank_device(torch.device("cuda"), world)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # CUDA_VISIBLE_DEVICES per rank
    assert rank_device(torch.device("cuda"), world) == torch.device("cuda", 0)
    assert rank_device(torch.device("cpu"), world) == torch.device("cpu")
    assert rank_device(torch.device("cuda", 3), World()) == torch.device("cuda", 3)


# --- host-to-device copies, noise and descriptor copies: the CPU path is the code it replaced ---

SIZE = 64
LAYERS = ("up1", "up0+up1")  # one UNet pass that stops after up_blocks[1]
TIMESTEPS = (200,)


@pytest.fixture(scope="module")
def sd_tiny(registry):
    import bench

    return bench.load_backbone("sd-tiny", device="cpu", image_size=SIZE, registry=registry)


@pytest.fixture(scope="module")
def dataset():
    from bench_datasets.synthetic import SyntheticCategory

    return SyntheticCategory(num_unseen=2, photos_per_class=3, image_size=SIZE)


def _request(registry, batch_size: int = 4):
    from bench import PromptCondition
    from bench.extraction.loop import ExtractionRequest
    from bench.plan.layers import resolve_layer
    from bench.plan.settings import ExecutionSettings

    info = registry.backbones.get("sd-tiny")
    plans = tuple(resolve_layer(layer, info, registry.layer_selectors) for layer in LAYERS)
    return ExtractionRequest(
        plans, TIMESTEPS, 2, PromptCondition(), ExecutionSettings(seed=5, batch_size=batch_size)
    )


@pytest.mark.parametrize("latent_shape", [(4, 8, 8), (4, 3, 5), (1, 1, 3)])
def test_noise_is_the_per_image_randn_it_was_bit_for_bit(sd_tiny, latent_shape) -> None:
    """Each image's draws are ``torch.randn((N, *shape), generator=seeded)``, as before the change
    (the CPU generator on every device, so CPU and GPU runs add the same noise), for SD and DiT."""
    from tests.helpers.dit_models import tiny

    seeds = [3, 2**40 + 7, 3]
    before = torch.stack(
        [torch.randn((3, *latent_shape), generator=torch.Generator().manual_seed(seed)) for seed in seeds]
    )
    for model in (sd_tiny.model, tiny("sd3-tiny")):  # the SD UNet and the diffusion transformers
        noise = model.draw_noise(latent_shape, 3, seeds)
        assert noise.dtype == torch.float32 and not noise.is_pinned()
        assert torch.equal(noise, before)


def _descriptors_as_before(sd_tiny, dataset, items, request) -> dict:
    """The descriptors as the loop computed them before the change: the CPU pixels, one
    ``.cpu().numpy()`` per layer, in batches of ``request.settings.batch_size``."""
    import numpy as np

    from bench.extraction.digests import image_digest, noise_seed
    from bench.extraction.features import layer_features
    from bench.extraction.pooling import descriptor

    out: dict = {}
    batch_size = request.settings.batch_size
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        images = [dataset.load_image(item) for item in batch]
        features = layer_features(
            sd_tiny,
            sd_tiny.preprocess(images),
            modality=batch[0].modality,
            layers=request.layers,
            timesteps=request.timesteps,
            noise_samples=request.noise_samples,
            noise_seeds=[noise_seed(request.settings.seed, image_digest(image)) for image in images],
            prompt=request.prompt,
        )
        pools = {plan.name: plan.pool for plan in request.layers}
        for (t, name), taps in features.items():
            out.setdefault((t, name), []).append(descriptor(taps, pools[name]).cpu().numpy())
    return {key: np.concatenate(rows) for key, rows in out.items()}


def test_cpu_extraction_never_pins_copies_once_per_batch_and_is_unchanged(
    sd_tiny, registry, dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from bench.extraction.loop import extract_descriptors

    items = dataset.split("gallery")[:4]
    request = _request(registry, batch_size=2)  # two batches of one shape (one warm-up)
    with torch.inference_mode():
        before = _descriptors_as_before(sd_tiny, dataset, items, request)

    def refuse(self, *args, **kwargs):
        raise AssertionError("a CPU run pinned memory")

    copies: list[tuple] = []
    cpu = torch.Tensor.cpu

    def counting_cpu(self, *args, **kwargs):
        copies.append(tuple(self.shape))
        return cpu(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "pin_memory", refuse)
    monkeypatch.setattr(torch.Tensor, "cpu", counting_cpu)
    one_reader = replace(request, settings=replace(request.settings, workers=1))
    after = extract_descriptors(sd_tiny, dataset, items, one_reader).descriptors
    monkeypatch.undo()
    assert len(copies) == 2  # one host copy per batch, for both layers
    assert sorted(after) == sorted(before)
    for key in before:
        assert np.array_equal(after[key], before[key]), key


def test_the_loader_pins_batches_bound_for_cuda_only(
    sd_tiny, dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.extraction.loop import BatchLoader
    from bench.extraction.transfer import model_device
    from bench.plan.settings import ExecutionSettings

    pinned: list[tuple] = []
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: pinned.append(tuple(self.shape)) or self)
    monkeypatch.setattr(torch.Tensor, "is_pinned", lambda self: False)
    items = dataset.split("gallery")[:3]
    for device, expected in ((torch.device("cpu"), []), (torch.device("cuda", 1), [(3, 3, SIZE, SIZE)])):
        settings = ExecutionSettings(seed=5, workers=0, strict=True)
        loader = BatchLoader(sd_tiny, dataset, items, [None] * 3, settings, device=device)
        pinned.clear()
        loader.load([0, 1, 2])
        assert pinned == expected
    assert model_device(sd_tiny.model) == torch.device("cpu")
    assert model_device(type("M", (), {"device": "cuda:1"})()) == torch.device("cuda", 1)
    assert model_device(object()) is None  # a plugin that does not say: nothing is pinned


def test_to_host_splits_one_copy_back_into_every_key() -> None:
    import numpy as np

    from bench.extraction.transfer import to_host

    rows = {(50, "a"): torch.arange(6.0).reshape(2, 3), (200, "b"): torch.arange(4.0).reshape(2, 2)}
    host = to_host(rows)
    assert list(host) == list(rows)
    for key, value in rows.items():
        assert np.array_equal(host[key], value.numpy())
    assert to_host({}) == {}


# --- TF32: only when asked for, only on CUDA, recorded as its own dtype ---


@pytest.fixture
def precision_flags():
    """Restore torch's float32 precision settings after a test changes them."""
    saved = (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision)
    yield
    torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision = saved


def _flags() -> tuple[str, str]:
    return torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision


def test_tf32_only_when_asked_for_on_cuda(precision_flags, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.extraction.devices import resolve_dtype

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    cuda = torch.device("cuda", 0)
    assert resolve_dtype("tf32", cuda) == torch.float32 and _flags() == ("tf32", "tf32")
    assert resolve_dtype("fp32", cuda) == torch.float32 and _flags() == ("ieee", "ieee")
    assert resolve_dtype("bf16", cuda) == torch.bfloat16 and _flags() == ("ieee", "ieee")
    torch.backends.cuda.matmul.fp32_precision = "none"
    torch.backends.cudnn.conv.fp32_precision = "tf32"  # torch's defaults
    assert resolve_dtype("fp32", torch.device("cpu")) == torch.float32
    assert _flags() == ("none", "tf32")  # a CPU run sets nothing: its numbers are torch's defaults'


def test_tf32_is_refused_where_it_would_not_be_tf32(precision_flags, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.extraction.devices import resolve_dtype

    with pytest.raises(BenchError, match="tf32 is a CUDA tensor-core mode"):
        resolve_dtype("tf32", torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 0))
    with pytest.raises(BenchError, match="compute capability 8.0"):
        resolve_dtype("tf32", torch.device("cuda", 0))


def test_tf32_is_a_dtype_of_its_own_in_the_run_identity() -> None:
    from bench.api.choices import DTYPE_NAMES
    from bench.config.run_config import SweepSpec

    assert "tf32" in DTYPE_NAMES
    assert SweepSpec(dtype="tf32").dtype == "tf32"
