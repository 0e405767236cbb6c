"""How a planned run executes: one object carried from the plan down to the image loader, instead of
loose parameters threaded through every layer.

These settings choose where and how descriptors are computed; which of them change numbers is
decided by the run identity (:mod:`bench.plan.identity`): the model and cache precisions and, where
something is random, the seed.

Precision has one vocabulary, the names of :data:`~bench.api.choices.DTYPE_NAMES` (``fp32``,
``tf32``, ``fp16``, ``bf16``): ``dtype`` is the model's (``--dtype``, ``dtype`` in results),
``cache_dtype`` the cached descriptors' (``--cache-dtype``: ``fp16`` or ``fp32``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.config.run_config import SweepSpec

FLOAT32_WEIGHTS = ("fp32", "tf32")
"""Model precisions that keep float32 weights (a prompt can be trained on the loaded model)."""


@dataclass(frozen=True)
class ExecutionSettings:
    """The execution settings of a run (see the module docstring).

    Attributes:
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        dtype: model precision; cache_dtype: precision of cached descriptors.
        cache_dir: the feature cache (None: ``$SBIR_BENCH_CACHE`` or the user cache directory).
        workers: threads reading and preprocessing images ahead of the backbone (0: in the loop).
        strict: stop at the first unreadable image instead of skipping (and counting) it.
        seed: the run seed; each image's noise seed derives from it and the image's content.
        batch_size: images per backbone call.
        compile: ``torch.compile`` the backbone (those that offer a ``compile()`` method).
    """

    device: str = "auto"
    dtype: str = "fp32"
    cache_dtype: str = "fp16"
    cache_dir: str | None = None
    workers: int = 2
    strict: bool = False
    seed: int = 0
    batch_size: int = 16
    compile: bool = False

    @classmethod
    def of(cls, spec: SweepSpec) -> ExecutionSettings:
        """The execution settings a (validated) sweep asks for."""
        return cls(
            device=spec.device,
            dtype=spec.dtype,
            cache_dtype=spec.cache_dtype,
            cache_dir=spec.cache_dir,
            workers=spec.workers,
            strict=spec.strict,
            seed=spec.seed,
            batch_size=spec.batch_size,
            compile=spec.compile,
        )

    @property
    def float32_weights(self) -> bool:
        """Whether the model keeps float32 weights (``fp32``, ``tf32``)."""
        return self.dtype in FLOAT32_WEIGHTS
