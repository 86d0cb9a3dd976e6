"""Validation metrics a search optimises, with their direction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import config_context, metrics


@dataclass(frozen=True)
class Metric:
    """A score on (y_true, output) and whether Optuna should maximize it.

    ``output`` is class probabilities (n, n_classes) for classification and predictions in the
    target's original units for regression.
    """

    name: str
    fn: Callable[[np.ndarray, np.ndarray], float]
    maximize: bool

    @property
    def direction(self) -> str:
        return "maximize" if self.maximize else "minimize"

    def __call__(self, y_true: np.ndarray, output: np.ndarray) -> float:
        # Scored after every epoch of every trial: skip sklearn's per-call argument validation.
        with config_context(skip_parameter_validation=True, assume_finite=True):
            return float(self.fn(y_true, output))


def _accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    return metrics.accuracy_score(y, proba.argmax(1))


def _balanced_accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    return metrics.balanced_accuracy_score(y, proba.argmax(1))


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    return metrics.log_loss(y, proba, labels=np.arange(proba.shape[1]))


CLASSIFICATION_METRICS = {
    "accuracy": Metric("accuracy", _accuracy, True),
    "balanced_accuracy": Metric("balanced_accuracy", _balanced_accuracy, True),
    "log_loss": Metric("log_loss", _log_loss, False),
}

REGRESSION_METRICS = {
    "r2": Metric("r2", metrics.r2_score, True),
    "rmse": Metric("rmse", metrics.root_mean_squared_error, False),
}
