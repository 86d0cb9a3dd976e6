"""SearchSpec: everything any process needs to run trials of one search, written once by fit."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import optuna
import torch
from torch import nn

from automl_nas.estimator._objective import ModelStore, TrialObjective
from automl_nas.space import SearchSpace
from automl_nas.stages import BaseStage, SearchContext
from automl_nas.training import Metric, TensorData, to_device


@dataclass
class SearchSpec:
    """The search as data: preprocessed split, space, loss, metric, pruner and stages.

    ``fit`` builds one and runs its trials in-process; with a shared storage it also saves it
    (``torch.save``) beside the study so worker processes build the very same objective, on
    the same split, and a resumed ``fit`` can check it searches the same data
    (``fingerprint``). Arrays are on CPU; :meth:`context` moves them to the training device.
    """

    space: SearchSpace
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    y_val_metric: np.ndarray
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
    stages: list[BaseStage]
    fingerprint: str
    cost_objective: str | None = None
    max_params: int | None = None

    def context(
        self, deadline: float, device: torch.device, *, n_jobs: int = 1, seed: int | None = None
    ) -> SearchContext:
        """A search context with the split on ``device`` (pinned-memory copies on CUDA)."""
        target_dtype = torch.long if self.y_train.dtype.kind in "iu" else torch.float32
        data = TensorData(
            to_device(self.X_train, device, torch.float32),
            to_device(self.y_train, device, target_dtype),
            to_device(self.X_val, device, torch.float32),
            to_device(self.y_val, device, target_dtype),
        )
        return SearchContext(
            space=self.space,
            deadline=deadline,
            n_jobs=n_jobs,
            seed=seed,
            data=data,
            loss_fn=self.loss_fn,
            input_shape=self.input_shape,
            n_outputs=self.n_outputs,
            max_epochs=self.max_epochs,
        )

    def objective(self, context: SearchContext, store: ModelStore) -> TrialObjective:
        """The trial objective on ``context``, keeping trained trials in ``store``."""
        return TrialObjective(
            context,
            y_val=self.y_val_metric,
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
