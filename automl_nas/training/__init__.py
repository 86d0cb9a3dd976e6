"""Training a sampled network: device handling, metrics and the epoch loop."""

from automl_nas.training._decode import probabilities, target_units
from automl_nas.training._device import amp_dtype, resolve_device, single_threaded_cpu, to_device
from automl_nas.training._metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS, Metric
from automl_nas.training._trainer import (
    SCHEDULES,
    DataInitialised,
    TensorData,
    TrainResult,
    forward_all,
    lr_factor,
    member_loss,
    train,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "SCHEDULES",
    "DataInitialised",
    "Metric",
    "TensorData",
    "TrainResult",
    "amp_dtype",
    "forward_all",
    "lr_factor",
    "member_loss",
    "probabilities",
    "resolve_device",
    "single_threaded_cpu",
    "target_units",
    "to_device",
    "train",
]
