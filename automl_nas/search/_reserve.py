"""The refit's share of ``time_budget``, sized from the trials the search ranks best.

With ``refit="auto"`` the ensemble's members are retrained on the training and validation rows
inside ``time_budget``, after the search. How long that takes depends on which trials become
members: half a second for five boosting members on a table of 4,000 rows, seconds for one
network trained for long. :class:`RefitReserve` moves the search's deadline after every trial
this process finishes, so that what is left after it covers the expected refits of the best
trials so far (:meth:`~automl_nas.search.BudgetPlan.refit_reserve`).
"""

from __future__ import annotations

import heapq
import math

import optuna
from optuna.trial import TrialState

from automl_nas.search._budget import REFIT_MEMBERS, BudgetPlan, refit_seconds
from automl_nas.search._context import SearchContext
from automl_nas.search._keys import TrialRecord


def trial_refit_seconds(record: TrialRecord, n_rows: int, n_train: int) -> float:
    """Seconds a refit of ``record``'s trial on ``n_rows`` rows is expected to take.

    Its training seconds per epoch run, times the refit's epochs (its best epoch), times
    ``n_rows`` over the rows it trained on (a low-fidelity trial's subsample, else
    ``n_train``): :func:`~automl_nas.search.refit_seconds`.
    """
    epochs_run = int(record.history[-1]["epoch"]) if record.history else 0
    epochs = max(1, record.best_epoch or 1)
    rows_ratio = n_rows / (record.train_rows or n_train)
    return refit_seconds(record.train_seconds, epochs_run, epochs, rows_ratio)


class RefitReserve:
    """Optuna callback: keep ``context.deadline`` the expected refit's seconds before the end.

    After each trial of this process it ranks the completed, feasible trials by their score
    (best first, as the trial store does), sums the expected refit seconds of the
    ``REFIT_MEMBERS`` best (divided by the ``at_once`` refits that run side by side), leaving
    out any whose refit alone would not fit in the largest reserve (the refit skips those),
    and sets the deadline to ``plan.end - plan.refit_reserve(that sum)``. The deadline moves
    both ways (a costly trial that enters the best moves it earlier, one that drops out
    later); a stage's own end, fixed when the stage starts, still holds, and a trial keeps
    the deadline it read when it started. Once the deadline has passed it stops Optuna's loop.

    Args:
        plan: The search's budget plan (a refit inside the budget).
        context: The search context whose deadline it moves.
        n_rows: Rows a refit trains on (training + validation).
        n_train: The search's training rows.
        maximize: Whether a higher score is better.
        at_once: Members refitted side by side.
    """

    def __init__(
        self,
        plan: BudgetPlan,
        context: SearchContext,
        *,
        n_rows: int,
        n_train: int,
        maximize: bool,
        at_once: int = 1,
    ) -> None:
        self.plan = plan
        self.context = context
        self.n_rows = n_rows
        self.n_train = n_train
        self.sign = -1.0 if maximize else 1.0
        self.at_once = max(1, at_once)
        #: (signed score, trial number, expected refit seconds) of each completed trial
        self._ranked: list[tuple[float, int, float]] = []

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        feasible = all(c <= 0 for c in trial.constraints.values())
        if trial.state == TrialState.COMPLETE and trial.values and feasible:
            record = TrialRecord.from_trial(trial)
            seconds = trial_refit_seconds(record, self.n_rows, self.n_train)
            self._ranked.append((self.sign * trial.values[0], trial.number, seconds))
        best = heapq.nsmallest(REFIT_MEMBERS, self._ranked)
        # A member whose refit alone outlasts the largest reserve is skipped when the refit
        # starts (it keeps its searched network), so no time is kept for it.
        most = self.plan.refit_reserve(math.inf)
        expected = sum(seconds for _, _, seconds in best if seconds <= most) / self.at_once
        self.context.deadline = self.plan.end - self.plan.refit_reserve(expected)
        if self.context.remaining() <= 0:
            try:
                study.stop()
            except RuntimeError:  # outside Optuna's loop: the waves' loop reads the deadline
                pass
