"""Tabular preprocessing: numeric and categorical columns, missing values, to float32."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from sklearn.utils import Tags
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from automl_nas.nn import MissingValues

#: One-hot columns kept per categorical feature; rarer levels share an "infrequent" column.
MAX_CATEGORIES = 32

#: A text column whose non-missing values are numbers at least this often "looks numeric": the
#: few that are not are probably typos or missing-value markers, and fit warns about them.
NUMERIC_LOOKING_SHARE = 0.9

#: Examples of offending values that a warning or an error quotes.
N_EXAMPLES = 3

#: Preprocessing that takes more than this share of the time budget is worth a warning.
PREPROCESS_WARN_SHARE = 0.25

#: Most bytes of float64 that :class:`MedianImputeScaler` reads from X at a time: a float64
#: copy of a whole large table would take more memory than the table.
BLOCK_BYTES = 16 * 2**20

#: Bytes of the pieces of a block that ``transform`` computes on: they stay in a core's cache
#: from one step to the next.
CHUNK_BYTES = 256 * 2**10

#: Rows per tile when ``fit`` turns a block of columns into rows: a tile stays in cache.
TILE_ROWS = 512

#: Columns per tile when ``transform`` reads a column-ordered block (a frame's): a tile's
#: columns stay few enough for the cache and the TLB.
TILE_COLUMNS = 64


class DataWarning(UserWarning):
    """The data are probably not what the user meant, or so large that preprocessing them
    takes much of the budget; fit goes on with them as they are."""


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


def _floats(part: pd.DataFrame | np.ndarray) -> np.ndarray:
    """``part`` as float64 with pandas' missing values as NaN: a view where no copy is needed."""
    if isinstance(part, pd.DataFrame):
        return part.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(part, dtype=np.float64)


def _blocks(
    X: pd.DataFrame | np.ndarray, size: int, axis: int, starts: Iterable[int] | None = None
) -> Iterator[tuple[slice, np.ndarray]]:
    """``X`` in blocks of ``size`` rows (axis 0) or columns (axis 1), each as float64: views of
    a float64 array or of a frame of float64 columns, converted copies otherwise. ``starts``:
    the first row or column of each block wanted (default: all blocks)."""
    for start in range(0, X.shape[axis], size) if starts is None else starts:
        part = slice(start, min(start + size, X.shape[axis]))
        index = (part, slice(None)) if axis == 0 else (slice(None), part)
        yield part, _floats(X.iloc[index] if isinstance(X, pd.DataFrame) else X[index])


def _in_threads(work: Callable[[range], None], length: int, size: int, n_jobs: int | None) -> None:
    """``work`` on the block starts ``0, size, 2 size, ...`` of ``length``, cut into one run of
    consecutive blocks per thread of ``n_jobs`` (joblib's convention: None one, -1 all cores).

    numpy's sorts, partitions and arithmetic release the GIL, so the threads share the cores;
    each run keeps one buffer, reused from block to block (a new one per block is fresh memory,
    faulted in page by page).
    """
    starts = range(0, length, size)
    threads = max(1, min(effective_n_jobs(n_jobs), len(starts)))
    if threads == 1:
        work(starts)
        return
    runs = [starts[i * len(starts) // threads : (i + 1) * len(starts) // threads]
            for i in range(threads)]
    Parallel(n_jobs=threads, prefer="threads")(delayed(work)(run) for run in runs)


def _copy_columns(values: np.ndarray, out: np.ndarray) -> None:
    """The columns of ``values`` (n x k) into the rows of ``out`` (k x n).

    In tiles of rows: a whole-column transpose of a C-ordered table misses the cache on every
    value and takes several times as long.
    """
    for start in range(0, len(values), TILE_ROWS):
        rows = slice(start, start + TILE_ROWS)
        np.copyto(out[:, rows], values[rows].T)


def _median(values: np.ndarray) -> float:
    """The median of a 1-D float array, which it reorders.

    One partition point and a max: numpy's two-point partition (what ``np.median`` does for an
    even length) takes about three times as long.
    """
    half = len(values) // 2
    values.partition(half)
    if len(values) % 2:
        return float(values[half])
    return float((values[:half].max() + values[half]) / 2)


def _column_stats(values: np.ndarray) -> tuple[float, float, float, int]:
    """Median of a column without its NaNs (0 if all are NaN: ``keep_empty_features``), then
    mean and variance of the column with its NaNs replaced by that median, and its NaN count.

    Reorders and overwrites ``values``.
    """
    missing = np.isnan(values)
    n_missing = int(np.count_nonzero(missing))
    if n_missing:
        present = values[~missing]
        median = _median(present) if len(present) else 0.0
        values[missing] = median
    else:
        median = _median(values)  # reorders values: the mean and variance ignore order
    mean = float(values.mean())
    if not np.isfinite(mean):  # an infinity, which fit reports by column
        return median, mean, np.nan, n_missing
    values -= mean
    # einsum, not ``values @ values``: BLAS would start threads that then spin beside the rest.
    return median, mean, float(np.einsum("i,i->", values, values)) / len(values), n_missing


def _is_constant(var: np.ndarray, mean: np.ndarray, n_samples: int) -> np.ndarray:
    """Variances indistinguishable from 0 after float64 rounding: StandardScaler's rule."""
    eps = np.finfo(np.float64).eps
    return var <= n_samples * eps * var + (n_samples * mean * eps) ** 2


class MedianImputeScaler(TransformerMixin, BaseEstimator):
    """Median imputation with missing-value indicators, then standardisation, as float32.

    The output of ``SimpleImputer(strategy="median", add_indicator=True,
    keep_empty_features=True)`` followed by ``StandardScaler()``, cast to float32: the imputed
    columns, then one indicator column per column that had missing values in ``fit``, all
    standardised with the mean and standard deviation of the imputed training data. Constant
    columns (all-missing ones included) become 0.

    One object instead of that pair because the pair is slow on wide tables (the imputer's
    median goes through masked arrays) and copies the data several times. Here X is read in
    blocks of at most ``BLOCK_BYTES`` of float64 (columns in ``fit``, rows in ``transform``),
    so no float64 copy of the whole matrix is made; statistics and arithmetic are float64,
    only the output is float32.

    Parameters
    ----------
    keep_missing : bool, default=False
        Leave the missing values of the columns that had some in ``fit`` as NaN (their present
        values standardised as above) and add no indicator columns: the output has one column
        per input column, half the matrix of a table with missing values in every column.
        :func:`missing_values` then gives the fill and indicator values, with which a model
        fills and flags them itself (:class:`~automl_nas.nn.MissingFill`) or routes them
        natively (gradient boosting). Columns without missing values in ``fit`` are imputed
        with their median either way.
    n_jobs : int, default=None
        Threads that read X, in blocks of columns in ``fit`` and of rows in ``transform``
        (joblib's convention: None is one, -1 all cores). The result is the same.

    Attributes
    ----------
    medians_ : ndarray of shape (n_features_in_,)
        Median of each input column in ``fit``, NaN ignored; 0 for an all-missing column.
    missing_features_ : ndarray of shape (n_missing,)
        Indices of the input columns that had missing values in ``fit``; each has an indicator
        column.
    mean_ : ndarray of shape (n_features_in_ + n_missing,)
        Mean of each output column before scaling.
    scale_ : ndarray of shape (n_features_in_ + n_missing,)
        Standard deviation of each output column before scaling; 1 for a constant column.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Names of the input columns, when X has string column names.

    See Also
    --------
    sklearn.impute.SimpleImputer, sklearn.preprocessing.StandardScaler : the pair it replaces.

    Examples
    --------
    >>> import numpy as np
    >>> MedianImputeScaler().fit_transform(np.array([[1.0], [np.nan], [3.0]])).shape
    (3, 2)
    >>> MedianImputeScaler(keep_missing=True).fit_transform(np.array([[1.0], [np.nan], [3.0]]))
    array([[-1.2247449],
           [       nan],
           [ 1.2247449]], dtype=float32)
    """

    def __init__(self, keep_missing: bool = False, n_jobs: int | None = None) -> None:
        self.keep_missing = keep_missing
        self.n_jobs = n_jobs

    def __setstate__(self, state: dict) -> None:
        # Scalers pickled before keep_missing and n_jobs existed flagged their missing
        # values and read X in one thread.
        super().__setstate__({"keep_missing": False, "n_jobs": None, **state})

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _validated(self, X: pd.DataFrame | np.ndarray, *, reset: bool) -> pd.DataFrame | np.ndarray:
        # Frames are read block by block: converting a mixed-dtype one whole would copy it.
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
                    f"required by {type(self).__name__}."
                )
            return X
        return validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)

    def _check_finite(self, values: np.ndarray, first: int) -> None:
        """Raise if ``values`` (X's columns from ``first`` on) hold an infinity, naming it."""
        if np.isfinite(values.sum()):  # scikit-learn's fast path: one reduction, no mask
            return
        infinite = np.isinf(values).any(axis=0)
        if infinite.any():
            self._raise_infinite(first + int(np.argmax(infinite)))

    def _raise_infinite(self, column: int) -> None:
        names = getattr(self, "feature_names_in_", None)
        name = repr(names[column]) if names is not None else f"{column} (0-based)"
        raise ValueError(
            f"Input X contains infinity (or values too large to sum) in column {name}; replace "
            "them with finite values or NaN (missing values are imputed)"
        )

    def fit(self, X: pd.DataFrame | np.ndarray, y: object = None) -> MedianImputeScaler:
        """Learn each column's median, which columns have missing values, and the scaling."""
        X = self._validated(X, reset=True)
        n, p = X.shape
        stats = np.zeros((4, p))  # median, mean, variance, number missing of each column
        size = max(1, BLOCK_BYTES // (8 * n))

        def columns_of(starts: range) -> None:
            buffer = np.empty((min(size, p), n))  # a block, one column per row
            for block, values in _blocks(X, size, axis=1, starts=starts):
                columns = buffer[: block.stop - block.start]
                _copy_columns(values, columns)
                for column, row in zip(range(block.start, block.stop), columns, strict=True):
                    stats[:, column] = _column_stats(row)

        _in_threads(columns_of, p, size, self.n_jobs)
        self.medians_, mean, var, n_missing = stats
        if not np.isfinite(mean).all():
            self._raise_infinite(int(np.argmax(~np.isfinite(mean))))
        self.missing_features_ = np.flatnonzero(n_missing)
        share = n_missing[self.missing_features_] / n  # the indicators' means
        self.mean_ = np.concatenate([mean, share])
        var = np.concatenate([var, share * (1 - share)])
        self.scale_ = np.where(_is_constant(var, self.mean_, n), 1.0, np.sqrt(var))
        return self

    def transform(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Impute, flag and standardise ``X``: a C-contiguous float32 matrix."""
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        n, p = X.shape
        width = p if self.keep_missing else len(self.mean_)
        out = np.empty((n, width), dtype=np.float32)
        # What a missing value becomes: its column's median, standardised; NaN where kept.
        fill = self._fill_values()
        if self.keep_missing:
            fill[self.missing_features_] = np.nan
        flag_values = self._flag_values()
        size = max(1, BLOCK_BYTES // (8 * p))

        def rows_of(starts: range) -> None:
            buffer = np.empty(max(1, CHUNK_BYTES // 8))
            for rows, values in _blocks(X, size, axis=0, starts=starts):
                # Whole rows of a row-ordered block; tiles of a column-ordered one (a frame's
                # usually), whose rows are too scattered in memory to be read one by one.
                tile_width = p if values.flags.c_contiguous else TILE_COLUMNS
                height = max(1, len(buffer) // tile_width)
                tiles = itertools.product(range(0, len(values), height), range(0, p, tile_width))
                for top, left in tiles:
                    tile = values[top : top + height, left : left + tile_width]
                    rows_out = out[rows][top : top + height]
                    self._transform_tile(tile, left, rows_out, buffer, fill, flag_values)

        _in_threads(rows_of, n, size, self.n_jobs)
        return out

    def _fill_values(self) -> np.ndarray:
        """Each input column's value for a missing entry: its median, standardised (a new
        array; :func:`missing_values` reads it too)."""
        p = self.n_features_in_
        return (self.medians_ - self.mean_[:p]) / self.scale_[:p]

    def _flag_values(self) -> tuple[np.ndarray, np.ndarray]:
        """Each indicator column's standardised value where its column's value is present,
        and where it is missing (:func:`missing_values` reads them too)."""
        p = self.n_features_in_
        share, spread = self.mean_[p:], self.scale_[p:]
        return -share / spread, (1 - share) / spread

    def _transform_tile(
        self,
        tile: np.ndarray,
        left: int,
        out: np.ndarray,
        buffer: np.ndarray,
        fill: np.ndarray,
        flag_values: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """X's columns from ``left`` on, of some rows (``tile``), into those rows of the output;
        ``fill``: each column's value for a missing one (NaN: kept missing); ``flag_values``:
        the indicators' values (:meth:`_flag_values`)."""
        p = self.n_features_in_
        columns = slice(left, left + tile.shape[1])
        mean, scale = self.mean_[columns], self.scale_[columns]
        chunk = np.subtract(tile, mean, out=buffer[: tile.size].reshape(tile.shape))
        missing = np.isnan(chunk)
        values = out[:, columns]
        np.divide(chunk, scale, out=values, casting="same_kind")
        np.copyto(values, fill[columns], where=missing, casting="same_kind")
        # With NaN filled, one sum shows whether X held an infinity; chunk tells which column
        # (and whether a NaN left missing is all there is).
        if not np.isfinite(values.sum()):
            self._check_finite(chunk, left)
        # The indicators of this tile's columns, set where a value is missing.
        first, stop = np.searchsorted(self.missing_features_, [columns.start, columns.stop])
        if first == stop or self.keep_missing:
            return
        present, absent = flag_values
        flags = out[:, p + first : p + stop]
        flags[:] = present[first:stop]
        flagged = missing[:, self.missing_features_[first:stop] - left]
        np.copyto(flags, absent[first:stop], where=flagged, casting="same_kind")

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> np.ndarray:
        """The input names, then ``missingindicator_<name>`` per indicator (as SimpleImputer;
        none with ``keep_missing``)."""
        check_is_fitted(self, "n_features_in_")
        names = _check_feature_names_in(self, input_features)
        if self.keep_missing:
            return names
        flags = [f"missingindicator_{name}" for name in names[self.missing_features_]]
        return np.concatenate([names, np.asarray(flags, dtype=object)])


def _numeric(keep_missing: bool = False, n_jobs: int | None = None) -> Pipeline:
    # Median imputation plus a missing-indicator column keeps the information that a value was
    # absent (filled and flagged by the models themselves with keep_missing).
    return make_pipeline(ToNumbers(), MedianImputeScaler(keep_missing=keep_missing, n_jobs=n_jobs))


def _scalers(preprocessor: object) -> Iterator[tuple[int, MedianImputeScaler]]:
    """The fitted :class:`MedianImputeScaler` s of ``preprocessor`` (one of
    :func:`make_preprocessor`), each with the first output column it writes."""
    if isinstance(preprocessor, Pipeline):
        if isinstance(preprocessor[-1], MedianImputeScaler):
            yield 0, preprocessor[-1]
        return
    if isinstance(preprocessor, ColumnTransformer):
        for name, part in preprocessor.output_indices_.items():
            if part.start == part.stop:  # a branch without columns, left unfitted
                continue
            branch = preprocessor.named_transformers_.get(name)
            for offset, scaler in _scalers(branch):
                yield part.start + offset, scaler


def missing_values(preprocessor: object) -> MissingValues | None:
    """The columns a fitted ``make_preprocessor(X, keep_missing=True)`` leaves NaN in, with
    the values that fill and flag them as its ``keep_missing=False`` twin writes them; None
    if it leaves none (no missing values in ``fit``, or ``keep_missing`` off)."""
    columns: list[int] = []
    fill: list[float] = []
    flag_off: list[float] = []
    flag_on: list[float] = []
    for offset, scaler in _scalers(preprocessor):
        if not scaler.keep_missing:
            continue
        kept = scaler.missing_features_
        columns += (offset + kept).tolist()
        fill += scaler._fill_values()[kept].tolist()
        present, absent = scaler._flag_values()
        flag_off += present.tolist()
        flag_on += absent.tolist()
    if not columns:
        return None
    # Rounded to float32 as the matrix is, so a model fills with what the twin would write.
    as32 = [tuple(np.float32(v).item() for v in values) for values in (fill, flag_off, flag_on)]
    return MissingValues(tuple(columns), *as32)


def preprocessing_warning(seconds: float, time_budget: float) -> str | None:
    """A message when preprocessing took more than ``PREPROCESS_WARN_SHARE`` of the budget.

    That time is not spent searching; the message says so and what helps.
    """
    if time_budget <= 0 or seconds <= PREPROCESS_WARN_SHARE * time_budget:
        return None
    return (
        f"preprocessing the data took {seconds:.1f} s, {seconds / time_budget:.0%} of the "
        f"{time_budget:g} s time budget, which leaves less time for the search; raise "
        "time_budget, or pass fewer rows or columns (e.g. drop unused or duplicate columns)"
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


def _temporal(keep_missing: bool = False) -> Pipeline:
    return Pipeline([("seconds", TemporalToSeconds()), *_numeric(keep_missing).steps])


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


def make_preprocessor(
    X: np.ndarray | pd.DataFrame, keep_missing: bool = False, n_jobs: int | None = None
) -> Pipeline | ColumnTransformer:
    """An unfitted transformer turning ``X`` into a dense float matrix for a network.

    DataFrames: numeric columns are median-imputed (with missing indicators) and standardised
    (:class:`MedianImputeScaler`, to float32); datetime and timedelta columns become seconds
    and then take the numeric branch; object, string, category and bool columns are one-hot
    encoded with missing as its own level and unseen levels ignored at predict time; their
    values are compared as text, so a column mixing numbers and strings works (``1`` and
    ``"1"`` are one level). Arrays are numeric and get the numeric branch.

    ``keep_missing``: numeric and temporal columns with missing values in ``fit`` keep them as
    NaN, without indicator columns, for models that fill and flag them themselves
    (:func:`missing_values`, :class:`MedianImputeScaler`). ``n_jobs``: threads of the numeric
    branch (:class:`MedianImputeScaler`).

    Warns (:class:`DataWarning`) about text columns that look numeric but for a few values; at
    predict time, text in a column that was numeric is an error that names the column.
    """
    if not isinstance(X, pd.DataFrame):
        return _numeric(keep_missing, n_jobs)
    warn_numeric_looking(X)
    categorical = ["object", "string", "category", "bool"]
    temporal = ["datetime", "datetimetz", "timedelta"]
    return ColumnTransformer(
        [
            (
                "numeric",
                _numeric(keep_missing, n_jobs),
                make_column_selector(dtype_exclude=categorical + temporal),
            ),
            ("temporal", _temporal(keep_missing), make_column_selector(dtype_include=temporal)),
            ("categorical", _categorical(), make_column_selector(dtype_include=categorical)),
        ],
        sparse_threshold=0.0,
    )
