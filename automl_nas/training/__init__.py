"""Training a sampled network: device handling, metrics and the epoch loop."""

from automl_nas.training._batched import MEMBER_PARAMS, StackedOptimizer, train_stacked
from automl_nas.training._decode import probabilities, target_units
from automl_nas.training._device import (
    amp_dtype,
    available_cores,
    cpu_threads,
    plan_parallelism,
    resolve_device,
    to_device,
)
from automl_nas.training._boosting import ROUNDS_PER_EPOCH, fit_boosted_trees
from automl_nas.training._cost import dense_rate, forward_flops_per_row, least_epoch_seconds
from automl_nas.training._fitted import fit_linear_model
from automl_nas.training._memory import FreedMemoryKeeper, keeper_growth, release_freed_memory
from automl_nas.training._metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    Metric,
    rebalanced,
)
from automl_nas.training._trainer import (
    SCHEDULES,
    DataInitialised,
    EpochCallback,
    TensorData,
    TooSlowForLimit,
    TrainResult,
    forward_all,
    lr_factor,
    member_loss,
    train,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "MEMBER_PARAMS",
    "REGRESSION_METRICS",
    "ROUNDS_PER_EPOCH",
    "SCHEDULES",
    "StackedOptimizer",
    "DataInitialised",
    "EpochCallback",
    "FreedMemoryKeeper",
    "Metric",
    "TensorData",
    "TooSlowForLimit",
    "TrainResult",
    "amp_dtype",
    "available_cores",
    "cpu_threads",
    "dense_rate",
    "fit_boosted_trees",
    "fit_linear_model",
    "forward_all",
    "forward_flops_per_row",
    "keeper_growth",
    "least_epoch_seconds",
    "lr_factor",
    "member_loss",
    "plan_parallelism",
    "probabilities",
    "rebalanced",
    "release_freed_memory",
    "resolve_device",
    "target_units",
    "to_device",
    "train",
    "train_stacked",
]
