"""The GPU code paths, checked on a CPU-only machine (issue 17, item 14).

What a GPU would do is observed through monkeypatched ``torch.cuda`` / ``torch.distributed``
functions (no process is started, no GPU is needed): the order of ``set_device`` and
``init_process_group``, which device each rank takes, when batches are pinned, and the precision
flags a dtype name sets. The CPU path is checked against the code it replaced: the same noise, bit
for bit, and no pinning. Throughput on a GPU is measured by ``benchmarks/gpu_throughput.py``.
"""

from __future__ import annotations

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

    monkeypatch.setattr(devices, "resolve_device", lambda name: torch.device(name))
    spec = SimpleNamespace(device="cuda", dtype="bf16", cache_dir=str(tmp_path), cache_dtype="fp16")
    runner = StudyRunner(SimpleNamespace(sweeps=[SimpleNamespace(spec=spec)]), registry=None)
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
