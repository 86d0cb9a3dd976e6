"""Input handling: turning user data into tensors a network trains on."""

from automl_nas.data._columns import continuous_columns
from automl_nas.data._image import ImageScaler, flatten_images
from automl_nas.data._split import (
    MIN_SAMPLES_FOR_SPLIT,
    PERMUTE_BLOCK_CELLS,
    cross_validation_folds,
    permute_rows_inplace,
    subsample_rows,
    train_validation_split,
)
from automl_nas.data._tabular import (
    PREPROCESS_WARN_SHARE,
    DataWarning,
    MedianImputeScaler,
    make_preprocessor,
    missing_values,
    preprocessing_warning,
)
from automl_nas.data._task import MAX_AUTO_CLASSES, infer_task

__all__ = [
    "MAX_AUTO_CLASSES",
    "MIN_SAMPLES_FOR_SPLIT",
    "PERMUTE_BLOCK_CELLS",
    "PREPROCESS_WARN_SHARE",
    "DataWarning",
    "ImageScaler",
    "MedianImputeScaler",
    "continuous_columns",
    "cross_validation_folds",
    "flatten_images",
    "infer_task",
    "make_preprocessor",
    "missing_values",
    "permute_rows_inplace",
    "preprocessing_warning",
    "subsample_rows",
    "train_validation_split",
]
