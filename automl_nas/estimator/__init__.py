"""The scikit-learn estimators."""

from automl_nas.estimator._base import BaseAutoNAS
from automl_nas.estimator._classifier import AutoNASClassifier
from automl_nas.estimator._regressor import AutoNASRegressor

__all__ = ["AutoNASClassifier", "AutoNASRegressor", "BaseAutoNAS"]
