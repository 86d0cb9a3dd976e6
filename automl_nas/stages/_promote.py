"""Promotion: the best configurations so far, trained again with more time.

Search trials are short on purpose (each at most ``TRIAL_SHARE`` of the search, so that even a
30 s search tries ten or more configurations); a configuration that needs many epochs (small
tables with exact rules, such as car) is then judged on too few. This stage, run last, takes
the best completed configurations and trains each once more as a new trial with an equal part
of the remaining time (``TrialAttr.TRIAL_SECONDS``), not pruned (a longer schedule is behind
the short trials' curves at the same epoch by design). Like successive halving's promotion
of the good ones, on the time axis; the promoted trial is an ordinary trial of the study: on
the leaderboard, in MLflow, an ensemble candidate. A promoted trial that ends before its time
(early stopping, a boosting model that converged) hands what is left to the next best
configurations: promotion never leaves the search's last share unused (it did: a 120 s
search returned after 79-91 s, benchmarks/README.md).
"""

from __future__ import annotations

import math
import time

import optuna
from optuna.trial import TrialState

from automl_nas.search import SearchContext, TrialAttr, optimize
from automl_nas.stages._base import BaseStage

#: Share of the search time the estimators' default strategy keeps for promotion.
PROMOTE_SHARE = 0.3
#: Seconds left under which no further configuration is promoted (it would train next to nothing).
MIN_PROMOTE_SECONDS = 1.0


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
    """Train the ``n_promote`` best configurations again, each with an equal part of the time;
    when they end early, the next best get the time left, and so on.

    A round promotes ``n_promote`` configurations, or one per trial the search trains at once
    (``n_jobs``) if that is more, so no core idles; those side by side each get the time left.

    Rounds go on until the stage's time is spent (less than ``MIN_PROMOTE_SECONDS`` left),
    every distinct completed configuration has been promoted, or ``n_trials`` promotions ran.
    Single-objective searches only (which trial is best is clear there).

    Args:
        n_promote: Configurations promoted in each round (at least ``n_jobs``).
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
        end = time.monotonic() + timeout
        slots = max(1, context.n_jobs)
        at_once = max(self.n_promote, slots)
        # Ranked once, on the search's trials: a promoted trial never displaces the rest.
        ranked = best_configurations(study, len(study.trials))
        if n_trials is not None:
            ranked = ranked[:n_trials]
        while ranked:
            left = min(end - time.monotonic(), context.remaining())  # the deadline may move
            if left < MIN_PROMOTE_SECONDS:
                return
            configurations, ranked = ranked[:at_once], ranked[at_once:]
            seconds = left / math.ceil(len(configurations) / slots)  # slots train side by side
            for params in configurations:
                study.enqueue_trial(
                    params,
                    user_attrs={TrialAttr.STAGE: self.name, TrialAttr.TRIAL_SECONDS: seconds},
                    skip_if_exists=False,
                )
            optimize(study, context, n_trials=len(configurations), timeout=left)
