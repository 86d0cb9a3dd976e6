"""fit's preprocessing: one pass, and a warning when it eats the budget."""

import numpy as np
import pytest

from automl_nas import AutoNASClassifier
from automl_nas.data import DataWarning
from automl_nas.space import MLPSpace


def test_preprocessing_longer_than_a_quarter_of_the_budget_warns():
    X = np.random.default_rng(0).normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    # A budget far below the time preprocessing takes: the warning comes first, then no trial
    # has time to finish.
    with pytest.warns(DataWarning, match=r"preprocessing the data took .* of the 0.0001 s"):
        with pytest.raises(RuntimeError, match="No trial completed"):
            AutoNASClassifier(time_budget=1e-4, verbose=0).fit(X, y)


def test_fitted_preprocessor_gives_the_training_matrix():
    X = np.random.default_rng(0).normal(size=(120, 4))
    X[::7, 1] = np.nan
    y = (X[:, 0] > 0).astype(int)
    clf = AutoNASClassifier(n_trials=1, max_epochs=2, verbose=0, random_state=0).fit(X, y)
    again = clf.preprocessor_.transform(X)
    # the default families fill and flag missing values themselves: one column per column,
    # NaN where X had it
    assert again.shape == (120, 4)
    np.testing.assert_array_equal(np.isnan(again), np.isnan(X))
    # a space whose networks do not (the DARTS-ready MLP space) gets the indicator column
    mlp = AutoNASClassifier(
        space=MLPSpace(), n_trials=1, max_epochs=2, verbose=0, random_state=0
    ).fit(X, y)
    again = mlp.preprocessor_.transform(X)
    assert again.shape == (120, 5)  # four columns and the missing-value indicator of one
    assert np.isfinite(again).all()


def test_fit_leaves_the_callers_rows_as_they_were():
    # the search reorders its matrix in place, training rows first: never the caller's
    rng = np.random.default_rng(0)
    X = np.ascontiguousarray(rng.normal(size=(150, 4)), dtype=np.float32)
    y = (X[:, 0] > 0).astype(int)
    before = X.copy()
    clf = AutoNASClassifier(n_trials=1, max_epochs=2, verbose=0, random_state=0).fit(X, y)
    np.testing.assert_array_equal(X, before)
    assert clf.score(X, y) > 0.5


def test_search_fingerprint_is_the_digest_of_the_matrix_bytes():
    # taken from the arrays' buffers, not a bytes copy, and equal to the digest of their
    # bytes, which searches stored before recorded: they still resume
    import hashlib

    from automl_nas.estimator._base import _fingerprint
    from automl_nas.space import TabularSpace

    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    y = np.arange(30) % 2
    space = TabularSpace()
    old = hashlib.sha1(X.tobytes())
    old.update(y.tobytes())
    old.update(repr(("classification", sorted(space.distributions.items()),
                     sorted(space.fixed.items()))).encode())
    assert _fingerprint(X, y, space, "classification") == old.hexdigest()
