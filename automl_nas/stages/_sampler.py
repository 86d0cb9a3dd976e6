"""A stage that runs trials with an Optuna sampler (TPE, CMA-ES, NSGA-II, GP, random, ...)."""

from __future__ import annotations

import optuna

from automl_nas.search import (
    SINGLE_OBJECTIVE_SAMPLERS,
    SearchContext,
    check_requirements,
    make_sampler,
    optimize,
    sampler_name,
)
from automl_nas.stages._base import BaseStage


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
        self.name = sampler_name(sampler)
        self.multi_objective = self.name not in SINGLE_OBJECTIVE_SAMPLERS
        self.worker_sampler = sampler

    def _run(
        self, study: optuna.Study, context: SearchContext, *, n_trials: int | None, timeout: float
    ) -> None:
        study.sampler = make_sampler(self.sampler, context.space, context.seed)
        optimize(study, context, n_trials=n_trials, timeout=timeout)
