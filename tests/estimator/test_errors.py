"""Bad input fails early with a message that names the problem; nothing half-done is kept."""

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from automl_nas import AutoNASClassifier, AutoNASRegressor, MLPSpace

X = np.random.default_rng(0).normal(size=(40, 3))
y = np.r_[np.zeros(20), np.ones(20)]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_y(bad, fast):
    y_bad = y.copy()
    y_bad[3] = bad
    with pytest.raises(ValueError, match="Input y contains (NaN|infinity)"):
        AutoNASRegressor(**fast).fit(X, y_bad)
    with pytest.raises(ValueError, match="Input y contains (NaN|infinity)"):
        AutoNASClassifier(**fast).fit(X, y_bad)


def test_one_class_only(fast):
    clf = AutoNASClassifier(**fast)
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.zeros(40))
    assert not hasattr(clf, "study_")


def test_empty_X(fast):
    with pytest.raises(ValueError, match="0 sample"):
        AutoNASClassifier(**fast).fit(np.empty((0, 3)), [])


def test_predict_with_other_number_of_features(fast):
    clf = AutoNASClassifier(**fast).fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features, but AutoNASClassifier is expecting 3"):
        clf.predict(X[:, :2])


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        AutoNASClassifier().predict(X)
    with pytest.raises(NotFittedError):
        AutoNASRegressor().predict(X)


@pytest.mark.parametrize("budget", [0, -5])
def test_non_positive_time_budget(budget):
    with pytest.raises(ValueError, match="time_budget"):
        AutoNASClassifier(time_budget=budget).fit(X, y)


def test_unknown_sampler_and_pruner_names():
    with pytest.raises(ValueError, match="sampler"):
        AutoNASClassifier(sampler="annealing").fit(X, y)
    with pytest.raises(ValueError, match="pruner"):
        AutoNASClassifier(pruner="sometimes").fit(X, y)


def test_bad_space_is_rejected_before_training():
    with pytest.raises(ValueError, match="Unknown activation"):
        MLPSpace().replace(activation=["relu", "swishy"])
    with pytest.raises(ValueError, match="max_layers=6"):
        MLPSpace(max_layers=4).replace(n_layers=(1, 6))


def test_every_trial_failing_raises_with_their_error(fast):
    # batch_size 0 makes every trial's training loop fail: no silent dummy model.
    space = MLPSpace().replace(batch_size=0)
    clf = AutoNASClassifier(**{**fast, "n_trials": 3, "space": space})
    with pytest.raises(RuntimeError, match=r"(?s)No trial completed.*3 trial\(s\) failed with: ValueError"):
        clf.fit(X, y)
    assert not hasattr(clf, "best_model_")


def test_failing_trials_do_not_end_the_search(fast):
    """A sampler that proposes a broken value now and then: the search goes on around it."""
    space = MLPSpace(max_layers=1).replace(batch_size=[0, 16])
    clf = AutoNASClassifier(**{**fast, "n_trials": 8, "space": space, "sampler": "random"}).fit(X, y)
    states = {t.state for t in clf.study_.trials}
    assert optuna.trial.TrialState.FAIL in states and optuna.trial.TrialState.COMPLETE in states
    failed = [t for t in clf.study_.trials if t.state == optuna.trial.TrialState.FAIL]
    assert all("error" in t.user_attrs for t in failed)


@pytest.mark.parametrize("estimator", [AutoNASClassifier, AutoNASRegressor])
def test_values_beyond_float32_are_refused_naming_the_column(estimator, fast):
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    huge = frame.copy()
    huge.loc[7, "b"] = 1e300
    with pytest.raises(ValueError, match=r"X column\(s\) \['b'\] hold values beyond float32.*row 7"):
        estimator(**fast).fit(huge, y)
    model = estimator(**fast).fit(frame, y)
    with pytest.raises(ValueError, match=r"\['b'\] hold values beyond float32"):
        model.predict(huge)
    array = X.copy()
    array[2, 1] = -1e300
    with pytest.raises(ValueError, match=r"X column\(s\) \[1\] hold values beyond float32.*row 2"):
        model.predict(array)


def test_a_non_finite_output_is_an_error_not_a_silent_class(fast):
    clf = AutoNASClassifier(**fast).fit(X, y)
    with torch.no_grad():
        for parameter in clf.ensemble_.members[0].parameters():
            parameter.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"not finite for 40 row\(s\) of X \(first: row 0\)"):
        clf.predict(X)
