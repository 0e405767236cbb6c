"""The resumable step loop both training stages share, with its progress bar and checkpoints.

Every random draw of step ``k`` (batch indices, crops, noise, timesteps, caption dropout) comes
from :func:`step_generator` ``(seed, stage, k)``, and the learning rate is a function of ``k``, so
a run resumed from a checkpoint after step ``k`` continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

_STAGE_TAGS = {"vae": 1, "unet": 2}


@dataclass
class StageProgress:
    """How far a stage has trained.

    Attributes:
        step: completed optimizer steps.
        losses: the training loss of each completed step.
        seconds: wall-clock seconds spent in training steps so far, over all runs of the stage.
    """

    step: int = 0
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def steps_per_second(self) -> float:
        return self.step / self.seconds if self.seconds else 0.0


def step_generator(seed: int, stage: str, step: int) -> torch.Generator:
    """The CPU generator of all random draws of ``stage``'s step ``step`` under run seed ``seed``."""
    state = np.random.SeedSequence([seed, _STAGE_TAGS[stage], step]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def warmup_rate(base: float, warmup_steps: int, step: int) -> float:
    """Learning rate at ``step``: linear warmup over ``warmup_steps``, then constant ``base``."""
    return base * min(1.0, (step + 1) / warmup_steps)


def make_progress(console: Console) -> Progress:
    """A progress bar with the step count, the smoothed loss, elapsed time and ETA."""
    return Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


def run_steps(
    stage: str,
    total_steps: int,
    progress: StageProgress,
    train_step: Callable[[int], float],
    save: Callable[[StageProgress], None],
    checkpoint_seconds: float,
    bar: Progress,
) -> StageProgress:
    """Train ``stage`` from ``progress.step`` to ``total_steps``, checkpointing on the way.

    ``train_step(k)`` runs optimizer step k and returns its loss; ``save(progress)`` writes a
    checkpoint. It is called every ``checkpoint_seconds`` of wall time and after the last step;
    each call also logs one plain line (readable in a log file, where the bar does not redraw).
    """
    task = bar.add_task(stage, total=total_steps, completed=progress.step, loss="")
    last_save = time.perf_counter()
    while progress.step < total_steps:
        started = time.perf_counter()
        loss = train_step(progress.step)
        progress.seconds += time.perf_counter() - started
        progress.losses.append(loss)
        progress.step += 1
        recent = float(np.mean(progress.losses[-50:]))
        bar.update(task, advance=1, loss=f"loss {recent:.4f}")
        if time.perf_counter() - last_save >= checkpoint_seconds or progress.step == total_steps:
            save(progress)
            last_save = time.perf_counter()
            bar.console.log(
                f"{stage}: step {progress.step}/{total_steps}, loss (last 50) {recent:.4f}, "
                f"{progress.steps_per_second:.2f} steps/s, checkpoint saved"
            )
    return progress
