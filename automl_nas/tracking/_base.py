"""The tracker interface: what a search tells an experiment tracker, and when."""

from __future__ import annotations

from typing import Any

import optuna


class BaseTracker:
    """Receives a search's life cycle; the base class records nothing.

    The estimator calls :meth:`start_search` once before the first trial, the tracker itself
    as an Optuna callback after every finished trial (COMPLETE, PRUNED or FAIL; the trial's
    ``user_attrs`` hold ``stage``, ``history``, ``n_params``, ``train_seconds`` and, on failure,
    ``error``), :meth:`trials_done` once no trial will start any more, :meth:`log_model` with
    the fitted estimator, and :meth:`end_search` last, also when the search raised.
    """

    def start_search(self, info: dict[str, Any]) -> None:
        """Open the search's record; ``info`` holds params, dataset fingerprint, space, budget,
        ``first_trial`` (the number of this search's first trial: a resumed study holds earlier
        ones) and ``shared`` (whether workers in other processes run trials too)."""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Record one finished trial (Optuna callback signature)."""

    def trials_done(self, study: optuna.Study) -> None:
        """The search has run its last trial; the final model is built next (ensemble, refit).

        Callbacks only see the trials of this process: with a shared storage, the study now
        also holds the trials workers finished. A tracker can summarise the trials now, while
        the estimator works, instead of in :meth:`end_search`, where the user waits for it.
        """

    def log_model(self, estimator: Any, input_example: Any) -> None:
        """Store the fitted estimator as the search's final model."""

    def end_search(self, status: str) -> None:
        """Close the search's record with ``status`` ("FINISHED" or "FAILED")."""
