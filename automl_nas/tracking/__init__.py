"""Experiment tracking of a search; MLflow is optional and imported only when tracking is on."""

from automl_nas.tracking._base import BaseTracker
from automl_nas.tracking._mlflow import MlflowTracker, TrackingWarning
from automl_nas.tracking._registry import promote

__all__ = ["BaseTracker", "MlflowTracker", "TrackingWarning", "promote"]
