"""Which estimator a target calls for, when the user does not say: one rule for every front end."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

#: An integer target with at most this many distinct values is a classification target.
MAX_AUTO_CLASSES = 20


def infer_task(y: Any) -> Literal["classification", "regression"]:
    """``"classification"`` or ``"regression"`` for the 1-D target ``y``, from its dtype.

    Classification for a target that is not numeric (text, objects, categorical, even with
    numeric categories) or is boolean, and for integers (nullable ones too) with at most
    ``MAX_AUTO_CLASSES`` distinct values; regression for every other numeric target, floats
    always (``[0.0, 1.0]`` is regression: say the task when floats are labels). Missing
    values are not counted as a value.

    Args:
        y: A pandas Series or anything ``pd.Series`` accepts (list, 1-D array).

    Raises:
        ValueError: ``y`` is not one-dimensional.
    """
    if not isinstance(y, pd.Series):
        values = y if isinstance(y, pd.Index | pd.Categorical) else np.asarray(y)
        if values.ndim != 1:
            raise ValueError(
                f"infer_task needs a 1-D target, got shape {values.shape}; infer the task of "
                "each column, or name it"
            )
        y = pd.Series(values)
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    if pd.api.types.is_integer_dtype(y) and y.nunique() <= MAX_AUTO_CLASSES:
        return "classification"
    return "regression"
