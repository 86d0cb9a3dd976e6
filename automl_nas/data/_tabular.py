"""Tabular preprocessing: numeric and categorical columns, missing values, to float32."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

#: One-hot columns kept per categorical feature; rarer levels share an "infrequent" column.
MAX_CATEGORIES = 32


def _numeric() -> Pipeline:
    # Median imputation plus a missing-indicator column keeps the information that a value was absent.
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )


class TemporalToSeconds(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Datetime columns as seconds since 1970 (UTC for time-zone aware ones), durations as
    seconds; NaT becomes NaN, which the numeric branch then imputes and flags.

    ``fit`` records each column's kind, so ``transform`` also reads those columns as text (what
    a model served over REST without an input schema receives) or in another time zone.
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> TemporalToSeconds:
        self.kinds_ = {
            name: "duration" if pd.api.types.is_timedelta64_dtype(column)
            else "zoned" if isinstance(column.dtype, pd.DatetimeTZDtype) else "naive"
            for name, column in X.items()
        }
        self.feature_names_in_ = np.asarray(list(self.kinds_), dtype=object)
        self.n_features_in_ = len(self.kinds_)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self)
        seconds = {}
        for name, kind in self.kinds_.items():
            column = X[name]
            if kind == "duration":
                seconds[name] = pd.to_timedelta(column).dt.total_seconds()
                continue
            column = pd.to_datetime(column, utc=kind == "zoned")
            if isinstance(column.dtype, pd.DatetimeTZDtype):
                column = column.dt.tz_convert("UTC").dt.tz_localize(None)
            seconds[name] = (column - pd.Timestamp("1970-01-01")).dt.total_seconds()
        return pd.DataFrame(seconds, index=X.index)


def _temporal() -> Pipeline:
    return Pipeline([("seconds", TemporalToSeconds()), *_numeric().steps])


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
    datetime and timedelta columns become seconds and then take the numeric branch; object,
    string, category and bool columns are one-hot encoded with missing as its own level and
    unseen levels ignored at predict time. Arrays are numeric and get the numeric branch.
    """
    if not isinstance(X, pd.DataFrame):
        return _numeric()
    categorical = ["object", "string", "category", "bool"]
    temporal = ["datetime", "datetimetz", "timedelta"]
    return ColumnTransformer(
        [
            ("numeric", _numeric(), make_column_selector(dtype_exclude=categorical + temporal)),
            ("temporal", _temporal(), make_column_selector(dtype_include=temporal)),
            ("categorical", _categorical(), make_column_selector(dtype_include=categorical)),
        ],
        sparse_threshold=0.0,
    )
