"""Scale-out: many processes share one search through an Optuna storage (no extra scheduler)."""

from automl_nas.distributed._storage import make_storage
from automl_nas.distributed._worker import run_worker

__all__ = ["make_storage", "run_worker"]
