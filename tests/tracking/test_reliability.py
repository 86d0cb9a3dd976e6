"""Faults of the tracking store: a new SQLite store created by two fits at once, two fits on
an existing store, a read-only store, the store deleted mid-search, a server that is not
MLflow. Real processes and databases throughout."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

from automl_nas.tracking._store import PARENT_TAG
from tests._unprivileged import unprivileged
from tests.tracking.conftest import TINY, free_port

# One process's tracker store set-up: the writer's Recorder opens a search run and ends it.
_OPEN_ONE_RUN = textwrap.dedent(
    """
    import json, sys, time
    from automl_nas.tracking._writer import Recorder

    uri, name, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
    config = {
        "uri": uri, "experiment_name": "race", "default_experiment": "automl_nas",
        "outer_run_id": None, "outer_experiment_id": None, "run_name": name,
        "tags": {"automl_nas.role": "search"}, "params": {"who": name},
        "start_ms": int(time.time() * 1000), "sqlite_wal": True, "probe_timeout": 5,
        "cwd": ".", "package_dir": ".", "prewarm": False,
    }
    import mlflow  # imported before the start line: both processes then open at once
    recorder = Recorder(config, own_process=True)
    time.sleep(max(0.0, start_at - time.time()))
    answers = [recorder.handle({"op": "open"})]
    answers.append(recorder.handle(
        {"op": "finish", "status": "FINISHED", "end_ms": int(time.time() * 1000),
         "metrics": [], "tags": {}}
    ))
    print(json.dumps(answers))
    """
)


def test_two_processes_creating_one_new_sqlite_store_both_record_their_run(
    clean_mlflow_env, breast_cancer
):
    from mlflow import MlflowClient

    from automl_nas import AutoNASClassifier

    db = clean_mlflow_env / "new" / "mlflow.db"
    db.parent.mkdir()
    uri = f"sqlite:///{db}"
    start_at = time.time() + 8  # both processes have imported mlflow by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_ONE_RUN, uri, name, str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err[-2000:]
        answers = json.loads(out.strip().splitlines()[-1])
        assert [a.get("error") for a in answers] == [None, None], answers

    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert not [t for t in tables if t.startswith("_alembic_tmp")], tables
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("race")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["first", "second"]
    assert {r.info.status for r in runs} == {"FINISHED"}

    # A fit afterwards is tracked in the same store.
    X, y = breast_cancer
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=UserWarning)  # a TrackingWarning fails
        est = AutoNASClassifier(
            **{**TINY, "n_trials": 2}, mlflow_tracking_uri=uri, mlflow_experiment="race"
        ).fit(X, y)
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert len(runs) == 2 + 1 + len(est.study_.trials)


def test_the_store_deleted_mid_search_ends_with_one_warning_naming_the_loss(
    clean_mlflow_env, monkeypatch, breast_cancer
):
    from automl_nas import AutoNASClassifier
    from automl_nas.tracking import MlflowTracker, TrackingWarning

    store = clean_mlflow_env / "store"
    store.mkdir()
    record_trial = MlflowTracker.__call__
    deleted = []

    def delete_store_after_first_trial(self, study, trial):
        if trial.number == 1:
            deadline = time.monotonic() + 60  # let it open the run and write trial 0 first
            while not self.timings["write_ms"] and time.monotonic() < deadline:
                time.sleep(0.05)
            shutil.rmtree(store)
            deleted.append(trial.number)
        record_trial(self, study, trial)

    monkeypatch.setattr(MlflowTracker, "__call__", delete_store_after_first_trial)
    X, y = breast_cancer
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = AutoNASClassifier(
            **TINY, mlflow_tracking_uri=f"sqlite:///{store / 'mlflow.db'}", register_model="gone"
        ).fit(X, y)
    assert deleted == [1]
    tracking = [w for w in caught if issubclass(w.category, TrackingWarning)]
    assert len(tracking) == 1, [str(w.message) for w in tracking]
    message = str(tracking[0].message)
    assert "deleted or replaced" in message and "are lost" in message, message
    assert len(est.study_.trials) == TINY["n_trials"]  # the search itself went on


def test_a_web_server_that_is_not_mlflow_fails_before_any_training(
    clean_mlflow_env, breast_cancer, tmp_path
):
    from automl_nas import AutoNASClassifier

    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import requests

        deadline = time.monotonic() + 30
        while True:  # until it listens
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except requests.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "http.server did not start"
                time.sleep(0.1)
        X, y = breast_cancer
        est = AutoNASClassifier(**TINY, mlflow_tracking_uri=f"http://127.0.0.1:{port}")
        with pytest.raises(ConnectionError, match="not an MLflow tracking server"):
            est.fit(X, y)
        assert not hasattr(est, "study_")
    finally:
        web.terminate()
        web.wait(10)


# One tracked fit in a process of its own; prints what became of it as one JSON line.
_FIT_ONE = textwrap.dedent(
    """
    import json, sys, warnings
    from sklearn.datasets import load_breast_cancer
    from automl_nas import AutoNASClassifier

    uri, experiment = sys.argv[1], sys.argv[2]
    X, y = load_breast_cancer(return_X_y=True)
    est = AutoNASClassifier(
        n_trials=2, max_epochs=2, time_budget=120, cv=None, refit=False, random_state=0,
        verbose=0, mlflow_tracking_uri=uri, mlflow_experiment=experiment,
    )
    error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est.fit(X[:200], y[:200])
        except Exception as exc:
            error = [type(exc).__name__, str(exc)]
    print(json.dumps({
        "error": error,
        "trials": len(est.study_.trials) if hasattr(est, "study_") else None,
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught
                     if w.category.__name__ == "TrackingWarning"],
    }))
    """
)


def _fit_in_process(argv_prefix: list[str], uri: str, experiment: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*argv_prefix, sys.executable, "-c", _FIT_ONE, uri, experiment],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _report(proc: subprocess.Popen) -> tuple[dict, str]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1]), err


def _new_store(path) -> str:
    """A SQLite MLflow store created (migrations run) at ``path``; its URI."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{path}"
    MlflowClient(tracking_uri=uri).search_experiments()
    return uri


@pytest.mark.parametrize("read_only", ["file", "directory"])
def test_a_read_only_store_fails_before_any_training_naming_path_and_cause(
    clean_mlflow_env, read_only
):
    """As the search's own storage and artifact directory: a PermissionError naming the path,
    raised before the first trial, not a search whose record silently goes nowhere. The fit
    runs in a process on which file modes bind (see tests/_unprivileged.py)."""
    from mlflow import MlflowClient

    store = clean_mlflow_env / "store"
    store.mkdir()
    db = store / "mlflow.db"
    if read_only == "file":  # an existing store, its file read-only
        uri = _new_store(db)
        db.chmod(0o444)
        cause = f"the SQLite file {db} is read-only for this process"
    else:  # a new store in a read-only directory
        uri = f"sqlite:///{db}"
        store.chmod(0o555)
        cause = f"the directory {store} is not writable by this process"
    try:
        report, err = _report(_fit_in_process(unprivileged([]), uri, "read-only"))
    finally:  # pytest must be able to remove it
        store.chmod(0o755)
    assert report["error"] is not None, report
    kind, message = report["error"]
    assert kind == "PermissionError", report
    assert f"MLflow tracking store {uri} cannot be written: {cause}" in message, message
    assert "no trial was run" in message, message
    assert report["trials"] is None and report["warnings"] == []  # no search, nothing to warn
    assert "Traceback" not in err and "sqlite3." not in err, err[-3000:]
    if read_only == "file":  # the store is as it was: no experiment, no run
        client = MlflowClient(tracking_uri=uri)
        assert [e.name for e in client.search_experiments()] == ["Default"]
    else:
        assert not db.exists()


def test_two_fits_at_once_on_an_existing_store_both_record_everything(clean_mlflow_env):
    """Two processes fit at once, both tracked into one SQLite store that exists already: both
    search runs, every trial run and each run's trials.csv and leaderboard are there, all
    runs ended, and neither fit warned."""
    from mlflow import MlflowClient

    uri = _new_store(clean_mlflow_env / "mlflow.db")
    procs = [_fit_in_process([], uri, "shared") for _ in range(2)]
    reports = [_report(proc)[0] for proc in procs]
    for report in reports:
        assert report["error"] is None and report["warnings"] == [], report
        assert report["trials"] == 2

    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("shared").experiment_id])
    parents = [r for r in runs if r.data.tags.get("automl_nas.role") == "search"]
    assert len(parents) == 2
    for parent in parents:
        children = [r for r in runs if r.data.tags.get(PARENT_TAG) == parent.info.run_id]
        assert sorted(int(r.data.tags["automl_nas.trial_number"]) for r in children) == [0, 1]
        artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
        assert {"trials.csv", "leaderboard.csv"} <= artifacts, artifacts
    assert len(runs) == 2 + 2 * 2
    assert {r.info.status for r in runs} == {"FINISHED"}


def test_a_tracked_fit_returns_within_the_documented_budget_bound(
    clean_mlflow_env, monkeypatch, breast_cancer
):
    """``fit`` with tracking (a new SQLite store, a registered model: the slowest end) returns
    within ``time_budget * BUDGET_SLACK + BUDGET_GRACE_S`` of the tracker's start, as
    mlflow/README.md "Time budget with tracking" states. The bound counts from the tracker's
    start: what ``fit`` does before it (checks, preprocessing, opening the study) is outside
    and measured apart. Work left at the deadline may be dropped, with its warning."""
    from automl_nas import AutoNASClassifier
    from automl_nas.tracking import MlflowTracker, TrackingWarning
    from automl_nas.tracking._mlflow import BUDGET_GRACE_S, BUDGET_SLACK

    budget = 8.0
    tracker_started = []
    start_search = MlflowTracker.start_search

    def timed_start(self, info):  # the real start, timed from just before it
        tracker_started.append(time.monotonic())
        start_search(self, info)

    monkeypatch.setattr(MlflowTracker, "start_search", timed_start)
    X, y = breast_cancer
    est = AutoNASClassifier(
        time_budget=budget,
        random_state=0,
        verbose=0,
        mlflow_tracking_uri=f"sqlite:///{clean_mlflow_env / 'mlflow.db'}",
        register_model="budget",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.monotonic()
        est.fit(X, y)
        returned = time.monotonic()
    bound = budget * BUDGET_SLACK + BUDGET_GRACE_S
    before_tracker = tracker_started[0] - started
    figures = (
        f"fit {returned - started:.2f} s = {before_tracker:.2f} s before the tracker + "
        f"{returned - tracker_started[0]:.2f} s after its start (bound {bound:.2f} s)"
    )
    print(figures)
    assert returned - tracker_started[0] <= bound, figures
    assert est.study_.trials
    for warning in caught:
        if issubclass(warning.category, TrackingWarning):
            assert "time budget" in str(warning.message) or "time_budget" in str(
                warning.message
            ), str(warning.message)
