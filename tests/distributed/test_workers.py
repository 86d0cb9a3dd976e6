"""A coordinator ``fit`` and worker processes on one study: PostgreSQL, SQLite, journal file.

Real servers and real processes: workers are ``python -c "run_worker(...)"`` subprocesses with
heartbeats every second and a 6-second grace period, so a killed process is noticed quickly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import optuna
import pytest
import torch
from optuna.storages import RetryFailedTrialCallback
from optuna.trial import TrialState
from sklearn.datasets import load_digits

from automl_nas import AutoNASClassifier
from automl_nas.distributed import make_storage
from automl_nas.search import WORKER_GRACE, DiskTrialStore, SearchSpec

WORKER = """
import sys
from automl_nas.distributed import make_storage, run_worker
storage = sys.argv[1]
if not storage.startswith("journal:"):
    storage = make_storage(storage, heartbeat_interval=1, grace_period=6)
print("ready", flush=True)
print(run_worker(storage, sys.argv[2], wait=120, artifact_dir=sys.argv[3]), flush=True)
"""

COORDINATOR = """
import sys
from sklearn.datasets import load_digits
from automl_nas import AutoNASClassifier
from automl_nas.distributed import make_storage
X, y = load_digits(return_X_y=True)
storage = make_storage(sys.argv[1], heartbeat_interval=1, grace_period=6)
AutoNASClassifier(time_budget=300, max_epochs=5, cv=None, storage=storage, study_name=sys.argv[2],
                  artifact_dir=sys.argv[3], random_state=0).fit(X[:600], y[:600])
"""


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600], X[600:900], y[600:900]


def storage_for(url: str):
    """What the coordinator passes as ``storage``: the URL, with quick heartbeats on RDB."""
    return (
        url
        if url.startswith("journal:")
        else make_storage(url, heartbeat_interval=1, grace_period=6)
    )


def start_workers(url: str, study: str, n: int, artifacts) -> list[subprocess.Popen]:
    """``n`` worker processes, returned once their imports are done and they poll the study."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, study, str(artifacts)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    return workers


def finish(workers: list[subprocess.Popen]) -> list[int]:
    """Each worker's exit code must be 0; returns the trial counts they printed."""
    counts = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, out
        counts.append(int(out.split()[-1]))
    return counts


def by_worker(study: optuna.Study) -> dict[str, list[optuna.trial.FrozenTrial]]:
    groups: dict[str, list] = {}
    for trial in study.trials:
        groups.setdefault(trial.user_attrs.get("worker", "coordinator"), []).append(trial)
    return groups


def make_clf(url: str, study: str, tmp_path, budget: float, **kwargs) -> AutoNASClassifier:
    return AutoNASClassifier(
        time_budget=budget,
        max_epochs=5,
        storage=storage_for(url),
        study_name=study,
        artifact_dir=str(tmp_path / "artifacts"),
        random_state=0,
        **kwargs,
    )


def test_coordinator_and_two_workers_on_postgres(postgres_url, digits, tmp_path):
    X, y, X_test, y_test = digits
    workers = start_workers(postgres_url, "two-workers", 2, tmp_path / "artifacts")
    clf = make_clf(postgres_url, "two-workers", tmp_path, budget=20)
    started = time.monotonic()
    clf.fit(X, y)
    elapsed = time.monotonic() - started
    counts = finish(workers)

    assert elapsed <= 20 * 1.05 + WORKER_GRACE + 5
    trials = clf.study_.trials
    numbers = [t.number for t in trials]
    assert len(set(numbers)) == len(numbers) == len(trials)
    groups = by_worker(clf.study_)
    worker_names = sorted(set(groups) - {"coordinator"})
    assert len(worker_names) == 2  # both workers trained trials...
    assert sorted(len(groups[name]) for name in worker_names) == sorted(counts)  # ...all recorded
    assert all(t.state != TrialState.RUNNING for t in trials)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert any("worker" in t.user_attrs for t in complete)
    directory = tmp_path / "artifacts" / "two-workers"
    spec = SearchSpec.load(directory / "search.pt")
    store = DiskTrialStore(str(directory), 10, clf.study_, spec.build)
    for trial in complete:  # every completed trial's model reached the artifact store
        entry = store.load(trial.number)
        assert entry.value == pytest.approx(trial.value)
        features = torch.as_tensor(clf.preprocessor_.transform(X_test[:3]), dtype=torch.float32)
        assert entry.load_model()(features).shape == (3, 10)
    assert clf.predict(X_test).shape == (len(X_test),)
    assert clf.score(X_test, y_test) > 0.7
    board = clf.leaderboard()
    assert set(board["trial"]) == set(numbers)


def test_killed_worker_trial_fails_and_is_retried(postgres_url, digits, tmp_path):
    X, y, _, _ = digits
    workers = start_workers(postgres_url, "kill-worker", 2, tmp_path / "artifacts")
    victim = workers[0]
    clf = make_clf(postgres_url, "kill-worker", tmp_path, budget=25)
    fit = threading.Thread(target=clf.fit, args=(X, y))
    fit.start()
    watcher, killed = None, None
    end = time.monotonic() + 25
    while killed is None and time.monotonic() < end:
        time.sleep(0.1)
        try:
            watcher = watcher or optuna.load_study(study_name="kill-worker", storage=postgres_url)
        except KeyError:
            continue
        for trial in watcher.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            mine = trial.user_attrs.get("worker", "").endswith(f":{victim.pid}")
            if mine and trial.intermediate_values:  # training: an epoch reported
                victim.send_signal(signal.SIGKILL)  # kill -9 mid-trial
                killed = trial.number
                break
    started = time.monotonic()
    fit.join(timeout=120)
    assert not fit.is_alive()
    assert killed is not None, "the victim never ran a trial"
    victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL
    assert finish(workers[1:])[0] >= 1

    trials = {t.number: t for t in clf.study_.trials}
    assert time.monotonic() - started < 25 + WORKER_GRACE + 5
    assert trials[killed].state == TrialState.FAIL  # its heartbeat stopped
    retries = [
        t for t in trials.values() if RetryFailedTrialCallback.retried_trial_number(t) == killed
    ]
    assert len(retries) == 1 and retries[0].params == trials[killed].params
    others = [t for n, t in trials.items() if n != killed]
    assert not [t for t in others if t.state == TrialState.FAIL]  # nothing else lost
    assert not [t for t in others if t.state == TrialState.RUNNING]


def test_killed_coordinator_resumes_without_retraining(sqlite_url, digits, tmp_path):
    X, y, X_test, y_test = digits
    artifacts = tmp_path / "artifacts"
    coordinator = subprocess.Popen(
        [sys.executable, "-c", COORDINATOR, sqlite_url, "resume", str(artifacts)]
    )
    watcher = None
    end = time.monotonic() + 90
    while time.monotonic() < end:
        time.sleep(0.2)
        try:
            watcher = watcher or optuna.load_study(study_name="resume", storage=sqlite_url)
        except KeyError:
            continue
        if len(watcher.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) >= 3:
            break
    coordinator.send_signal(signal.SIGKILL)
    coordinator.wait(timeout=10)
    before = {t.number: t for t in watcher.get_trials() if t.state == TrialState.COMPLETE}
    assert len(before) >= 3
    files = {n: os.stat(artifacts / "resume" / f"trial_{n}.pt").st_mtime_ns for n in before}

    clf = make_clf(sqlite_url, "resume", tmp_path, budget=60, n_trials=3, cv=None)
    clf.fit(X, y)
    after = {t.number: t for t in clf.study_.trials}
    for number, trial in before.items():  # reused as they were: same value, same model file
        assert after[number].state == TrialState.COMPLETE
        assert after[number].value == trial.value
        assert os.stat(artifacts / "resume" / f"trial_{number}.pt").st_mtime_ns == files[number]
    starts = sum(t.user_attrs.get("stage") == "default" for t in after.values())
    # enqueued once, by the first fit (+1: the killed trial's retry keeps its stage)
    assert 1 <= starts <= len(clf.space_.start_params()) + 1
    new = [t for t in after.values() if t.number > max(before) and t.state != TrialState.WAITING]
    assert 1 <= len(new) <= 4  # 3 new trials, + the killed RUNNING trial if it was retried
    ranked = [
        entry.number
        for entry in DiskTrialStore(
            str(artifacts / "resume"), 10, clf.study_,
            SearchSpec.load(artifacts / "resume" / "search.pt").build,
        ).ranked()
    ]
    assert set(before) <= set(ranked)  # the old trials are ensemble candidates
    assert clf.score(X_test, y_test) > 0.7

    with pytest.raises(ValueError, match="other data"):
        make_clf(sqlite_url, "resume", tmp_path, budget=5).fit(X[:-10], y[:-10])
    assert len(optuna.load_study(study_name="resume", storage=sqlite_url).trials) == len(after)


def start_cli_worker(url: str, study: str, artifacts) -> subprocess.Popen:
    """``python -m automl_nas worker``, returned once it says it is waiting for the search."""
    worker = subprocess.Popen(
        [
            sys.executable, "-m", "automl_nas", "worker", "--storage", url, "--study", study,
            "--artifact-dir", str(artifacts),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "waiting for search" in worker.stderr.readline()
    return worker


@pytest.mark.parametrize("backend", ["sqlite_url", "journal_storage"])
def test_one_machine_storages(backend, request, digits, tmp_path):
    """The same search on SQLite and on a journal file, with the command-line worker; MLflow
    has a child run for every trial, the worker's too."""
    url = request.getfixturevalue(backend)
    X, y, X_test, y_test = digits
    worker = start_cli_worker(url, "local", tmp_path / "artifacts")
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    clf = make_clf(
        url, "local", tmp_path, budget=90, n_trials=8, cv=None, mlflow_tracking_uri=tracking
    )
    clf.fit(X, y)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    count = int(out.split()[0])
    assert "trial(s) run by this worker" in out and "Traceback" not in err
    trials = clf.study_.trials
    states = [
        (t.number, t.state.name, t.user_attrs.get("worker"), t.user_attrs.get("error"))
        for t in trials
    ]
    assert 8 <= len(trials) <= 9, states  # the cap holds across processes (+1: a start race)
    assert len(by_worker(clf.study_)) == 2 and count >= 1, states
    assert len({t.number for t in trials}) == len(trials)
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials), states
    assert clf.score(X_test, y_test) > 0.7

    from mlflow import MlflowClient

    client = MlflowClient(tracking)
    experiment = client.get_experiment_by_name("automl_nas")
    runs = client.search_runs([experiment.experiment_id])
    children = {
        int(r.data.tags["automl_nas.trial_number"]): r.data.tags.get("automl_nas.worker")
        for r in runs if "automl_nas.trial_number" in r.data.tags
    }
    assert children == {t.number: t.user_attrs.get("worker") for t in trials}
    parent = next(r for r in runs if "automl_nas.trial_number" not in r.data.tags)
    assert parent.data.metrics["n_trials"] == len(trials)


def test_workers_train_batches_while_the_coordinator_runs_a_batch_stage(sqlite_url, digits, tmp_path):
    """A worker follows the coordinator's batch stage: its trials too train side by side,
    each member still one trial of the shared study."""
    from automl_nas import TabularSpace
    from automl_nas.stages import BatchStage

    X, y, X_test, y_test = digits
    worker = start_cli_worker(sqlite_url, "batched", tmp_path / "artifacts")
    space = TabularSpace().replace(embedding="none", ensemble_k=1, width=[16, 32], epochs=[3, 6])
    clf = make_clf(
        sqlite_url, "batched", tmp_path, budget=90, n_trials=16, cv=None, space=space,
        stages=[BatchStage("tpe", members=3)],
    )
    clf.fit(X, y)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    trials = clf.study_.trials
    assert len(trials) <= 16 + 3  # the cap, plus one batch started as it was reached
    batches: dict[int, list] = {}
    for trial in trials:
        if "batch" in trial.user_attrs:
            batches.setdefault(trial.user_attrs["batch"]["leader"], []).append(trial)
    processes = {t.user_attrs.get("worker", "coordinator") for t in trials}
    assert len(processes) == 2, [(t.number, t.user_attrs.get("worker")) for t in trials]
    worker_batches = [m for m in batches.values() if m[0].user_attrs.get("worker")]
    assert worker_batches, "the worker trained no batch"
    for members in batches.values():  # a batch never spans processes
        assert len({t.user_attrs.get("worker") for t in members}) == 1
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert clf.score(X_test, y_test) > 0.5
