"""Regularized (aging) evolution (Real et al., 2019) as a stateless Optuna sampler."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from automl_nas.samplers._history import HistorySampler, finished_trials, genome
from automl_nas.samplers._scale import NumericDistribution, from_unit, to_unit

#: Standard deviation of a numeric mutation, as a fraction of the (log-)range.
MUTATION_SCALE = 0.2


def _tournament(values: Sequence[float], k: int, rng: np.random.Generator, maximize: bool) -> int:
    """Index of the best of ``k`` members drawn without replacement from ``values``.

    Small ``k`` keeps selection pressure low and the search diverse; ``k = len(values)`` is
    pure exploitation. Ties go to the member drawn first.
    """
    sample = rng.choice(len(values), size=min(k, len(values)), replace=False)
    pick = max if maximize else min
    return int(pick(sample, key=lambda i: values[i]))


def _mutate_numeric(
    dist: NumericDistribution, value: float, rng: np.random.Generator
) -> float | int:
    """A Gaussian step from ``value`` in (log-)space, clipped to the bounds, never ``value``.

    A local step keeps most of what made the parent good; resampling the whole range would
    throw it away and make the numeric genes a random search.
    """
    low, high = to_unit(dist, dist.low), to_unit(dist, dist.high)
    delta = rng.normal(0.0, MUTATION_SCALE * (high - low))
    for step in (delta, -delta):  # the mirrored step moves away from a bound the parent sits on
        child = from_unit(dist, to_unit(dist, value) + step)
        if child != value:
            return child
    # The step rounded to nothing: move to a neighbour on the grid, or anywhere if continuous.
    if dist.step is None:
        return from_unit(dist, rng.uniform(low, high))
    neighbours = [v for v in (value - dist.step, value + dist.step) if dist.low <= v <= dist.high]
    return from_unit(dist, to_unit(dist, neighbours[rng.integers(len(neighbours))]))


def _mutate(
    params: Mapping[str, Any],
    space: Mapping[str, BaseDistribution],
    rng: np.random.Generator,
) -> dict[str, Any]:
    """A copy of ``params`` with exactly one of its genes changed to another valid value.

    A categorical gene takes another choice uniformly; a numeric one takes a Gaussian step (see
    :func:`_mutate_numeric`). Genes with a single possible value cannot change and are skipped.
    Only the genes ``params`` has are mutated: in a conditional space a child keeps its
    parent's branch unless the branch choice itself mutates, and then the new branch's
    parameters, absent from the child, are drawn at random.
    """
    child = dict(params)
    mutable = [name for name in params if not space[name].single()]
    if not mutable:
        return child
    name = mutable[rng.integers(len(mutable))]
    dist = space[name]
    if isinstance(dist, CategoricalDistribution):
        current = dist.to_internal_repr(child[name])
        others = [i for i in range(len(dist.choices)) if i != current]
        child[name] = dist.choices[others[rng.integers(len(others))]]
    else:
        child[name] = _mutate_numeric(dist, child[name], rng)
    return child


def _crossover(
    first: Mapping[str, Any], second: Mapping[str, Any], rng: np.random.Generator
) -> dict[str, Any]:
    """Uniform crossover: each gene of ``first`` is replaced by ``second``'s with probability 1/2.

    Parents of different branches of a conditional space (different genes) do not mix:
    ``first`` is returned unchanged.
    """
    if first.keys() != second.keys():
        return dict(first)
    take_second = rng.random(len(first)) < 0.5
    return {
        name: second[name] if swap else value
        for (name, value), swap in zip(first.items(), take_second)
    }


class RegularizedEvolutionSampler(HistorySampler):
    """Regularized evolution: mutate the winner of a tournament among the youngest trials.

    The population is the ``population_size`` most recent finished trials (by trial number), so
    old members age out whatever their score, which is what regularizes the search (Real et al.,
    2019, "Regularized Evolution for Image Classifier Architecture Search"). Each new trial copies
    the best of ``sample_size`` random members, optionally crosses it with a second tournament
    winner, and mutates one gene. Until the population is full, trials are random.

    The sampler keeps no state between trials: everything comes from the study's storage and the
    random draws of trial ``n`` come from a generator seeded by ``(seed, n)``, so workers in
    several processes sharing one RDB storage run a single evolution together.

    Args:
        search_space: The distributions to evolve. ``None`` infers them from the finished trials
            (the intersection of their parameters), like Optuna's own relative samplers. A
            conditional space (e.g. :class:`~automl_nas.space.FamilySpace`: a family choice,
            each family with its own parameters) is given as the union of its branches: a
            child inherits and mutates its parent's branch.
        population_size: How many of the most recent finished trials form the population.
        sample_size: Tournament size; the selection pressure.
        crossover_prob: Probability that a child mixes two parents by uniform crossover before
            its mutation (0 is the paper's mutation-only algorithm).
        consider_pruned_trials: Whether pruned trials join the population, judged by their last
            intermediate value. Keep it on with successive halving or Hyperband, where few trials
            complete and a complete-only population would stay in the random warm-up.
        seed: Seed of the sampler's random draws.

    Example:
        >>> import optuna
        >>> sampler = RegularizedEvolutionSampler(population_size=10, sample_size=3, seed=0)
        >>> study = optuna.create_study(sampler=sampler)
        >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=40)
        >>> study.best_value < 0.5
        True
    """

    def __init__(
        self,
        search_space: Mapping[str, BaseDistribution] | None = None,
        *,
        population_size: int = 20,
        sample_size: int = 5,
        crossover_prob: float = 0.0,
        consider_pruned_trials: bool = True,
        seed: int | None = None,
    ) -> None:
        if population_size < 2:
            raise ValueError(f"population_size must be at least 2, got {population_size}")
        if not 1 <= sample_size <= population_size:
            raise ValueError(
                f"sample_size must be between 1 and population_size ({population_size}), "
                f"got {sample_size}"
            )
        if not 0.0 <= crossover_prob <= 1.0:
            raise ValueError(f"crossover_prob must be in [0, 1], got {crossover_prob}")
        super().__init__(search_space, consider_pruned_trials, seed)
        self._population_size = population_size
        self._sample_size = sample_size
        self._crossover_prob = crossover_prob
        self._seed = seed if seed is not None else np.random.SeedSequence().entropy

    def reseed_rng(self) -> None:
        """Draw a fresh seed (Optuna calls this in each thread of ``optimize(n_jobs>1)``)."""
        self._seed = np.random.SeedSequence().entropy
        super().reseed_rng()

    def sample_relative(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        """A mutated child of tournament winners, or ``{}`` (random) while warming up."""
        if not search_space:
            return {}
        history = [
            (held, score)
            for past, score in finished_trials(study, self._consider_pruned)
            if (held := genome(past.params, search_space)) is not None
        ]
        if len(history) < self._population_size:
            return {}
        population = history[-self._population_size :]
        params = [held for held, _ in population]
        values = [score for _, score in population]
        maximize = study.direction == StudyDirection.MAXIMIZE
        rng = np.random.default_rng([self._seed, trial.number])

        child = params[_tournament(values, self._sample_size, rng, maximize)]
        if rng.random() < self._crossover_prob:
            other = params[_tournament(values, self._sample_size, rng, maximize)]
            child = _crossover(child, other, rng)
        return _mutate(child, search_space, rng)

