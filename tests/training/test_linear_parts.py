"""Linear models fitted over parts of rows that keep NaN: the parts, the deadline, the errors."""

import math
import time

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from automl_nas.nn import MissingFill, MissingValues
from automl_nas.training import _linear_parts
from automl_nas.training._linear_parts import FilledParts, fit_over_parts

WIDTH, PART_ROWS = 6, 512


@pytest.fixture(autouse=True)
def _small_parts(monkeypatch):
    monkeypatch.setattr(_linear_parts, "PART_CELLS", WIDTH * PART_ROWS)


def _rows(n=2 * PART_ROWS + 300, width=WIDTH, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, width)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] + rng.normal(size=n) > 0).astype(np.int64)
    X[rng.random(X.shape) < 0.1] = np.nan
    X[PART_ROWS : 2 * PART_ROWS : 2] = np.nan  # half the second part missing: kept filled
    return X, y


def _fill(width):
    columns = tuple(range(width))
    fill = tuple(0.1 * (c + 1) for c in columns)
    return MissingFill(MissingValues(columns, fill, (0.0,) * width, (1.0,) * width), flags=False)


def test_parts_read_as_the_rows_filled_whether_kept_as_positions_or_filled():
    X, _ = _rows()
    fill = np.float32(0.5) * np.arange(X.shape[1], dtype=np.float32)
    parts = FilledParts(X, fill)
    assert [isinstance(part, np.ndarray) for part in parts._parts] == [False, True, False]
    starts, rows = zip(*((start, part.numpy().copy()) for start, part in parts))
    assert starts == (0, PART_ROWS, 2 * PART_ROWS)
    np.testing.assert_array_equal(np.concatenate(rows), np.where(np.isnan(X), fill, X))


def test_the_fit_over_parts_is_scikit_learns_on_the_filled_rows():
    X, y = _rows()
    missing = _fill(X.shape[1])
    fit = fit_over_parts(torch.from_numpy(X), torch.from_numpy(y), missing, 0.5, max_iter=500)
    filled = np.where(np.isnan(X), missing.column_fill(X.shape[1]).numpy(), X)
    reference = LogisticRegression(C=2.0, max_iter=500).fit(filled, y)
    np.testing.assert_allclose(fit.coef, reference.coef_, atol=1e-4)
    np.testing.assert_allclose(fit.intercept, reference.intercept_, atol=1e-4)
    np.testing.assert_array_equal(fit.classes, [0, 1])


def test_the_deadline_stops_the_solver_after_its_first_step():
    X, y = _rows()
    args = (torch.from_numpy(X), torch.from_numpy(y), _fill(X.shape[1]), 1e-3)
    started = time.monotonic()
    stopped = fit_over_parts(*args, max_iter=500, deadline=started)
    converged = fit_over_parts(*args, max_iter=500, deadline=math.inf)
    assert np.isfinite(stopped.coef).all()
    assert np.abs(stopped.coef - converged.coef).max() > 1e-3


def test_rows_of_one_class_are_refused_by_name():
    X, _ = _rows(n=50)
    with pytest.raises(ValueError, match="at least 2 classes; these have only class 1"):
        fit_over_parts(
            torch.from_numpy(X), torch.ones(50, dtype=torch.long), _fill(X.shape[1]), 1.0,
            max_iter=10,
        )
