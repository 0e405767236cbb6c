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
from typing import TYPE_CHECKING

from bench.api.errors import BenchError

if TYPE_CHECKING:
    import torch

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


def launched_world() -> World:
    """This process's place as the launcher's environment announces it (no process group is made)."""
    return World(
        rank=_env_int("RANK", 0), size=_env_int("WORLD_SIZE", 1), local_rank=_env_int("LOCAL_RANK", 0)
    )


def rank_device(device: torch.device, world: World) -> torch.device:
    """The device this rank computes on: in a world of several processes, a CUDA device is this
    rank's ``cuda:LOCAL_RANK``, or ``cuda:0`` where each process sees one GPU only (a launcher that
    sets ``CUDA_VISIBLE_DEVICES`` per rank); any other device as given.

    Raises:
        BenchError: an explicit ``cuda:N`` other than that device (ranks would share a GPU), or a
            local rank with no GPU of its own (more processes per node than GPUs).
    """
    import torch

    if world.size == 1 or device.type != "cuda":
        return device
    count = torch.cuda.device_count()
    if world.local_rank >= count > 1:
        raise BenchError(
            f"LOCAL_RANK {world.local_rank} has no GPU: this node has {count} CUDA devices.",
            f"Start at most {count} processes per node (torchrun --nproc_per_node {count}).",
        )
    own = torch.device("cuda", world.local_rank if world.local_rank < count else 0)
    if device.index is not None and device.index != own.index:
        raise BenchError(
            f"--device {device} was given to a run of {world.size} processes, but rank {world.rank} "
            f"(LOCAL_RANK {world.local_rank}) computes on {own}.",
            "Use --device cuda (or auto): each rank takes its own GPU.",
        )
    return own


def _init_process_group(device: torch.device) -> None:
    """Create the default process group: NCCL bound to ``device`` (made this process's current CUDA
    device first, so NCCL never guesses ``rank % GPUs``), or gloo for CPU ranks."""
    import torch
    import torch.distributed as dist

    if device.type == "cuda":
        # torch.distributed.init_process_group takes device_id (an indexed torch.device) to bind and
        # eagerly create the NCCL communicator, but does not make it the current device: set it too.
        torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl", timeout=BARRIER_TIMEOUT, device_id=device)
    else:
        dist.init_process_group(backend="gloo", timeout=BARRIER_TIMEOUT)


def join_world(device: torch.device | str) -> World:
    """The world the launcher started; for WORLD_SIZE > 1 a process group is created, on CUDA bound
    to this rank's device (:func:`rank_device`) before it exists.

    Args:
        device: the device the run computes on (a device type such as ``"cuda"`` means that
            type's device of this rank).

    Raises:
        BenchError: a device no rank of this world can use (:func:`rank_device`), or a process
            group whose size differs from ``WORLD_SIZE`` (e.g. a launcher that silently started one
            process, or every process believing it is alone).
    """
    import torch

    world = launched_world()
    if world.size == 1:
        return world
    import torch.distributed as dist

    if not dist.is_initialized():
        _init_process_group(rank_device(torch.device(device), world))
    if dist.get_world_size() != world.size or dist.get_rank() != world.rank:
        raise BenchError(
            f"The launcher announced {world.size} processes, but the process group has "
            f"{dist.get_world_size()}.",
            "Launch with `torchrun --nproc_per_node N -m bench run ...` or "
            "`accelerate launch --multi_gpu --num_processes N -m bench run ...`.",
        )
    return world
