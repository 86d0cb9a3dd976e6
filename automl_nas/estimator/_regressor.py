"""AutoNASRegressor: joint HPO + NAS for (multi-output) regression."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_array
from torch import nn

from automl_nas.estimator._base import BaseAutoNAS
from automl_nas.training import REGRESSION_METRICS, Metric


class AutoNASRegressor(RegressorMixin, BaseAutoNAS):
    """Regressor whose ``fit`` searches network architecture and training hyperparameters jointly.

    Targets are standardised for training (MSE on the scaled target) and mapped back for
    prediction and for the validation ``metric`` ("r2" by default, or "rmse"). A 2-D ``y``
    trains one network with one output per column. Parameters are those of
    :class:`AutoNASClassifier`.

    Attributes:
        y_mean_, y_scale_: The target standardisation.
        study_, ensemble_, ensemble_weights_, refitted_, best_params_, best_score_, best_model_,
        preprocessor_: As for the classifier; ``ensemble_`` averages the members' predictions.

    Example:
        >>> from sklearn.datasets import load_diabetes
        >>> X, y = load_diabetes(return_X_y=True)
        >>> reg = AutoNASRegressor(n_trials=2, max_epochs=5, random_state=0).fit(X, y)
        >>> reg.predict(X[:2]).shape
        (2,)
    """

    _task = "regression"
    _parameter_constraints: dict = {
        **BaseAutoNAS._parameter_constraints,
        "metric": [StrOptions(set(REGRESSION_METRICS)), None],
    }

    def _encode_target(self, y: Any) -> tuple[np.ndarray, int]:
        y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y", estimator=self)
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
        self._y_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1).astype(np.float64)
        self.y_mean_ = y2.mean(axis=0)
        scale = y2.std(axis=0)
        self.y_scale_ = np.where(scale > 0, scale, 1.0)
        return ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32), y2.shape[1]

    def _metric(self) -> Metric:
        return REGRESSION_METRICS[self.metric or "r2"]

    def _loss(self) -> nn.Module:
        return nn.MSELoss()

    def _decoder(self) -> Callable[[np.ndarray], np.ndarray]:
        return partial(_target_units, mean=self.y_mean_, scale=self.y_scale_, ravel=self._y_1d)

    def _metric_target(self, y: np.ndarray) -> np.ndarray:
        return self._decode(y)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions in the units of ``y``."""
        return self._predict_output(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _target_units(output: np.ndarray, *, mean: np.ndarray, scale: np.ndarray, ravel: bool) -> np.ndarray:
    """Standardised network outputs back in the units of ``y`` (float64; 1-D for a 1-D ``y``)."""
    pred = output.astype(np.float64) * scale + mean
    return pred.ravel() if ravel else pred
