"""The estimators inside scikit-learn's tooling: pipelines, CV, grid search, clone, pickle."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from automl_nas import AutoNASClassifier, AutoNASRegressor


def _mixed_frame(n=240, seed=0):
    """Numeric + categorical columns with NaNs, and a target that depends on both."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
        }
    )
    y = np.where((frame["age"] > 40) ^ (frame["city"] == "lyon"), "yes", "no")
    frame.loc[rng.choice(n, 20, replace=False), "age"] = np.nan
    frame.loc[rng.choice(n, 15, replace=False), "city"] = np.nan
    return frame, y


@pytest.fixture
def mixed():
    return _mixed_frame()


def test_pipeline_with_column_transformer_on_dataframe(mixed, fast):
    X, y = mixed
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "income"]),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), ["city", "plan"]),
        ]
    )
    pipe = Pipeline([("prep", prep), ("model", AutoNASClassifier(**fast))]).fit(X, y)
    assert set(pipe.predict(X)) <= {"yes", "no"}
    assert pipe.score(X, y) > 0.7


def test_dataframe_with_categoricals_and_nans_directly(mixed, fast):
    X, y = mixed
    clf = AutoNASClassifier(**fast).fit(X, y)
    assert list(clf.feature_names_in_) == ["age", "income", "city", "plan"]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(1), 1)
    # an unseen category at predict time is ignored, not an error
    X_new = X.head(3).copy()
    X_new["city"] = "berlin"
    assert clf.predict(X_new).shape == (3,)


def test_datetime_and_duration_columns_are_numeric_seconds(fast):
    """Dates (naive and time-zone aware) and durations, with NaT, are learnable features."""
    rng = np.random.default_rng(0)
    n = 240
    start = pd.Timestamp("2024-01-01")
    days = rng.integers(0, 365, n)
    X = pd.DataFrame(
        {
            "signup": start + pd.to_timedelta(days, unit="D"),
            "seen": (start + pd.to_timedelta(days, unit="D")).tz_localize("Europe/Paris"),
            "session": pd.to_timedelta(rng.integers(1, 600, n), unit="s"),
            "noise": rng.normal(size=n),
        }
    )
    y = np.where(days > 182, "late", "early")
    X.loc[rng.choice(n, 10, replace=False), "signup"] = pd.NaT
    clf = AutoNASClassifier(**fast).fit(X, y)
    assert clf.score(X, y) > 0.8  # the date alone decides the class
    pickled = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(pickled.predict(X), clf.predict(X))
    # The same instants as text, or in another time zone, are the same features.
    as_text = X.astype(str)
    np.testing.assert_allclose(clf.predict_proba(as_text), clf.predict_proba(X))
    elsewhere = X.assign(seen=X["seen"].dt.tz_convert("America/New_York"))
    np.testing.assert_allclose(clf.predict_proba(elsewhere), clf.predict_proba(X))


def test_cross_val_score_and_grid_search(mixed, fast):
    X, y = mixed
    scores = cross_val_score(AutoNASClassifier(**fast), X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)
    grid = GridSearchCV(AutoNASRegressor(**fast), {"max_epochs": [3, 6]}, cv=2)
    Xr = np.random.default_rng(0).normal(size=(120, 4))
    yr = Xr @ np.array([1.0, -2.0, 0.5, 0.0]) + 3
    grid.fit(Xr, yr)
    assert grid.best_params_["max_epochs"] in (3, 6)
    assert grid.best_estimator_.score(Xr, yr) > 0.5


def test_clone_keeps_params_and_drops_fitted_state(mixed, fast):
    X, y = mixed
    clf = AutoNASClassifier(**fast).fit(X, y)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "best_model_")


def test_pickle_round_trip_gives_identical_predictions(mixed, fast):
    X, y = mixed
    clf = AutoNASClassifier(**fast).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert len(back.study_.trials) == len(clf.study_.trials)
