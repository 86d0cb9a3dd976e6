"""Tracking with MLflow's embedded default store (sqlite:///mlflow.db), no server."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tracking._checks import check_search_record
from tests.tracking.conftest import TINY


def test_search_is_recorded_in_the_embedded_store_under_the_users_run(clean_mlflow_env):
    import mlflow
    from sklearn.datasets import load_iris

    from automl_nas import AutoNASClassifier
    from automl_nas.tracking import promote

    X, y = load_iris(return_X_y=True, as_frame=True)
    with mlflow.start_run() as outer:  # the user's own run: nested under, never written to
        mlflow.log_param("user_param", 1)
        est = AutoNASClassifier(**TINY, register_model="iris-embedded").fit(X, y)
        assert mlflow.active_run().info.run_id == outer.info.run_id

    db = clean_mlflow_env / "mlflow.db"
    assert db.exists()
    uri = f"sqlite:///{db}"
    check_search_record(
        uri, outer.info.experiment_id, est, "iris-embedded", X, outer_run_id=outer.info.run_id
    )
    user_run = mlflow.get_run(outer.info.run_id)
    assert user_run.data.params == {"user_param": "1"}
    assert user_run.data.metrics == {}

    # The model keeps the DataFrame's columns in its signature.
    info = mlflow.models.get_model_info("models:/iris-embedded@champion")
    assert info.signature.inputs.input_names() == list(X.columns)

    # The same model also loads as the fitted scikit-learn estimator itself.
    fitted = mlflow.sklearn.load_model("models:/iris-embedded@champion")
    assert type(fitted) is AutoNASClassifier
    np.testing.assert_allclose(fitted.predict_proba(X), est.predict_proba(X))

    version = promote("iris-embedded", 1, alias="challenger")
    assert "challenger" in version.aliases
    with pytest.raises(ValueError, match="its versions are 1$"):
        promote("iris-embedded", 7)


def test_thread_writer_and_a_multi_objective_study(clean_mlflow_env):
    """The fallback writer (a thread), driven by a hand-made study: FAIL runs, two objectives."""
    import optuna
    from mlflow import MlflowClient

    from automl_nas.tracking import MlflowTracker

    tracker = MlflowTracker(experiment_name="hand-made", writer="thread")
    tracker.start_search({"estimator": "Manual", "dataset": {"fingerprint": "0" * 40}})

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        history = [{"epoch": e, "val_loss": x / (e + 1)} for e in range(3)]
        for key, value in {"stage": "nsga2", "history": history, "n_params": 10}.items():
            trial.set_user_attr(key, value)
        if trial.number == 1:
            trial.set_user_attr("error", "ValueError: no")
            raise ValueError("no")
        return x, 1.0 - x

    study = optuna.create_study(directions=["minimize", "minimize"])
    study.optimize(objective, n_trials=4, callbacks=[tracker], catch=(ValueError,))
    tracker.end_search("FINISHED")

    client = MlflowClient(f"sqlite:///{clean_mlflow_env / 'mlflow.db'}")
    runs = client.search_runs([tracker.experiment_id_])
    children = {
        int(r.data.tags["automl_nas.trial_number"]): r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == tracker.run_id_
    }
    assert sorted(children) == [0, 1, 2, 3]
    assert children[1].info.status == "FAILED"
    assert children[1].data.tags["automl_nas.error"] == "ValueError: no"
    assert {"value_0", "value_1", "val_loss"} <= set(children[0].data.metrics)
    assert len(tracker.timings["write_ms"]) == 4
    plots = {a.path for a in client.list_artifacts(tracker.run_id_, "plots")}
    assert "plots/pareto_front.png" in plots


def test_dates_durations_and_time_zones_still_give_a_served_model(clean_mlflow_env):
    """MLflow has no column type for a timedelta and rejects its own schema on time-zone aware
    datetimes: such a model is logged without input schema and example, and still serves."""
    import mlflow
    import pandas as pd

    from automl_nas import AutoNASClassifier
    from automl_nas.tracking._logged_model import describes

    rng = np.random.default_rng(0)
    days = rng.integers(0, 365, 120)
    signup = pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")
    X = pd.DataFrame(
        {
            "signup": signup,
            "seen": signup.tz_localize("Europe/Paris"),
            "session": pd.to_timedelta(rng.integers(1, 600, 120), unit="s"),
        }
    )
    y = np.where(days > 182, "late", "early")
    clf = AutoNASClassifier(**TINY, register_model="dates").fit(X, y)

    mlflow.set_tracking_uri(f"sqlite:///{clean_mlflow_env / 'mlflow.db'}")
    served = mlflow.pyfunc.load_model("models:/dates@champion")
    assert served.metadata.signature.inputs is None
    np.testing.assert_array_equal(served.predict(X.head(5)), clf.predict(X.head(5)))
    proba = served.predict(X.head(5), params={"method": "predict_proba"})
    np.testing.assert_allclose(proba, clf.predict_proba(X.head(5)), rtol=1e-6)
    as_json = X.head(5).astype(str)  # what a REST request without an input schema brings
    np.testing.assert_array_equal(served.predict(as_json), clf.predict(X.head(5)))

    # A naive datetime column is a type MLflow knows: the schema is kept.
    naive = X[["signup"]].head(3)
    signature = mlflow.models.infer_signature(naive, np.array(["late"] * 3))
    assert describes(signature.inputs, naive)
    assert not describes(signature.inputs, X[["seen"]].head(3).rename(columns={"seen": "signup"}))


def test_a_tabm_style_ensemble_is_served_as_the_estimator_predicts(clean_mlflow_env):
    """Issue 14: a TabM-style network (k members sharing weights, piecewise-linear embeddings,
    quantile inputs) registered as the champion predicts through pyfunc what the estimator
    predicts, to the last class and within float tolerance on the probabilities."""
    import mlflow
    import tabm
    from sklearn.datasets import load_breast_cancer

    from automl_nas import AutoNASClassifier, TabularSpace

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    space = TabularSpace().replace(
        ensemble_k=4, embedding="piecewise", d_embedding=8, numeric_transform="quantile",
        block="resnet", n_blocks=1, width=32, epochs=3,
    )
    clf = AutoNASClassifier(
        **{**TINY, "n_trials": 2}, space=space, cv=None, register_model="tabm-style"
    ).fit(X, y)
    # every network kept holds k = 4 members: their own input scalings on shared weights
    for network in clf.ensemble_.members:
        layers = [m for m in network.modules() if isinstance(m, tabm.LinearBatchEnsemble)]
        assert layers and all(m.r.shape[0] == 4 for m in layers)

    mlflow.set_tracking_uri(f"sqlite:///{clean_mlflow_env / 'mlflow.db'}")
    served = mlflow.pyfunc.load_model("models:/tabm-style@champion")
    np.testing.assert_array_equal(served.predict(X), clf.predict(X))
    proba = served.predict(X, params={"method": "predict_proba"})
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-5, atol=1e-7)
