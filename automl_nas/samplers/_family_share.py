"""A floor on each model family's share of the search's training time, around any sampler.

A sampler that picks the model family per trial (TPE's ``family`` parameter) counts trials,
not seconds: a boosting or linear trial takes a fraction of a second, a network trial seconds,
so the cheap families get most trials, lead the good-trial density and win the family choice
again. On the held-out tables a 120 s search spent about a quarter of its trials on networks
and 13 of 16 ensembles held one family only, while the same search restricted to networks
scored higher on 6 of the 16 and lower on 7 (benchmarks/README.md, "120 s at default threads on
the held-out tables"). This sampler budgets seconds per family instead, in the smallest way: the
family whose share of the trial-seconds spent so far is furthest under its floor is the next
trial's family, and the wrapped sampler draws every other parameter (and the family, while
every family is at or over its floor).

Measured on tables kept for tuning, a networks' floor of 1/2 (at 30 s and 120 s) or 1/3 (at
30 s) gained nothing (benchmarks/README.md, "Family floors"): in seconds, networks already get
21% of a 30 s search and 42% of a 120 s one there. So floors are an option of
``SamplerStage``, not the estimators' default.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState


def family_seconds(study: optuna.Study, param: str = "family") -> dict[str, float]:
    """Seconds of training per family: every started trial's time, a running one's so far.

    Trials of every process of a shared study count; a trial that has not yet drawn its
    family is not counted.
    """
    now = datetime.datetime.now()  # Optuna stamps trials with naive local times
    seconds: dict[str, float] = {}
    for trial in study.get_trials(deepcopy=False):
        family = trial.params.get(param)
        if family is None or trial.datetime_start is None or trial.state == TrialState.WAITING:
            continue
        took = ((trial.datetime_complete or now) - trial.datetime_start).total_seconds()
        seconds[family] = seconds.get(family, 0.0) + max(0.0, took)
    return seconds


def check_floors(floors: Mapping[str, float]) -> dict[str, float]:
    """``floors`` as a dict of floats; raises unless each is a share and they add up to <= 1."""
    bad = {name: share for name, share in floors.items() if not 0 <= share <= 1}
    if bad:
        raise ValueError(f"family floors must be shares in [0, 1], got {bad}")
    if sum(floors.values()) > 1 + 1e-9:
        raise ValueError(
            f"family floors add up to {sum(floors.values()):.3g}, more than 1: {dict(floors)}"
        )
    return {name: float(share) for name, share in floors.items()}


class FamilyShareSampler(BaseSampler):
    """``sampler``, except that a family under its floor share of the time is drawn first.

    Before a trial draws its parameters, each family's share of the seconds that the study's
    trials have trained so far is compared with its floor; the family furthest under its floor
    becomes the trial's ``family`` and the wrapped sampler draws the rest (conditioned on it,
    as for any fixed parameter). When every family is at or over its floor, or nothing has
    trained yet, the wrapped sampler draws the family as well. The family a trial was given is
    an ordinary value of its ``family`` parameter, so the wrapped sampler learns from it.

    Seconds are wall-clock, so a search that uses floors is not repeatable from a seed: use
    them where the budget is time (``SamplerStage(family_floors=...)``).

    Args:
        sampler: The sampler that draws everything else.
        floors: Family name -> least share of the trial-seconds (each in [0, 1], at most 1 in
            all). Families without a floor have none; floors of families the space does not
            have are ignored.
        families: The families the space may draw, in its order (ties go to the first).
        param: The name of the family parameter.

    Example:
        >>> sampler = FamilyShareSampler(optuna.samplers.RandomSampler(seed=0), {"nn": 0.5},
        ...                              families=("gbdt", "nn", "linear"))
        >>> sampler.floors
        {'nn': 0.5}
    """

    def __init__(
        self,
        sampler: BaseSampler,
        floors: Mapping[str, float],
        *,
        families: Sequence[str],
        param: str = "family",
    ) -> None:
        self.sampler = sampler
        self.floors = {name: share for name, share in check_floors(floors).items()
                       if name in families}
        self.families = tuple(families)
        self.param = param
        self._given: dict[int, str] = {}  # trial number -> the family it was given

    def short_family(self, study: optuna.Study) -> str | None:
        """The family furthest under its floor, or None when none is under (or none trained)."""
        seconds = family_seconds(study, self.param)
        total = sum(seconds.values())
        if total <= 0 or not self.floors:
            return None
        deficits = {
            name: self.floors[name] - seconds.get(name, 0.0) / total
            for name in self.families if name in self.floors
        }
        name = max(deficits, key=deficits.get)  # max keeps the first of equal deficits
        return name if deficits[name] > 0 else None

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        space = self.sampler.infer_relative_search_space(study, trial)
        family = self.short_family(study)
        if family is None:
            return space
        self._given[trial.number] = family
        return {name: dist for name, dist in space.items() if name != self.param}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self.sampler.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if param_name == self.param:
            family = self._given.pop(trial.number, None)
            if family is not None and family in getattr(param_distribution, "choices", ()):
                return family
        return self.sampler.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._given.pop(trial.number, None)
        self.sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()
