"""Tabular preprocessing: numeric and categorical columns, missing values, to float32."""

from __future__ import annotations

import warnings

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

#: A text column whose non-missing values are numbers at least this often "looks numeric": the
#: few that are not are probably typos or missing-value markers, and fit warns about them.
NUMERIC_LOOKING_SHARE = 0.9

#: Examples of offending values that a warning or an error quotes.
N_EXAMPLES = 3


class DataWarning(UserWarning):
    """The data are probably not what the user meant; fit goes on with them as they are."""


def _examples(values: pd.Series) -> str:
    """``'oops', '?' (and 2 more)``: the most frequent distinct values, quoted."""
    distinct = values.value_counts().index
    shown = ", ".join(repr(v) for v in distinct[:N_EXAMPLES])
    more = len(distinct) - N_EXAMPLES
    return shown + (f" (and {more} more)" if more > 0 else "")


def not_numbers(column: pd.Series) -> pd.Series:
    """The non-missing values of ``column`` that do not read as numbers."""
    present = column.dropna()
    return present[pd.to_numeric(present, errors="coerce").isna()]


def warn_numeric_looking(X: pd.DataFrame) -> None:
    """A :class:`DataWarning` for each text column of numbers with a few values that are not.

    One stray word (``'oops'``, ``'?'``, ``'n/a '``) makes pandas read a whole numeric column as
    text, which the preprocessor then one-hot encodes as categories: legal, rarely meant.
    """
    for name, column in X.select_dtypes(include=["object", "string"]).items():
        present = column.dropna()
        if present.empty:
            continue
        bad = not_numbers(present)
        if 0 < len(bad) <= (1 - NUMERIC_LOOKING_SHARE) * len(present):
            warnings.warn(
                f"column {name!r} looks numeric ({len(present) - len(bad)} of {len(present)} "
                f"values are numbers) but {len(bad)} value(s) are not: {_examples(bad)}; it is "
                "used as a categorical column. To use it as numbers, fix those values or make "
                f"them missing (e.g. pd.to_numeric(X[{name!r}], errors='coerce') or read_csv's "
                "na_values)",
                DataWarning,
                stacklevel=2,
            )


class ToNumbers(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """The numeric columns as float64, with an error naming the column if one holds text.

    Columns that were numbers in ``fit`` may arrive as text in ``transform`` (a CSV with a typo,
    a served model's JSON); scikit-learn's imputer would then fail without naming the column.
    Empty values stay missing (the imputer fills and flags them). Arrays pass through.
    """

    def fit(self, X: pd.DataFrame | np.ndarray, y: object = None) -> ToNumbers:
        self.n_features_in_ = X.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
        check_is_fitted(self)
        if not isinstance(X, pd.DataFrame):
            return X
        # Numeric columns pass as they are: only text ones are converted (and the frame copied).
        text = [
            (position, name, column)
            for position, (name, column) in enumerate(X.items())
            if not pd.api.types.is_numeric_dtype(column)
        ]
        if not text:
            return X
        numbers = X.copy()
        for position, name, column in text:
            values = pd.to_numeric(column, errors="coerce")
            bad = values.isna().to_numpy() & column.notna().to_numpy()
            if bad.any():
                rows = np.flatnonzero(bad)
                raise ValueError(
                    f"column {name!r} was numeric in training but holds {len(rows)} value(s) "
                    f"that are not numbers: {_examples(X.iloc[rows, position])} (0-based rows "
                    f"{rows[:N_EXAMPLES].tolist()}{' ...' if len(rows) > N_EXAMPLES else ''}); "
                    "fix them or leave them empty (missing values are imputed)"
                )
            numbers[name] = values.astype(np.float64)
        return numbers


def _numeric() -> Pipeline:
    # Median imputation plus a missing-indicator column keeps the information that a value was absent.
    return make_pipeline(
        ToNumbers(),
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
    """Categorical/string/bool columns as plain objects with one missing marker.

    Kept for models pickled before :func:`_as_text`, whose encoders learned the raw values.
    """
    return frame.astype(object).where(frame.notna(), "__missing__")


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical/string/bool columns as text, with one missing marker.

    Every value becomes its text (``str``), so that a column mixing types (numbers and
    strings, or bools with missing values) is one set of levels, not scikit-learn's "Encoders
    require their input argument must be uniformly strings or numbers": ``1`` and ``"1"`` are
    then the same level, ``1`` and ``1.0`` are not.
    """
    return frame.astype(object).where(frame.notna(), "__missing__").astype(str)


def _categorical() -> Pipeline:
    return make_pipeline(
        FunctionTransformer(_as_text, feature_names_out="one-to-one"),
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
    unseen levels ignored at predict time; their values are compared as text, so a column
    mixing numbers and strings works (``1`` and ``"1"`` are one level). Arrays are numeric and get the numeric branch.

    Warns (:class:`DataWarning`) about text columns that look numeric but for a few values; at
    predict time, text in a column that was numeric is an error that names the column.
    """
    if not isinstance(X, pd.DataFrame):
        return _numeric()
    warn_numeric_looking(X)
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
