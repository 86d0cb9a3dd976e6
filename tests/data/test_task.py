"""infer_task: the one rule by which the command line and the MLflow project pick an estimator."""

import numpy as np
import pandas as pd
import pytest

from automl_nas.data import MAX_AUTO_CLASSES, infer_task


@pytest.mark.parametrize(
    "y",
    [
        pd.Series(["a", "b", "a"]),
        pd.Series(["a", "b"], dtype="string"),
        pd.Series([True, False]),
        pd.Series([True, None], dtype="boolean"),
        pd.Series(pd.Categorical([1.5, 2.5, 1.5])),  # categorical: labels, though numeric
        pd.Series([0, 1, 2, 1]),
        pd.Series([0, 1, None], dtype="Int64"),  # nullable integers; the missing value not counted
        pd.Series(np.arange(4, dtype=np.uint8)),
        pd.Series(range(MAX_AUTO_CLASSES)),  # the limit is inclusive
        pd.Series([1, "a", 2.5]),  # mixed objects
    ],
    ids=lambda y: str(y.dtype),
)
def test_classification_targets(y):
    assert infer_task(y) == "classification"


@pytest.mark.parametrize(
    "y",
    [
        pd.Series(range(MAX_AUTO_CLASSES + 1)),
        pd.Series(range(100)),
        pd.Series([0.5, 1.0, 2.0]),
        pd.Series([0.0, 1.0, 0.0]),  # floats are never guessed to be labels
        pd.Series([1.0, np.nan, 3.0]),
    ],
    ids=lambda y: f"{y.dtype}-{len(y)}",
)
def test_regression_targets(y):
    assert infer_task(y) == "regression"


def test_array_likes_as_well_as_series():
    assert infer_task(["yes", "no"]) == "classification"
    assert infer_task(np.array([0, 1, 1])) == "classification"
    assert infer_task(np.linspace(0, 1, 50)) == "regression"
    assert infer_task(pd.Categorical([1, 2, 1])) == "classification"


def test_a_two_dimensional_target_is_refused():
    with pytest.raises(ValueError, match="1-D target, got shape \\(3, 2\\)"):
        infer_task(np.zeros((3, 2)))
