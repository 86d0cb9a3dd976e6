"""A study's finished trials as (trial, score) pairs: the only memory the samplers rely on.

Both samplers rebuild what they know from the study's storage, so several processes sharing an
RDB storage see the same history and a restarted process loses nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial, TrialState


def check_single_objective(study: optuna.Study, sampler: str) -> None:
    """Raise a ``ValueError`` naming the fix when ``study`` has several objectives."""
    if len(study.directions) > 1:
        raise ValueError(
            f"{sampler} supports single-objective studies only, but this study has "
            f"{len(study.directions)} directions; use optuna.samplers.NSGAIISampler or "
            "TPESampler for multi-objective search."
        )


def trial_score(trial: FrozenTrial, consider_pruned: bool) -> float | None:
    """The value a finished trial is judged by, or ``None`` if it gives none.

    A complete trial gives its value. A pruned trial gives its last intermediate value when
    ``consider_pruned`` is true: under successive halving most trials are pruned, and being
    stopped early for looking worse than its peers is exactly what a search should learn from.
    """
    if trial.state == TrialState.COMPLETE:
        value = trial.value
    elif trial.state == TrialState.PRUNED and consider_pruned and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    else:
        return None
    return None if value is None or math.isnan(value) else float(value)


def finished_trials(study: optuna.Study, consider_pruned: bool) -> list[tuple[FrozenTrial, float]]:
    """Every finished trial with a score, oldest first (by trial number)."""
    states = (TrialState.COMPLETE, TrialState.PRUNED) if consider_pruned else (TrialState.COMPLETE,)
    scored = []
    for trial in study.get_trials(deepcopy=False, states=states):
        score = trial_score(trial, consider_pruned)
        if score is not None:
            scored.append((trial, score))
    return sorted(scored, key=lambda pair: pair[0].number)


def contains(dist: BaseDistribution, value: Any) -> bool:
    """Whether ``value`` is a valid draw of ``dist`` (e.g. after the space was narrowed)."""
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    try:
        return dist._contains(dist.to_internal_repr(value))
    except (TypeError, ValueError):
        return False


def genome(
    params: Mapping[str, Any], space: Mapping[str, BaseDistribution]
) -> dict[str, Any] | None:
    """The parameters of a past trial that ``space`` holds, or None if one lies outside it.

    In a conditional space (a family choice, each family with its own parameters) a trial
    sets only its branch's parameters, so the static space is the union of all branches and
    no trial sets all of it; a trial still belongs to the space when every parameter it set
    there is inside it. None also when it set none of them.
    """
    held = {name: value for name, value in params.items() if name in space}
    if not held or not all(contains(space[name], value) for name, value in held.items()):
        return None
    return held


class HistorySampler(BaseSampler):
    """What both samplers share: a static (or inferred) relative space, random elsewhere.

    Subclasses implement ``sample_relative`` from :func:`finished_trials`; parameters outside
    the relative space, and warm-up trials, go to a seeded ``RandomSampler``.
    """

    def __init__(
        self,
        search_space: Mapping[str, BaseDistribution] | None,
        consider_pruned_trials: bool,
        seed: int | None,
    ) -> None:
        self._search_space = dict(search_space) if search_space is not None else None
        self._consider_pruned = consider_pruned_trials
        self._random_sampler = RandomSampler(seed=seed)
        self._intersection = IntersectionSearchSpace(include_pruned=consider_pruned_trials)

    def reseed_rng(self) -> None:
        """Reseed the random fallback (Optuna calls this per thread of ``n_jobs>1``)."""
        self._random_sampler.reseed_rng()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The static space given at construction, or the intersection of finished trials'."""
        check_single_objective(study, type(self).__name__)
        if self._search_space is not None:
            return dict(self._search_space)
        return self._intersection.calculate(study)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """Parameters outside the relative space (and warm-up trials) are drawn at random."""
        return self._random_sampler.sample_independent(study, trial, param_name, param_distribution)
