"""Tabular preprocessing: numeric and categorical columns, missing values, to float32."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

#: One-hot columns kept per categorical feature; rarer levels share an "infrequent" column.
MAX_CATEGORIES = 32


def _numeric() -> Pipeline:
    # Median imputation plus a missing-indicator column keeps the information that a value was absent.
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )


def _as_object(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical/string/bool columns as plain objects with one missing marker."""
    return frame.astype(object).where(frame.notna(), "__missing__")


def _categorical() -> Pipeline:
    return make_pipeline(
        FunctionTransformer(_as_object, feature_names_out="one-to-one"),
        OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=MAX_CATEGORIES,
            sparse_output=False,
            dtype=np.float32,
        ),
    )


def make_preprocessor(X: np.ndarray | pd.DataFrame) -> Pipeline | ColumnTransformer:
    """An unfitted transformer turning ``X`` into a dense float matrix for a network.

    DataFrames: numeric columns are median-imputed (with missing indicators) and standardised;
    object, string, category and bool columns are one-hot encoded with missing as its own level
    and unseen levels ignored at predict time. Arrays are numeric and get the numeric branch.
    """
    if not isinstance(X, pd.DataFrame):
        return _numeric()
    categorical = make_column_selector(dtype_include=["object", "string", "category", "bool"])
    return ColumnTransformer(
        [
            ("numeric", _numeric(), make_column_selector(dtype_exclude=["object", "string", "category", "bool"])),
            ("categorical", _categorical(), categorical),
        ],
        sparse_threshold=0.0,
    )
