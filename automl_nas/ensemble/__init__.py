"""Ensemble selection over a search's trials and the ensemble model it produces."""

from automl_nas.ensemble._model import EnsembleModel
from automl_nas.ensemble._selection import greedy_ensemble

__all__ = ["EnsembleModel", "greedy_ensemble"]
