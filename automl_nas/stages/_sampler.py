"""A stage that runs trials with an Optuna sampler (TPE, CMA-ES, NSGA-II, GP, random, ...)."""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Callable

import optuna

from automl_nas.samplers import RegularizedEvolutionSampler, ReinforceSampler
from automl_nas.space import SearchSpace
from automl_nas.stages._base import BaseStage, SearchContext, optimize


#: Samplers that need a package Optuna does not install: name -> (module, pip requirement).
REQUIRES = {"cmaes": ("cmaes", "automl-nas[cmaes]")}


def check_requirements(sampler: str | optuna.samplers.BaseSampler) -> None:
    """Raise ``ImportError`` now, before any trial, if the named sampler's package is missing."""
    if isinstance(sampler, str) and sampler in REQUIRES:
        module, requirement = REQUIRES[sampler]
        if importlib.util.find_spec(module) is None:
            raise ImportError(
                f"sampler={sampler!r} needs the {module!r} package: pip install '{requirement}' "
                f"(or pip install {module})"
            )


def _cmaes(space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    # Categorical parameters fall back to an independent sampler; keep that quiet and seeded.
    return optuna.samplers.CmaEsSampler(
        seed=seed, warn_independent_sampling=False,
        independent_sampler=optuna.samplers.TPESampler(seed=seed),
    )


#: Sampler factories by short name: (space, seed) -> sampler.
SAMPLERS: dict[str, Callable[[SearchSpace, int | None], optuna.samplers.BaseSampler]] = {
    "tpe": lambda space, seed: optuna.samplers.TPESampler(seed=seed),
    "random": lambda space, seed: optuna.samplers.RandomSampler(seed=seed),
    "cmaes": _cmaes,
    "gp": lambda space, seed: optuna.samplers.GPSampler(seed=seed),
    "nsga2": lambda space, seed: optuna.samplers.NSGAIISampler(seed=seed),
    "qmc": lambda space, seed: optuna.samplers.QMCSampler(seed=seed),
    # A search gets tens of trials, not thousands: a small population starts evolving sooner.
    "evolution": lambda space, seed: RegularizedEvolutionSampler(
        space.distributions, population_size=10, sample_size=3, seed=seed
    ),
    "rl": lambda space, seed: ReinforceSampler(space.distributions, seed=seed),
}


def make_sampler(
    sampler: str | optuna.samplers.BaseSampler, space: SearchSpace, seed: int | None
) -> optuna.samplers.BaseSampler:
    """A fresh sampler: built from its short name, or a private copy of the given object."""
    if isinstance(sampler, optuna.samplers.BaseSampler):
        return copy.deepcopy(sampler)
    if sampler not in SAMPLERS:
        raise ValueError(f"Unknown sampler {sampler!r}; choose from {sorted(SAMPLERS)} or pass an optuna sampler")
    check_requirements(sampler)
    return SAMPLERS[sampler](space, seed)


class SamplerStage(BaseStage):
    """Trials proposed by one Optuna sampler, set on the shared study for this stage.

    A sampler whose package is missing (``cmaes``) raises ``ImportError`` here, so ``fit``
    fails before it creates a study or an MLflow run.

    Args:
        sampler: A short name (see ``SAMPLERS``) or an ``optuna.samplers.BaseSampler``.
        n_trials: Trials this stage may start.
        time_share: Fraction of the remaining search time this stage may use.

    Example:
        >>> stage = SamplerStage("random", n_trials=10)
        >>> stage.name
        'random'
    """

    def __init__(
        self,
        sampler: str | optuna.samplers.BaseSampler = "tpe",
        *,
        n_trials: int | None = None,
        time_share: float | None = None,
    ) -> None:
        super().__init__(n_trials=n_trials, time_share=time_share)
        check_requirements(sampler)
        self.sampler = sampler
        self.name = sampler if isinstance(sampler, str) else type(sampler).__name__

    def _run(
        self, study: optuna.Study, context: SearchContext, *, n_trials: int | None, timeout: float
    ) -> None:
        study.sampler = make_sampler(self.sampler, context.space, context.seed)
        optimize(study, context, n_trials=n_trials, timeout=timeout)
