"""The storages distributed workers share, driven by real separate OS processes.

Two processes take trials from one study at once on PostgreSQL, SQLite and a journal file. On the
RDB storages a process SIGKILLed mid-trial is failed through its stopped heartbeat and its trial
retried; a journal file has no heartbeat in Optuna 5, so there the killed trial stays RUNNING.
Independent of automl_nas: the workers are a few lines of Optuna, run from this file as a script
(``python test_storage_backends.py optimize|hang ...``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.storages import (
    BaseStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
    fail_stale_trials,
)
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

#: Heartbeat settings of the kill tests: a dead trial is detectable after ~2-3 s.
HEARTBEAT_INTERVAL = 1
GRACE_PERIOD = 2
TRIALS_PER_WORKER = 8
ALL_BACKENDS = ["postgres_url", "sqlite_url", "journal_storage"]


def open_storage(url: str, heartbeat: bool = False) -> BaseStorage:
    """The Optuna storage for a fixture's string; RDB ones with a fast heartbeat if asked."""
    if url.startswith("journal:"):
        return JournalStorage(JournalFileBackend(url[len("journal:") :]))
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    if not heartbeat:
        return RDBStorage(url, engine_kwargs=engine_kwargs)
    return RDBStorage(
        url,
        engine_kwargs=engine_kwargs,
        heartbeat_interval=HEARTBEAT_INTERVAL,
        grace_period=GRACE_PERIOD,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
    )


def _worker_main(argv: list[str]) -> None:
    """Child process: ``optimize`` runs n trials after a barrier; ``hang`` starts one and sleeps."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["optimize", "hang"])
    parser.add_argument("url")
    parser.add_argument("study")
    parser.add_argument("--n-trials", type=int, default=1)
    parser.add_argument("--barrier", type=Path, help="directory where all workers check in")
    parser.add_argument("--parties", type=int, default=1)
    parser.add_argument("--marker", type=Path, help="file written once the trial is running")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=args.study, storage=open_storage(args.url, heartbeat=args.mode == "hang")
    )
    if args.barrier:  # start trials only when every worker is loaded, so they truly overlap
        (args.barrier / str(os.getpid())).touch()
        deadline = time.monotonic() + 60
        while len(list(args.barrier.iterdir())) < args.parties and time.monotonic() < deadline:
            time.sleep(0.02)

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("pid", os.getpid())
        x = trial.suggest_float("x", -1.0, 1.0)
        if args.mode == "hang":
            time.sleep(HEARTBEAT_INTERVAL * 1.2)  # at least one heartbeat is stored
            args.marker.write_text(str(trial.number))
            time.sleep(600)
        time.sleep(0.02)
        return x * x

    study.optimize(objective, n_trials=args.n_trials)


def _spawn(tmp_path: Path, *args: str) -> subprocess.Popen:
    """Start this file as a worker process; its output goes to a log file in ``tmp_path``."""
    with open(
        tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log", "w"
    ) as log:  # the child keeps a copy
        return subprocess.Popen(
            [sys.executable, __file__, *args], stdout=log, stderr=subprocess.STDOUT
        )


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(tmp_path.glob("worker-*.log")))


def _wait_for(path: Path, process: subprocess.Popen, tmp_path: Path, timeout: float = 60) -> None:
    """Wait until ``path`` exists; fail with the worker's log if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"worker never started its trial:\n{_logs(tmp_path)}")
        time.sleep(0.05)


def _new_study(url: str, heartbeat: bool = False) -> optuna.Study:
    return optuna.create_study(
        study_name=f"study-{uuid.uuid4().hex[:8]}", storage=open_storage(url, heartbeat)
    )


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_two_processes_share_one_study(backend, request, tmp_path):
    url = request.getfixturevalue(backend)
    study = _new_study(url)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    args = [url, study.study_name, "--n-trials", str(TRIALS_PER_WORKER), "--barrier", str(barrier)]
    workers = [_spawn(tmp_path, "optimize", *args, "--parties", "2") for _ in range(2)]
    codes = [w.wait(timeout=120) for w in workers]
    assert codes == [0, 0], _logs(tmp_path)

    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 2 * TRIALS_PER_WORKER
    assert sorted(t.number for t in trials) == list(range(2 * TRIALS_PER_WORKER))
    assert len({t._trial_id for t in trials}) == len(trials)
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    by_pid: dict[int, list[optuna.trial.FrozenTrial]] = {}
    for t in trials:
        by_pid.setdefault(t.user_attrs["pid"], []).append(t)
    assert sorted(len(ts) for ts in by_pid.values()) == [TRIALS_PER_WORKER] * 2
    # The two processes ran at the same time: each started trials before the other finished.
    spans = [
        (min(t.datetime_start for t in ts), max(t.datetime_complete for t in ts))
        for ts in by_pid.values()
    ]
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]


@pytest.mark.parametrize("backend", ["postgres_url", "sqlite_url"])
def test_killed_worker_trial_is_failed_by_heartbeat_and_retried(backend, request, tmp_path):
    url = request.getfixturevalue(backend)
    study = _new_study(url, heartbeat=True)
    marker = tmp_path / "running"
    worker = _spawn(tmp_path, "hang", url, study.study_name, "--marker", str(marker))
    _wait_for(marker, worker, tmp_path)

    fail_stale_trials(study)  # the worker is alive and beating: nothing is stale
    assert [t.state for t in study.trials] == [TrialState.RUNNING]

    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    killed_at = time.monotonic()
    while study.trials[0].state == TrialState.RUNNING:
        assert time.monotonic() - killed_at < 30, "the dead trial was never failed"
        time.sleep(0.5)
        fail_stale_trials(study)  # what every worker's optimize() runs before each new trial
    failed, retry = study.trials
    assert failed.state == TrialState.FAIL and failed.user_attrs["pid"] == worker.pid
    assert retry.state == TrialState.WAITING
    assert retry.params == failed.params
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(retry) == failed.number

    # The next worker picks the retry up first: the same params run to completion.
    study.optimize(lambda t: t.suggest_float("x", -1.0, 1.0) ** 2, n_trials=1)
    assert study.trials[1].state == TrialState.COMPLETE
    assert study.trials[1].params == failed.params
    assert len(study.trials) == 2


def test_journal_has_no_heartbeat_killed_trial_stays_running(journal_storage, tmp_path):
    study = _new_study(journal_storage)
    marker = tmp_path / "running"
    worker = _spawn(tmp_path, "hang", journal_storage, study.study_name, "--marker", str(marker))
    _wait_for(marker, worker, tmp_path)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()

    time.sleep(GRACE_PERIOD + 1)
    fail_stale_trials(study)  # a no-op: JournalStorage is no BaseHeartbeat in Optuna 5
    study.optimize(lambda t: t.suggest_float("x", -1.0, 1.0) ** 2, n_trials=1)
    assert [t.state for t in study.trials] == [TrialState.RUNNING, TrialState.COMPLETE]


if __name__ == "__main__":
    _worker_main(sys.argv[1:])
