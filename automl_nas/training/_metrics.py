"""Validation metrics a search optimises, with their direction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import config_context, metrics


@dataclass(frozen=True)
class Metric:
    """A score on (y_true, output) and whether Optuna should maximize it.

    ``y_true`` is class codes 0..n_classes-1 and ``output`` class probabilities (n, n_classes)
    for classification; for regression both are in the target's original units.
    """

    name: str
    fn: Callable[[np.ndarray, np.ndarray], float]
    maximize: bool

    @property
    def direction(self) -> str:
        return "maximize" if self.maximize else "minimize"

    def __call__(self, y_true: np.ndarray, output: np.ndarray) -> float:
        # Scored after every epoch of every trial: skip sklearn's per-call argument validation
        # (the regression metrics are scikit-learn's own).
        with config_context(skip_parameter_validation=True, assume_finite=True):
            return float(self.fn(y_true, output))


# The classification metrics are scored on every epoch of every trial and in every round of
# ensemble selection, on class codes 0..n_classes-1 and probabilities: computed directly in numpy
# they give scikit-learn's values (tests/training/test_metrics.py) at 1-2% of its cost, which
# spends milliseconds per call checking target types.


def _accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    """Share of rows whose most probable class is the true one (``accuracy_score``)."""
    return float(np.mean(proba.argmax(1) == y))


def rebalanced(proba: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The class each row's ``proba / prior`` is highest for: the decision balanced accuracy
    rewards.

    Balanced accuracy weighs every class's recall equally, so with calibrated probabilities
    its best decision is the class most over-represented relative to its share ``prior``, not
    the most probable class (which rarely names a class of a few percent of the rows). A class
    of share 0 is never chosen.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(prior > 0, proba / prior, -np.inf)
    return ratio.argmax(1)


def _balanced_accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean recall over the classes present in ``y`` of the :func:`rebalanced` decision, the
    prior being the class shares of ``y`` (``balanced_accuracy_score`` of those labels)."""
    support = np.bincount(y, minlength=proba.shape[1])
    pred = rebalanced(proba, support / len(y))
    hits = np.bincount(y[pred == y], minlength=proba.shape[1])
    present = support > 0
    return float(np.mean(hits[present] / support[present]))


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-probability of the true class, clipped as ``log_loss`` clips it."""
    eps = np.finfo(proba.dtype).eps
    true_class = np.clip(proba[np.arange(len(y)), y], eps, 1 - eps)
    return float(-np.mean(np.log(true_class)))


CLASSIFICATION_METRICS = {
    "accuracy": Metric("accuracy", _accuracy, True),
    "balanced_accuracy": Metric("balanced_accuracy", _balanced_accuracy, True),
    "log_loss": Metric("log_loss", _log_loss, False),
}

REGRESSION_METRICS = {
    "r2": Metric("r2", metrics.r2_score, True),
    "rmse": Metric("rmse", metrics.root_mean_squared_error, False),
}
