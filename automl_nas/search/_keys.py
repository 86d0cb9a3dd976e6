"""The names under which a search records facts in Optuna: one place for every key.

Trials carry what a tracker, a leaderboard or a resumed search needs in their user
attributes, so the study alone is the record of a search (``TrialAttr``). A shared search's
coordinator talks to its workers through the study's user attributes (``StudyAttr``).
:class:`TrialRecord` reads a finished trial's attributes back as typed fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna


class TrialAttr:
    """Keys of a trial's ``user_attrs``."""

    #: The stage that proposed the trial (``"default"`` for the first, enqueued trial).
    STAGE = "stage"
    #: Parameters of all networks of the trial's model.
    N_PARAMS = "n_params"
    #: Per-epoch records of the first split: losses and validation score.
    HISTORY = "history"
    #: Epochs trained over all splits.
    EPOCHS = "epochs"
    BEST_EPOCH = "best_epoch"
    #: Why training ended: ``"epochs"``, ``"early_stopping"``, ``"time_budget"``, or
    #: ``"too_slow"`` (pruned in its first epoch: two would not fit its time).
    STOPPED_BY = "stopped_by"
    TRAIN_SECONDS = "train_seconds"
    #: Cross-validated trials: the score of each fold trained.
    FOLD_SCORES = "fold_scores"
    #: Cross-validated trials the deadline cut to some folds, e.g. ``"2/5"``.
    PARTIAL_FOLDS = "partial_folds"
    #: Median forward-pass milliseconds (a latency objective).
    LATENCY_MS = "latency_ms"
    #: A failed trial's one-line error and short traceback.
    ERROR = "error"
    TRACEBACK = "traceback"
    #: Seconds the trial may train, when a stage sets it (promotion): it is then not pruned.
    TRIAL_SECONDS = "trial_seconds"
    #: Training rows the trial trained on (per split): all of them, or a low-fidelity
    #: subsample on many rows (:meth:`~automl_nas.search.BudgetPlan.trial_rows`).
    TRAIN_ROWS = "train_rows"
    #: Trials trained side by side in one batch: ``{"leader": number, "size": members}``
    #: (the leader's seed orders the batches of all members).
    BATCH = "batch"
    #: ``host:pid`` of the worker process that ran the trial (shared searches).
    WORKER = "worker"


class StudyAttr:
    """Keys of a shared study's ``user_attrs``, written by the coordinator, read by workers."""

    #: Path of the published :class:`~automl_nas.search.SearchSpec`.
    SPEC = "automl_nas:spec"
    #: Wall-clock (Unix time) end of the search.
    DEADLINE = "automl_nas:deadline"
    #: Cap on started trials, counted search-wide.
    MAX_TRIALS = "automl_nas:max_trials"
    #: Index of the stage the coordinator runs.
    STAGE = "automl_nas:stage"
    #: ``[interval, grace period]`` of the storage's heartbeats, in seconds.
    HEARTBEAT = "automl_nas:heartbeat"


@dataclass(frozen=True)
class TrialRecord:
    """What the search recorded on one trial, read from a ``FrozenTrial``.

    Missing facts (a trial that failed before training has no ``n_params``) are None.
    """

    number: int
    state: str
    values: tuple[float, ...] | None
    params: dict[str, Any]
    stage: str | None = None
    n_params: int | None = None
    epochs: int | None = None
    best_epoch: int | None = None
    stopped_by: str | None = None
    train_seconds: float | None = None
    train_rows: int | None = None
    latency_ms: float | None = None
    partial_folds: str | None = None
    error: str | None = None
    worker: str | None = None
    history: list[dict[str, float]] = field(default_factory=list)

    @classmethod
    def from_trial(cls, trial: optuna.trial.FrozenTrial) -> TrialRecord:
        attrs = trial.user_attrs
        return cls(
            number=trial.number,
            state=trial.state.name,
            values=tuple(trial.values) if trial.values is not None else None,
            params=dict(trial.params),
            stage=attrs.get(TrialAttr.STAGE),
            n_params=attrs.get(TrialAttr.N_PARAMS),
            epochs=attrs.get(TrialAttr.EPOCHS),
            best_epoch=attrs.get(TrialAttr.BEST_EPOCH),
            stopped_by=attrs.get(TrialAttr.STOPPED_BY),
            train_seconds=attrs.get(TrialAttr.TRAIN_SECONDS),
            train_rows=attrs.get(TrialAttr.TRAIN_ROWS),
            latency_ms=attrs.get(TrialAttr.LATENCY_MS),
            partial_folds=attrs.get(TrialAttr.PARTIAL_FOLDS),
            error=attrs.get(TrialAttr.ERROR),
            worker=attrs.get(TrialAttr.WORKER),
            history=list(attrs.get(TrialAttr.HISTORY) or []),
        )

    @property
    def complete(self) -> bool:
        return self.state == "COMPLETE"
