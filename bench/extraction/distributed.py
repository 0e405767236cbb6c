"""Several processes extracting into one cache (``torchrun`` or ``accelerate launch``).

Each rank extracts its share of the missing images into the shared cache; rank 0 waits for all,
then evaluates and writes the results files. The launcher's environment (``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) decides the world; a process group is created
only when ``WORLD_SIZE`` > 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from bench.api.errors import BenchError

BARRIER_TIMEOUT = timedelta(hours=12)  # rank 0 waits for the slowest rank's extraction


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, indices: list[int]) -> list[int]:
        """This rank's share of ``indices`` (every size-th, starting at rank)."""
        return indices[self.rank :: self.size]

    def barrier(self) -> None:
        """Wait until every rank gets here (no-op for a single process)."""
        if self.size > 1:
            import torch.distributed as dist

            dist.barrier()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BenchError(
            f"{name}={raw!r} is not an integer.", "Launch with torchrun or accelerate launch."
        ) from None


def join_world(device_type: str) -> World:
    """The world the launcher started (a process group is created when WORLD_SIZE > 1).

    Raises:
        BenchError: when the process group's size differs from ``WORLD_SIZE`` (e.g. a launcher
            that silently started one process, or every process believing it is alone).
    """
    size = _env_int("WORLD_SIZE", 1)
    world = World(rank=_env_int("RANK", 0), size=size, local_rank=_env_int("LOCAL_RANK", 0))
    if size == 1:
        return world
    import torch.distributed as dist

    if not dist.is_initialized():
        if device_type == "cuda":  # bind this rank's GPU first: NCCL would guess rank % GPUs and can hang
            import torch

            device = torch.device("cuda", world.local_rank)
            torch.cuda.set_device(device)
            dist.init_process_group(backend="nccl", timeout=BARRIER_TIMEOUT, device_id=device)
        else:
            dist.init_process_group(backend="gloo", timeout=BARRIER_TIMEOUT)
    if dist.get_world_size() != size or dist.get_rank() != world.rank:
        raise BenchError(
            f"The launcher announced {size} processes, but the process group has {dist.get_world_size()}.",
            "Launch with `torchrun --nproc_per_node N -m bench run ...` or "
            "`accelerate launch --multi_gpu --num_processes N -m bench run ...`.",
        )
    return world
