"""fit's preprocessing: one pass, and a warning when it eats the budget."""

import numpy as np
import pytest

from automl_nas import AutoNASClassifier
from automl_nas.data import DataWarning


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
    assert again.shape == (120, 5)  # four columns and the missing-value indicator of one
    assert np.isfinite(again).all()
