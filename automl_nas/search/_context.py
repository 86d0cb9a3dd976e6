"""The context every stage runs trials in, and the loop that runs the context's objective.

A stage proposes trials; what a trial *is* (the objective, the data, the deadline, the
callbacks that see it finish) is the search's, and the same whatever stage proposed it.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import optuna
from torch import nn

from automl_nas.space import SearchSpace
from automl_nas.training import TensorData


@dataclass
class SearchContext:
    """What every stage needs to run trials the same way as every other stage.

    ``objective`` trains, reports and scores one trial; ``deadline`` is the search's end on the
    ``time.monotonic()`` clock; ``callbacks`` (progress, tracking) see every finished trial.
    Stages that train something of their own (DARTS' supernet) use ``data`` (train/validation
    tensors on the training device), ``loss_fn``, ``input_shape`` and ``n_outputs``. ``folds``
    are the splits every trial trains on: the one holdout split (``data``), or the k folds of
    cross-validation, of which ``data`` is the first (default: ``data`` alone).
    """

    space: SearchSpace
    deadline: float
    objective: Callable[[optuna.Trial], float] | None = None
    n_jobs: int = 1
    seed: int | None = None
    callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = ()
    stage: str = ""
    data: TensorData | None = None
    folds: Sequence[TensorData] = ()
    loss_fn: nn.Module | None = None
    input_shape: tuple[int, ...] = ()
    n_outputs: int = 0
    max_epochs: int = 1
    #: Seconds one trial may train, all folds together (None: until the deadline).
    trial_seconds: float | None = None

    def __post_init__(self) -> None:
        if not self.folds and self.data is not None:
            self.folds = (self.data,)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())


def optimize(
    study: optuna.Study, context: SearchContext, *, n_trials: int | None, timeout: float
) -> None:
    """``study.optimize`` with the context's objective, threads and callbacks.

    Failing trials are caught (recorded as FAIL with their error) so one bad configuration
    never ends a search; the estimator raises if no trial at all completes. A trial that
    another process of a shared search marked FAIL while it ran (its heartbeats came late)
    cannot be reported; it is skipped with a warning and the search goes on (the storage has
    already queued its retry).
    """
    end = time.monotonic() + timeout
    finished: list[int] = []
    callbacks = [*context.callbacks, lambda study, trial: finished.append(trial.number)]
    while True:
        left = None if n_trials is None else n_trials - len(finished)
        remaining = end - time.monotonic()
        if remaining <= 0 or (left is not None and left <= 0) or math.isnan(timeout):
            return
        try:
            study.optimize(
                context.objective,
                n_trials=left,
                timeout=remaining,
                n_jobs=context.n_jobs,
                catch=(Exception,),
                callbacks=callbacks,
            )
            return
        except ValueError as exc:
            if not is_failed_elsewhere(exc):
                raise
            warnings.warn(f"{exc} Another process failed it as stale; going on.", RuntimeWarning,
                          stacklevel=2)


def is_failed_elsewhere(exc: BaseException) -> bool:
    """Whether ``exc`` is Optuna refusing to report a trial that is already finished."""
    return isinstance(exc, ValueError) and str(exc).startswith("Cannot tell a FAIL trial")
