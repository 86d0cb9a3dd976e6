"""Samplers and pruners by short name: the strategies a search is configured with."""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Callable

import optuna

from automl_nas.samplers import RegularizedEvolutionSampler, ReinforceSampler
from automl_nas.space import SearchSpace

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


def sampler_name(sampler: str | optuna.samplers.BaseSampler) -> str:
    """The short name a sampler's trials are labelled with: its name, or its class name."""
    return sampler if isinstance(sampler, str) else type(sampler).__name__


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


#: Samplers that optimise one objective only (refused with a cost objective).
SINGLE_OBJECTIVE_SAMPLERS = ("evolution", "rl", "cmaes", "CmaEsSampler")

#: Pruners by short name; epochs are the resource.
PRUNERS = ("median", "hyperband", "successive_halving", "none")


def make_pruner(
    pruner: str | optuna.pruners.BasePruner | None, max_epochs: int
) -> optuna.pruners.BasePruner:
    """A pruner from its short name (epochs are the resource), or the given object."""
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs)
    if pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    return optuna.pruners.NopPruner()
