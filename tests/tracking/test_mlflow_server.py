"""Searches tracked by a real `mlflow server` on 127.0.0.1: healthy, down at start, dying.

The tests share one server; the last one kills it (a later test would get a fresh one).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tracking._checks import check_search_record
from tests.tracking.conftest import TINY, free_port


def test_search_is_recorded_by_a_tracking_server(server, clean_mlflow_env, breast_cancer):
    from mlflow import MlflowClient

    from automl_nas import AutoNASClassifier

    X, y = breast_cancer
    est = AutoNASClassifier(
        **TINY,
        mlflow_tracking_uri=server.uri,
        mlflow_experiment="server-search",
        register_model="bc-server",
    ).fit(X, y)

    client = MlflowClient(tracking_uri=server.uri)
    experiment = client.get_experiment_by_name("server-search")
    check_search_record(server.uri, experiment.experiment_id, est, "bc-server", X)
    assert not (clean_mlflow_env / "mlflow.db").exists()  # nothing went to the embedded store


def test_the_readmes_registry_line_prints_predictions_and_nothing_else(server, clean_mlflow_env):
    """README.md's command that loads the champion from the registry, run as written in a shell
    against a tracking server (whose downloads MLflow shows under a progress bar by default):
    predictions on stdout; on stderr no progress bar and no warning about the target column."""
    from sklearn.datasets import load_iris

    from automl_nas import AutoNASClassifier

    readme = Path(__file__).resolve().parents[2] / "README.md"
    (line,) = [x for x in readme.read_text().splitlines() if "models:/my-model@champion" in x]
    X, y = load_iris(return_X_y=True, as_frame=True)
    AutoNASClassifier(**TINY, mlflow_tracking_uri=server.uri, register_model="my-model").fit(X, y)
    X.assign(label=y).to_csv(clean_mlflow_env / "test.csv", index=False)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    done = subprocess.run(
        ["bash", "-c", line],
        check=False,
        cwd=clean_mlflow_env,
        env={**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": server.uri},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("[")


def test_server_down_at_start_fails_before_any_training(
    clean_mlflow_env, monkeypatch, breast_cancer
):
    from automl_nas import AutoNASClassifier
    from automl_nas.search import TrialObjective

    trained = []
    monkeypatch.setattr(TrialObjective, "__call__", lambda self, trial: trained.append(trial))
    port = free_port()
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=rf"http://127\.0\.0\.1:{port} is not reachable"):
        AutoNASClassifier(**TINY, mlflow_tracking_uri=f"http://127.0.0.1:{port}").fit(
            *breast_cancer
        )
    assert trained == []
    assert time.monotonic() - started < 30  # no minutes of MLflow client retries


def test_server_dying_mid_search_warns_and_the_search_goes_on(
    server, clean_mlflow_env, monkeypatch, breast_cancer
):
    from mlflow import MlflowClient

    from automl_nas import AutoNASClassifier
    from automl_nas.tracking import MlflowTracker, TrackingWarning

    record_trial = MlflowTracker.__call__

    def kill_server_after_first_trial(self, study, trial):
        if trial.number == 1:
            # Let trial 0 reach the server, then take the server down under the search.
            deadline = time.monotonic() + 30
            while not self.timings["write_ms"] and time.monotonic() < deadline:
                time.sleep(0.05)
            server.stop()
        record_trial(self, study, trial)

    monkeypatch.setattr(MlflowTracker, "__call__", kill_server_after_first_trial)
    X, y = breast_cancer
    started = time.monotonic()
    with pytest.warns(TrackingWarning, match="not reachable") as caught:
        est = AutoNASClassifier(
            **TINY, mlflow_tracking_uri=server.uri, register_model="doomed"
        ).fit(X, y)
    assert len([w for w in caught if w.category is TrackingWarning]) == 1  # warned once
    assert time.monotonic() - started < 90  # no waiting out MLflow's retries

    # The search finished: every trial ran and the estimator predicts.
    assert len(est.study_.trials) == TINY["n_trials"]
    assert all(t.state.is_finished() for t in est.study_.trials)
    assert est.predict(X).shape == (len(X),)

    # What reached the server before it died is still in its database.
    client = MlflowClient(tracking_uri=server.backend_uri)
    runs = client.search_runs([client.get_experiment_by_name("automl_nas").experiment_id])
    parent = next(r for r in runs if r.data.tags.get("automl_nas.role") == "search")
    assert parent.info.status == "RUNNING"  # never closed: the server was gone
    assert "dataset.fingerprint" in parent.data.params
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert [r.data.tags["automl_nas.trial_number"] for r in children] == ["0"]
