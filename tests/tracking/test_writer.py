"""The writer process: a search whose writer dies still ends with a complete MLflow record."""

from __future__ import annotations

import time

import pytest

from tests.tracking._checks import check_search_record
from tests.tracking.conftest import TINY


def test_a_thread_takes_over_when_the_writer_process_dies(
    clean_mlflow_env, monkeypatch, breast_cancer
):
    from mlflow import MlflowClient

    from automl_nas import AutoNASClassifier
    from automl_nas.tracking import MlflowTracker, TrackingWarning

    record_trial = MlflowTracker.__call__
    killed = []

    def kill_writer_after_first_trial(self, study, trial):
        if trial.number == 1 and self._writer.process is not None:
            deadline = time.monotonic() + 60  # let it open the run and write trial 0 first
            while not self.timings["write_ms"] and time.monotonic() < deadline:
                time.sleep(0.05)
            self._writer.process._proc.kill()
            killed.append(trial.number)
        record_trial(self, study, trial)

    monkeypatch.setattr(MlflowTracker, "__call__", kill_writer_after_first_trial)
    X, y = breast_cancer
    with pytest.warns(TrackingWarning, match="writer process ended"):
        est = AutoNASClassifier(**TINY, register_model="bc-takeover").fit(X, y)
    assert killed == [1]

    uri = f"sqlite:///{clean_mlflow_env / 'mlflow.db'}"
    experiment = MlflowClient(tracking_uri=uri).get_experiment_by_name("automl_nas")
    check_search_record(uri, experiment.experiment_id, est, "bc-takeover", X)


def test_a_store_that_cannot_open_the_run_warns_and_the_search_goes_on(
    clean_mlflow_env, breast_cancer
):
    from mlflow import MlflowClient

    from automl_nas import AutoNASClassifier
    from automl_nas.tracking import TrackingWarning

    client = MlflowClient(tracking_uri=f"sqlite:///{clean_mlflow_env / 'mlflow.db'}")
    client.delete_experiment(client.create_experiment("gone"))
    X, y = breast_cancer
    with pytest.warns(TrackingWarning, match="experiment 'gone' is deleted"):
        est = AutoNASClassifier(**TINY, mlflow_experiment="gone").fit(X, y)
    assert len(est.study_.trials) == TINY["n_trials"]
    assert est.predict(X).shape == (len(X),)


@pytest.mark.parametrize("straggler", [False, True])
def test_trials_and_plots_are_drawn_once_the_deadline_has_stopped_a_trial(
    clean_mlflow_env, straggler
):
    """The trial stopped by the deadline sends the trials; one finishing later sends them again."""
    import optuna
    import pandas as pd
    from mlflow import MlflowClient

    from automl_nas.tracking import MlflowTracker

    tracker = MlflowTracker(experiment_name="deadline")
    tracker.start_search({"estimator": "Manual", "dataset": {"fingerprint": "0" * 40}})
    n_trials = 5 if straggler else 4

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_user_attr("history", [{"epoch": 1, "val_score": x}])
        if trial.number == 3:
            trial.set_user_attr("stopped_by", "time_budget")
        return x

    study = optuna.create_study()
    study.optimize(objective, n_trials=n_trials, callbacks=[tracker])
    tracker.end_search("FINISHED")

    assert len(tracker.timings["trials_ms"]) == 1  # drawn before end_search
    client = MlflowClient(f"sqlite:///{clean_mlflow_env / 'mlflow.db'}")
    path = client.download_artifacts(tracker.run_id_, "trials.csv", str(clean_mlflow_env))
    assert len(pd.read_csv(path)) == n_trials  # the straggler's finish drew them again
    plots = {a.path for a in client.list_artifacts(tracker.run_id_, "plots")}
    assert "plots/optimization_history.png" in plots
    assert client.get_run(tracker.run_id_).info.status == "FINISHED"


def test_trials_done_draws_the_trials_before_end_search_when_no_deadline_cut_a_trial(
    clean_mlflow_env,
):
    """A search that ends on its trial count sends the trials at ``trials_done``, not at the end."""
    import optuna
    import pandas as pd
    from mlflow import MlflowClient

    from automl_nas.tracking import MlflowTracker

    tracker = MlflowTracker(experiment_name="trial-count")
    tracker.start_search({"estimator": "Manual", "dataset": {"fingerprint": "0" * 40}})
    study = optuna.create_study()
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=3, callbacks=[tracker])
    tracker.trials_done(study)
    waited = time.monotonic() + 60
    while not tracker.timings.get("trials_ms") and time.monotonic() < waited:
        time.sleep(0.05)
    assert len(tracker.timings.get("trials_ms", [])) == 1  # drawn while the estimator would work
    tracker.end_search("FINISHED")

    assert len(tracker.timings["trials_ms"]) == 1  # and not again at the end
    client = MlflowClient(f"sqlite:///{clean_mlflow_env / 'mlflow.db'}")
    path = client.download_artifacts(tracker.run_id_, "trials.csv", str(clean_mlflow_env))
    assert len(pd.read_csv(path)) == 3


def test_the_database_file_alone_holds_the_finished_run(clean_mlflow_env, tmp_path):
    """The writer is killed after its last answer: its writes must not live only in the WAL."""
    import shutil

    import optuna
    from mlflow import MlflowClient

    from automl_nas.tracking import MlflowTracker

    tracker = MlflowTracker(experiment_name="copied")
    tracker.start_search({"estimator": "Manual", "dataset": {"fingerprint": "0" * 40}})
    study = optuna.create_study()
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=3, callbacks=[tracker])
    tracker.trials_done(study)
    tracker.end_search("FINISHED")

    shutil.copy(clean_mlflow_env / "mlflow.db", tmp_path / "copy.db")  # without -wal and -shm
    client = MlflowClient(f"sqlite:///{tmp_path / 'copy.db'}")
    assert client.get_run(tracker.run_id_).info.status == "FINISHED"
    experiment = client.get_experiment_by_name("copied")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 4  # the parent and its three trials


WORKER_TRIALS = """
import sys
import optuna
study = optuna.load_study(study_name="shared", storage=sys.argv[1])
def objective(trial):
    trial.set_user_attr("worker", "other-process")
    return trial.suggest_float("x", 0.0, 1.0)
study.optimize(objective, n_trials=3)
"""


def test_trials_that_other_processes_finish_get_child_runs_during_the_search(
    clean_mlflow_env, monkeypatch, tmp_path
):
    """A shared study: the sender thread finds a worker's trials without a callback for them.

    Trials from before this search (``first_trial``) are a resumed study's history and get no
    child run in this search's parent run.
    """
    import subprocess
    import sys

    import optuna
    from mlflow import MlflowClient

    from automl_nas.tracking import MlflowTracker, _mlflow

    monkeypatch.setattr(_mlflow, "SWEEP_INTERVAL", 0.2)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="shared", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=2)  # an earlier search
    tracker = MlflowTracker(experiment_name="shared", writer="thread")
    tracker.start_search(
        {"estimator": "Manual", "dataset": {"fingerprint": "0" * 40}, "first_trial": 2,
         "shared": True}
    )
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=1, callbacks=[tracker])
    subprocess.run([sys.executable, "-c", WORKER_TRIALS, storage], check=True, timeout=120)

    client = MlflowClient(f"sqlite:///{clean_mlflow_env / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("shared")
    waited = time.monotonic() + 60
    runs = []
    while len(runs) < 5 and time.monotonic() < waited:  # the parent and trials 2-5
        time.sleep(0.1)
        runs = client.search_runs([experiment.experiment_id])
    tags = {r.data.tags.get("automl_nas.trial_number"): r.data.tags for r in runs}
    assert sorted(n for n in tags if n is not None) == ["2", "3", "4", "5"]  # before trials_done
    assert {tags[n].get("automl_nas.worker") for n in ("3", "4", "5")} == {"other-process"}
    assert "automl_nas.worker" not in tags["2"]

    tracker.trials_done(optuna.load_study(study_name="shared", storage=storage))
    tracker.end_search("FINISHED")
    parent = client.get_run(tracker.run_id_)
    assert parent.data.metrics["n_trials"] == 4
    assert parent.data.params["first_trial"] == "2"
    assert len(client.search_runs([experiment.experiment_id])) == 5  # no run twice
