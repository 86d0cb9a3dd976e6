"""The context every stage runs trials in.

A stage proposes trials; what a trial *is* (the objective, the data, the deadline, the
callbacks that see it finish) is the search's, and the same whatever stage proposed it.
"""

from __future__ import annotations

import time
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
    ``low_fidelity``: the holdout split with a subsample of its training rows, on which the
    search's trials train when the rows are many (:meth:`BudgetPlan.trial_rows`); trials a
    stage gives seconds of their own (promotion) train on ``data``.
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
    #: Run ``n_jobs`` trials at once in waves that repeat from the seed (``optimize``).
    waves: bool = False
    low_fidelity: TensorData | None = None

    def __post_init__(self) -> None:
        if not self.folds and self.data is not None:
            self.folds = (self.data,)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())
