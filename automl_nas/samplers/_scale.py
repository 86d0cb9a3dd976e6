"""The scale numeric parameters are searched on: logarithmic where the distribution says so."""

from __future__ import annotations

import math

from optuna.distributions import FloatDistribution, IntDistribution

NumericDistribution = FloatDistribution | IntDistribution


def to_unit(dist: NumericDistribution, value: float) -> float:
    """``value`` on the search scale of ``dist``: its logarithm where ``dist.log`` is set."""
    return math.log(value) if dist.log else float(value)


def from_unit(dist: NumericDistribution, unit: float) -> float | int:
    """The valid value of ``dist`` nearest to the point ``unit`` of its search scale."""
    value = math.exp(unit) if dist.log else unit
    value = min(max(value, dist.low), dist.high)
    if dist.step is not None:
        value = min(dist.low + round((value - dist.low) / dist.step) * dist.step, dist.high)
    return int(value) if isinstance(dist, IntDistribution) else float(value)
