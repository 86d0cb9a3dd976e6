"""Promotion: the best configurations so far, trained again with more time.

Search trials are short on purpose (each at most ``TRIAL_SHARE`` of the search, so that even a
30 s search tries ten or more configurations); a configuration that needs many epochs (small
tables with exact rules, such as car) is then judged on too few. This stage, run last, takes
the best completed configurations and trains each once more as a new trial with an equal part
of the remaining time (``TrialAttr.TRIAL_SECONDS``), not pruned (a longer schedule is behind
the short trials' curves at the same epoch by design). Like successive halving's promotion
of the good ones, on the time axis; the promoted trial is an ordinary trial of the study: on
the leaderboard, in MLflow, an ensemble candidate.
"""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from automl_nas.search import SearchContext, TrialAttr, optimize
from automl_nas.stages._base import BaseStage

#: Share of the search time the estimators' default strategy keeps for promotion.
PROMOTE_SHARE = 0.3


def best_configurations(study: optuna.Study, n: int) -> list[dict]:
    """The params of the ``n`` best completed, feasible trials, distinct, best first."""
    done = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if all(c <= 0 for c in (t.constraints or {}).values())
        and t.user_attrs.get(TrialAttr.STAGE) != PromoteStage.name
    ]
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    done.sort(key=lambda t: t.value, reverse=maximize)
    chosen: list[dict] = []
    for trial in done:
        if trial.params not in chosen:
            chosen.append(trial.params)
        if len(chosen) == n:
            break
    return chosen


class PromoteStage(BaseStage):
    """Train the ``n_promote`` best configurations again, each with an equal part of the time.

    Single-objective searches only (which trial is best is clear there).

    Args:
        n_promote: Configurations promoted.
        time_share: Fraction of the remaining search time this stage may use.

    Example:
        >>> PromoteStage(n_promote=2).name
        'promote'
    """

    name = "promote"
    multi_objective = False

    def __init__(self, n_promote: int = 1, *, time_share: float | None = None) -> None:
        super().__init__(time_share=time_share)
        if n_promote < 1:
            raise ValueError(f"n_promote must be >= 1, got {n_promote}")
        self.n_promote = n_promote

    def _run(
        self, study: optuna.Study, context: SearchContext, *, n_trials: int | None, timeout: float
    ) -> None:
        configurations = best_configurations(study, self.n_promote)
        if n_trials is not None:
            configurations = configurations[:n_trials]
        if not configurations:
            return
        seconds = timeout / len(configurations)
        for params in configurations:
            study.enqueue_trial(
                params,
                user_attrs={TrialAttr.STAGE: self.name, TrialAttr.TRIAL_SECONDS: seconds},
                skip_if_exists=False,
            )
        optimize(study, context, n_trials=len(configurations), timeout=timeout)
