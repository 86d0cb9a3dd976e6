"""MedianImputeScaler: the numeric branch, equal to SimpleImputer(median) + StandardScaler."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from automl_nas.data import (
    PREPROCESS_WARN_SHARE,
    MedianImputeScaler,
    _tabular,
    make_preprocessor,
    preprocessing_warning,
)


def _reference() -> Pipeline:
    """The numeric branch before MedianImputeScaler."""
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )


def _table(n_rows: int, seed: int = 0) -> np.ndarray:
    """Columns of varied location and scale with 10% NaN; column 5 is all NaN, column 6 constant
    and column 7 constant but for NaN."""
    rng = np.random.default_rng(seed)
    scale = np.array([1, 10, 1e3, 0.01, 1, 1, 1, 1, 5])
    location = np.array([0, 5, 1e6, 0, -3, 0, 0, 0, 2])
    X = rng.normal(size=(n_rows, 9)) * scale + location
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:, 5] = np.nan
    X[:, 6] = 2.5
    X[:, 7] = np.where(np.isnan(X[:, 7]), np.nan, -1.0)
    X[:, 8] = np.round(X[:, 8])  # ties: the median of an even count averages two equal values
    return X


def _assert_same(new: np.ndarray, old: np.ndarray) -> None:
    assert new.dtype == np.float32 and new.flags.c_contiguous
    np.testing.assert_allclose(new, old.astype(np.float32), rtol=1e-6, atol=1e-6)


@pytest.fixture
def small_pieces(monkeypatch):
    """Blocks, chunks and tiles of a few values, so small tables take every path through them."""
    monkeypatch.setattr(_tabular, "BLOCK_BYTES", 8 * 40)
    monkeypatch.setattr(_tabular, "CHUNK_BYTES", 8 * 12)
    monkeypatch.setattr(_tabular, "TILE_ROWS", 3)
    monkeypatch.setattr(_tabular, "TILE_COLUMNS", 2)


@parametrize_with_checks([MedianImputeScaler()])
def test_scikit_learn_conventions(estimator, check):
    check(estimator)


@pytest.mark.parametrize("n_rows", [1, 2, 7, 200, 201])
def test_same_output_as_imputer_and_scaler(n_rows):
    X, other = _table(n_rows), _table(50, seed=1)
    new, old = MedianImputeScaler().fit(X), _reference().fit(X)
    _assert_same(new.transform(X), old.transform(X))
    _assert_same(new.transform(other), old.transform(other))  # NaN where fit saw none too


def test_same_output_when_read_in_many_pieces(small_pieces):
    X, other = _table(101), _table(37, seed=1)
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    old = _reference().fit(X)
    for data, later in [(X, other), (frame, pd.DataFrame(other, columns=frame.columns))]:
        new = MedianImputeScaler().fit(data)
        _assert_same(new.transform(data), old.transform(X))
        _assert_same(new.transform(later), old.transform(other))
    assert frame.to_numpy().flags.f_contiguous  # the frame took the column-ordered path


@pytest.mark.parametrize("keep_missing", [False, True])
def test_threads_give_the_same_output_bit_for_bit(small_pieces, keep_missing):
    # Blocks of a few values: each thread gets several, in fit (columns) and transform (rows).
    X, other = _table(101), _table(37, seed=1)
    names = [f"c{i}" for i in range(X.shape[1])]
    frames = pd.DataFrame(X, columns=names), pd.DataFrame(other, columns=names)
    for data, later in [(X, other), frames]:
        one = MedianImputeScaler(keep_missing=keep_missing).fit(data)
        three = MedianImputeScaler(keep_missing=keep_missing, n_jobs=3).fit(data)
        for name in ("medians_", "mean_", "scale_", "missing_features_"):
            np.testing.assert_array_equal(getattr(three, name), getattr(one, name))
        np.testing.assert_array_equal(three.transform(data), one.transform(data))
        np.testing.assert_array_equal(three.transform(later), one.transform(later))
    X[60, 4] = np.inf  # in a block of the second thread: still named
    with pytest.raises(ValueError, match=r"infinity .* in column 4 \(0-based\)"):
        MedianImputeScaler(n_jobs=2).fit(X)
    scaler = MedianImputeScaler(n_jobs=2).fit(other)
    with pytest.raises(ValueError, match=r"infinity .* in column 4 \(0-based\)"):
        scaler.transform(X)


def test_special_columns_keep_their_meaning():
    X = _table(200)
    out = MedianImputeScaler().fit_transform(X)
    assert out.shape == (200, 9 + 8)  # an indicator for each column but 6, which has no NaN
    np.testing.assert_array_equal(out[:, 5], 0)  # all missing: imputed with 0, then constant
    np.testing.assert_array_equal(out[:, 9 + 5], 0)  # ... and its indicator is constant
    np.testing.assert_array_equal(out[:, 6], 0)  # constant
    np.testing.assert_array_equal(out[:, 7], 0)  # constant once imputed


def test_mixed_and_nullable_frames_equal_their_float_values(small_pieces):
    frame = pd.DataFrame(
        {
            "count": pd.array([1, None, 3, 4, None, 6, 7], dtype="Int64"),
            "ints": np.arange(7, dtype=np.int64) ** 2,
            "small": np.linspace(0, 1, 7, dtype=np.float32),
            "x": [0.5, np.nan, 2.0, 1.0, 8.0, np.nan, -1.0],
        }
    )
    X = frame.astype(float).to_numpy()
    _assert_same(MedianImputeScaler().fit_transform(frame), _reference().fit_transform(X))


def test_feature_names_are_the_imputers():
    X = _table(30)
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    X[:, 1] = 1.0  # no NaN: no indicator
    frame["c1"] = 1.0
    for data in (X, frame):
        names = MedianImputeScaler().fit(data).get_feature_names_out()
        np.testing.assert_array_equal(names, _reference().fit(data).get_feature_names_out())
    assert "missingindicator_c0" in names and "missingindicator_c1" not in names
    columns = make_preprocessor(frame).fit(frame).get_feature_names_out()
    assert list(columns[:2]) == ["numeric__c0", "numeric__c1"]
    assert columns[-1] == "numeric__missingindicator_c8"


def test_infinity_is_an_error_naming_the_column():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, np.nan, 2.0]})
    with pytest.raises(ValueError, match="infinity .* in column 'b'"):
        MedianImputeScaler().fit(frame.assign(b=[1.0, np.nan, np.inf]))
    fitted = MedianImputeScaler().fit(frame)
    with pytest.raises(ValueError, match="infinity .* in column 'b'"):
        fitted.transform(frame.assign(b=[np.nan, -np.inf, 0.0]))
    with pytest.raises(ValueError, match=r"infinity .* in column 1 \(0-based\)"):
        MedianImputeScaler().fit(frame.to_numpy()).transform([[0.0, np.inf]])


def test_clone_and_pickle_keep_the_output():
    X = _table(40)
    fitted = MedianImputeScaler().fit(X)
    assert clone(fitted).get_params() == {"keep_missing": False, "n_jobs": None}
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(fitted)).transform(X), fitted.transform(X)
    )


def test_make_preprocessor_gives_contiguous_float32():
    X = _table(40)
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    for data in (X, frame):
        out = make_preprocessor(data).fit(data).transform(data)
        _assert_same(out, _reference().fit_transform(X))


def test_preprocessing_warning_past_a_quarter_of_the_budget():
    assert PREPROCESS_WARN_SHARE == 0.25
    assert preprocessing_warning(7.5, 30) is None
    assert preprocessing_warning(0.0, 30) is None
    message = preprocessing_warning(12.0, 30)
    assert message is not None
    assert "12.0 s" in message and "40%" in message and "30 s time budget" in message
