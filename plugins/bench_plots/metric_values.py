"""How a panel's metric reads, from its registered spec: unit, direction and printed digits."""

from __future__ import annotations

from bench import UNITS, EvaluationSpecs


class MetricValues:
    """Mixed into the panels, which set ``unit_name`` (a key of ``bench.UNITS``) and
    ``higher_is_better`` from the metric's registration (:func:`metric_facts`)."""

    unit_name: str
    higher_is_better: bool

    @property
    def unit(self) -> str:
        """The unit's axis label: ``"%"``, ``"fraction"`` or ``"rank"``."""
        return UNITS[self.unit_name].label

    @property
    def fractional(self) -> bool:
        """Whether values are fractions (0..1, printed with three decimals), not percentages or ranks."""
        return self.unit_name == "fraction"

    def format(self, value: float) -> str:
        """A value as printed in a cell or legend: fractions with three decimals, others one."""
        return f"{value:.3f}" if self.fractional else f"{value:.1f}"


def metric_facts(specs: EvaluationSpecs, metric: str) -> dict[str, object]:
    """The ``unit_name`` and ``higher_is_better`` of a panel showing ``metric``."""
    resolved = specs.metric(metric)
    return {"unit_name": resolved.info.unit, "higher_is_better": resolved.higher_is_better}


def default_specs() -> EvaluationSpecs:
    """The installed plugins' metrics and tasks (for library use without a command's registry)."""
    from bench import plugin_registry

    return plugin_registry().evaluation_specs()
