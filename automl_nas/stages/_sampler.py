"""A stage that runs trials with an Optuna sampler (TPE, CMA-ES, NSGA-II, GP, random, ...)."""

from __future__ import annotations

from collections.abc import Mapping

import optuna

from automl_nas.samplers import FamilyShareSampler, check_floors
from automl_nas.search import (
    SINGLE_OBJECTIVE_SAMPLERS,
    SearchContext,
    check_requirements,
    make_sampler,
    optimize,
    sampler_name,
)
from automl_nas.space import FamilySpace
from automl_nas.stages._base import BaseStage


class SamplerStage(BaseStage):
    """Trials proposed by one Optuna sampler, set on the shared study for this stage.

    A sampler whose package is missing (``cmaes``) raises ``ImportError`` here, so ``fit``
    fails before it creates a study or an MLflow run.

    Args:
        sampler: A short name (see ``SAMPLERS``) or an ``optuna.samplers.BaseSampler``.
        n_trials: Trials this stage may start.
        time_share: Fraction of the remaining search time this stage may use.
        family_floors: Least share of the trial-seconds each model family gets, e.g.
            ``{"nn": 0.5}`` (see :class:`~automl_nas.samplers.FamilyShareSampler`); used when
            the space has several families. Time-based, so not for a search that must repeat
            from its seed. Worker processes of a shared search draw families with the plain
            sampler; their trials count towards the shares this process sees.

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
        family_floors: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(n_trials=n_trials, time_share=time_share)
        self.family_floors = check_floors(family_floors) if family_floors else None
        check_requirements(sampler)
        self.sampler = sampler
        self.name = sampler_name(sampler)
        self.multi_objective = self.name not in SINGLE_OBJECTIVE_SAMPLERS
        self.worker_sampler = sampler

    def _run(
        self, study: optuna.Study, context: SearchContext, *, n_trials: int | None, timeout: float
    ) -> None:
        sampler = make_sampler(self.sampler, context.space, context.seed)
        space = context.space
        if self.family_floors and isinstance(space, FamilySpace) and len(space.families) > 1:
            sampler = FamilyShareSampler(sampler, self.family_floors, families=space.families)
        study.sampler = sampler
        optimize(study, context, n_trials=n_trials, timeout=timeout)

    def __repr__(self) -> str:
        floors = f", family_floors={self.family_floors}" if self.family_floors else ""
        return (f"{type(self).__name__}({self.name!r}, n_trials={self.n_trials}, "
                f"time_share={self.time_share}{floors})")
