"""What every tracked search must leave in MLflow, checked through MlflowClient."""

from __future__ import annotations

import json

import numpy as np

from automl_nas.tracking._mlflow import global_tracking_uri
from automl_nas.tracking._records import RUN_STATUS


def check_search_record(uri, experiment_id, estimator, model_name, X, outer_run_id=None):
    """One parent run, one child per trial with state/metrics, plots, model version + alias.

    Returns the parent run.
    """
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    runs = client.search_runs([experiment_id], max_results=1000)
    by_id = {run.info.run_id: run for run in runs}
    parents = [r for r in runs if r.data.tags.get("automl_nas.role") == "search"]
    assert len(parents) == 1, [r.info.run_name for r in runs]
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags.get("mlflow.parentRunId") == outer_run_id
    assert len(parent.data.tags["automl_nas.fingerprint"]) == 40
    assert parent.data.tags["automl_nas.version.optuna"]
    assert {"time_budget", "stages", "dataset.n_samples", "space.lr"} <= set(parent.data.params)
    assert {"parallel.trials_at_once", "parallel.threads_per_trial", "parallel.waves"} <= set(
        parent.data.params
    )
    assert parent.data.metrics["n_trials"] == len(estimator.study_.trials)

    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    trials = {t.number: t for t in estimator.study_.trials}
    assert sorted(int(r.data.tags["automl_nas.trial_number"]) for r in children) == sorted(trials)
    for run in children:
        trial = trials[int(run.data.tags["automl_nas.trial_number"])]
        assert run.info.status == RUN_STATUS[trial.state]
        assert run.data.tags["automl_nas.state"] == trial.state.name
        assert run.data.tags["automl_nas.stage"] == trial.user_attrs["stage"]
        assert run.data.params == {k: str(v) for k, v in trial.params.items()}
        assert run.info.start_time <= run.info.end_time
        history = trial.user_attrs.get("history", [])
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_score")]
        assert sorted(steps) == [row["epoch"] for row in history]
        if trial.state.name == "COMPLETE":
            assert run.data.metrics["n_params"] == trial.user_attrs["n_params"]
            assert run.data.metrics["value"] == trial.value
            assert "duration_s" in run.data.metrics
    expected = {parent.info.run_id, *(r.info.run_id for r in children)} | {outer_run_id} - {None}
    assert set(by_id) == expected  # nothing else was written, the user's run aside

    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert {"plots/optimization_history.png", "plots/intermediate_values.png"} <= artifacts
    top = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"trials.csv", "leaderboard.csv"} <= top
    weights = parent.data.tags["automl_nas.ensemble_weights"]
    assert set(json.loads(weights)) == {str(k) for k in estimator.ensemble_weights_}

    version = client.get_model_version_by_alias(model_name, "champion")
    assert version.run_id == parent.info.run_id
    # The logged model (MLflow 3) lives in the search's experiment, not in "Default".
    assert version.source.startswith("models:/")
    logged = client.get_logged_model(version.source[len("models:/") :].split("/")[0])
    assert logged.experiment_id == experiment_id
    assert logged.source_run_id == parent.info.run_id
    with global_tracking_uri(mlflow, uri):
        model = mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
    np.testing.assert_array_equal(model.predict(X), estimator.predict(X))
    if hasattr(estimator, "predict_proba"):
        np.testing.assert_allclose(
            model.predict(X, params={"method": "predict_proba"}), estimator.predict_proba(X)
        )
    return parent
