"""``predict`` decides as the search's metric rewards: argmax of probability, or of probability
over class share for balanced accuracy."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score

from automl_nas import AutoNASClassifier

TINY = {"families": ["linear"], "n_trials": 2, "time_budget": 60, "random_state": 0, "verbose": 0}


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(
        1500, 8, n_informative=4, n_classes=3, weights=[0.88, 0.08, 0.04], class_sep=0.6,
        random_state=0,
    )
    labels = np.array(["common", "rare", "rarest"])[y]  # labels, not codes, through predict
    return X[:1000], X[1000:], labels[:1000], labels[1000:]


def test_balanced_accuracy_predicts_by_probability_over_class_share(imbalanced):
    X, X_test, y, y_test = imbalanced
    clf = AutoNASClassifier(metric="balanced_accuracy", **TINY).fit(X, y)
    shares = np.array([np.mean(y == c) for c in clf.classes_])
    np.testing.assert_allclose(clf.class_prior_, shares)
    proba = clf.predict_proba(X_test)
    pred = clf.predict(X_test)
    np.testing.assert_array_equal(pred, clf.classes_[(proba / shares).argmax(1)])
    most_probable = clf.classes_[proba.argmax(1)]
    assert np.sum(pred != "common") > np.sum(most_probable != "common")
    assert balanced_accuracy_score(y_test, pred) > balanced_accuracy_score(y_test, most_probable) + 0.05
    assert clf.best_score_ == pytest.approx(clf.study_.best_value)


@pytest.mark.parametrize("metric", [None, "accuracy"])
def test_other_metrics_predict_the_most_probable_class(imbalanced, metric):
    X, X_test, y, _ = imbalanced
    clf = AutoNASClassifier(metric=metric, **TINY).fit(X, y)
    np.testing.assert_array_equal(
        clf.predict(X_test), clf.classes_[clf.predict_proba(X_test).argmax(1)]
    )
