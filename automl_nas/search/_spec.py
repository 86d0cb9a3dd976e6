"""SearchSpec: everything any process needs to run trials of one search, written once by fit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import torch
from torch import nn

from automl_nas.data import subsample_rows
from automl_nas.search._context import SearchContext
from automl_nas.search._objective import TrialObjective
from automl_nas.search._safe import UnsafeFileError, allow_in_files, safe_load, unreadable_globals
from automl_nas.search._store import TrialStore, write_file
from automl_nas.space import SearchSpace
from automl_nas.training import Metric, TensorData, to_device


@dataclass
class SearchSpec:
    """The search as data: preprocessed rows, validation splits, space, loss, metric, samplers.

    ``fit`` builds one and runs its trials in-process; with a shared storage it also saves it
    beside the study so worker processes build the very same objective, on the same splits,
    and a resumed ``fit`` can check it searches the same data (``fingerprint``). The file is
    read back with :func:`~automl_nas.search.safe_load`: only known classes and functions are
    rebuilt from it, so a planted file runs nothing. ``splits`` are (training rows,
    validation rows) index pairs: one holdout split, or the k folds of cross-validation; a
    split whose rows are a contiguous range (``fit`` orders a holdout's rows so) becomes views
    of ``X``, not copies. ``y_metric`` is the target as the metric reads it. ``trial_rows``:
    the training rows of the search's low-fidelity trials (:meth:`BudgetPlan.trial_rows`; None:
    every trial trains on all of them). Arrays are on CPU; :meth:`context` moves them to the
    training device.
    """

    space: SearchSpace
    X: np.ndarray
    y: np.ndarray
    y_metric: np.ndarray
    splits: list[tuple[np.ndarray, np.ndarray]]
    loss_fn: nn.Module
    metric: Metric
    decode: Callable[[np.ndarray], np.ndarray]
    input_shape: tuple[int, ...]
    n_outputs: int
    max_epochs: int
    patience: int
    seed: int
    keep: int
    pruner: optuna.pruners.BasePruner
    #: Per stage of the search, the sampler (a name or object) workers propose trials with.
    worker_samplers: list
    fingerprint: str
    cost_objective: str | None = None
    max_params: int | None = None
    #: Seconds one trial may train (:attr:`BudgetPlan.trial_seconds`; None: no limit).
    trial_seconds: float | None = None
    #: Per stage, how workers train its trials: None one at a time, else in batches of that
    #: many members (0: the batch stage's own rule, ``batch_members``).
    worker_batches: list = field(default_factory=list)
    #: Training rows of a low-fidelity trial (None: all); a stratified draw from the seed.
    trial_rows: int | None = None

    def context(
        self,
        deadline: float,
        device: torch.device,
        *,
        n_jobs: int = 1,
        seed: int | None = None,
        waves: bool = False,
    ) -> SearchContext:
        """A search context with every split's tensors on ``device`` (pinned copies on CUDA);
        ``waves``: its ``n_jobs`` trials run in waves that repeat from the seed."""
        target_dtype = torch.long if self.y.dtype.kind in "iu" else torch.float32

        def rows(array: np.ndarray, index: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return to_device(_take(array, index), device, dtype)

        folds = [
            TensorData(
                rows(self.X, train, torch.float32),
                rows(self.y, train, target_dtype),
                rows(self.X, val, torch.float32),
                rows(self.y, val, target_dtype),
            )
            for train, val in self.splits
        ]
        low_fidelity = None
        if self.trial_rows is not None and len(self.splits) == 1:
            train, val = self.splits[0]
            stratify = self.y[train] if target_dtype == torch.long else None
            chosen = train[subsample_rows(len(train), self.trial_rows, stratify, self.seed)]
            low_fidelity = TensorData(
                rows(self.X, chosen, torch.float32),
                rows(self.y, chosen, target_dtype),
                folds[0].X_val,
                folds[0].y_val,
            )
        return SearchContext(
            space=self.space,
            deadline=deadline,
            n_jobs=n_jobs,
            seed=seed,
            data=folds[0],
            folds=folds,
            loss_fn=self.loss_fn,
            input_shape=self.input_shape,
            n_outputs=self.n_outputs,
            max_epochs=self.max_epochs,
            trial_seconds=self.trial_seconds,
            waves=waves,
            low_fidelity=low_fidelity,
        )

    def objective(self, context: SearchContext, store: TrialStore) -> TrialObjective:
        """The trial objective on ``context``, keeping trained trials in ``store``."""
        return TrialObjective(
            context,
            y_folds=[self.y_metric[val] for _, val in self.splits],
            metric=self.metric,
            decode=self.decode,
            patience=self.patience,
            seed=self.seed,
            store=store,
            cost_objective=self.cost_objective,
            max_params=self.max_params,
        )

    def build(self, params: Mapping[str, Any]) -> nn.Module:
        """The untrained network of ``params`` for this search's inputs and outputs."""
        return self.space.build(params, self.input_shape, self.n_outputs)

    def save(self, path: str) -> None:
        """Write the spec atomically (a reader never sees half a file).

        Raises :class:`~automl_nas.search.UnsafeFileError` before anything is published if
        the spec holds a class :meth:`load` would refuse (e.g. a custom space or a sampler
        object not allowed with :func:`~automl_nas.search.allow_in_files`).
        """

        def check(tmp: str) -> None:
            refused = unreadable_globals(tmp)
            if refused:
                raise UnsafeFileError(
                    f"the search spec holds {', '.join(refused)}, which workers and a resumed "
                    "fit would refuse to read (they rebuild only known classes, so that a "
                    "planted file runs nothing). Pass samplers and stages by name, or allow "
                    "your own classes with automl_nas.search.allow_in_files in every process"
                )

        # The whole preprocessed training set: FILE_MODE (0o640), never world-readable.
        write_file(self, path, "the search spec (search.pt)", check)

    @staticmethod
    def load(path: str) -> SearchSpec:
        """Read a spec written by :meth:`save`, running no code from the file."""
        spec = safe_load(path, "the search spec")
        if not isinstance(spec, SearchSpec):
            raise UnsafeFileError(f"{path} holds a {type(spec).__name__}, not a search spec")
        return spec


def _take(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``array[index]``: a view when ``index`` is a contiguous ascending range, else a copy."""
    if len(index) and index[-1] - index[0] == len(index) - 1 and np.all(np.diff(index) == 1):
        return array[index[0] : index[-1] + 1]
    return array[index]


allow_in_files(SearchSpec)
