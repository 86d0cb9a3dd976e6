"""SearchSpec: everything any process needs to run trials of one search, written once by fit."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import optuna
import torch
from torch import nn

from automl_nas.search._context import SearchContext
from automl_nas.search._objective import TrialObjective
from automl_nas.search._store import TrialStore
from automl_nas.space import SearchSpace
from automl_nas.training import Metric, TensorData, to_device


@dataclass
class SearchSpec:
    """The search as data: preprocessed rows, validation splits, space, loss, metric, stages.

    ``fit`` builds one and runs its trials in-process; with a shared storage it also saves it
    (``torch.save``) beside the study so worker processes build the very same objective, on
    the same splits, and a resumed ``fit`` can check it searches the same data
    (``fingerprint``). ``splits`` are (training rows, validation rows) index pairs: one
    holdout split, or the k folds of cross-validation. ``y_metric`` is the target as the
    metric reads it. Arrays are on CPU; :meth:`context` moves them to the training device.
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
    #: The stage objects the coordinator runs (workers read which sampler each stage uses).
    stages: list
    fingerprint: str
    cost_objective: str | None = None
    max_params: int | None = None

    def context(
        self, deadline: float, device: torch.device, *, n_jobs: int = 1, seed: int | None = None
    ) -> SearchContext:
        """A search context with every split's tensors on ``device`` (pinned copies on CUDA)."""
        target_dtype = torch.long if self.y.dtype.kind in "iu" else torch.float32
        folds = [
            TensorData(
                to_device(self.X[train], device, torch.float32),
                to_device(self.y[train], device, target_dtype),
                to_device(self.X[val], device, torch.float32),
                to_device(self.y[val], device, target_dtype),
            )
            for train, val in self.splits
        ]
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

    def save(self, path: str) -> None:
        """Write the spec atomically (a reader never sees half a file)."""
        tmp = f"{path}.{os.getpid()}.tmp"
        torch.save(self, tmp)
        os.replace(tmp, path)

    @staticmethod
    def load(path: str) -> SearchSpec:
        """Read a spec written by :meth:`save` (a pickle: only load specs you wrote)."""
        return torch.load(path, weights_only=False)
