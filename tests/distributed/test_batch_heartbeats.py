"""A batch whose process is killed is failed by its stopped heartbeats and retried.

Trials asked outside ``study.optimize`` get no heartbeat from Optuna; the batch stage beats for
its members itself. A search process (this file run as a script) trains batches of four on a
SQLite study with heartbeats every second; the test SIGKILLs it while a batch trains and checks
that every member it left RUNNING is failed within the grace period and retried as a WAITING
trial with the same parameters, as a killed ``optimize`` trial would be.
"""

from __future__ import annotations

import subprocess
import sys
import time

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import TrialState

from automl_nas.search import TrialAttr

HEARTBEAT_INTERVAL = 1
GRACE_PERIOD = 3
STUDY = "batch-heartbeats"


def open_storage(url: str) -> RDBStorage:
    return RDBStorage(
        url,
        engine_kwargs={"connect_args": {"timeout": 60}},
        heartbeat_interval=HEARTBEAT_INTERVAL,
        grace_period=GRACE_PERIOD,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
    )


def _search(url: str) -> None:
    """Child process: a batch search slow enough to be killed mid-batch."""
    from sklearn.datasets import make_classification

    from automl_nas import AutoNASClassifier, TabularSpace
    from automl_nas.stages import BatchStage

    X, y = make_classification(20_000, 20, n_informative=10, random_state=0)
    space = TabularSpace().replace(
        embedding="none", ensemble_k=1, width=256, n_blocks=3, epochs=200, batch_size=32
    )
    AutoNASClassifier(
        space=space, stages=[BatchStage("random", members=4)], storage=open_storage(url),
        study_name=STUDY, time_budget=60, max_epochs=200, cv=None, random_state=0, verbose=0,
    ).fit(X, y)


def test_killed_batch_members_are_failed_and_retried(sqlite_url, tmp_path):
    log = tmp_path / "search.log"
    storage = open_storage(sqlite_url)  # creates the schema before the search process opens it
    with open(log, "w") as out:
        child = subprocess.Popen([sys.executable, __file__, sqlite_url], stdout=out, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 180
        members: list[optuna.trial.FrozenTrial] = []
        while len(members) < 2:
            assert child.poll() is None, f"the search ended early:\n{log.read_text()}"
            assert time.monotonic() < end, f"no batch started:\n{log.read_text()}"
            time.sleep(0.2)
            try:
                study = optuna.load_study(study_name=STUDY, storage=storage)
            except KeyError:  # not created yet
                continue
            members = [t for t in study.get_trials(states=(TrialState.RUNNING,))
                       if TrialAttr.BATCH in t.user_attrs]
        time.sleep(GRACE_PERIOD + 1)  # beyond the grace period: a batch without heartbeats is stale now
        fail_stale_trials(study)
        numbers = {t.number for t in members}
        assert TrialState.FAIL not in {t.state for t in study.get_trials() if t.number in numbers}, (
            "live members were taken for dead")
    finally:
        child.kill()  # SIGKILL
        child.wait()

    killed_at = time.monotonic()
    numbers = {t.number for t in study.get_trials(states=(TrialState.RUNNING,)) if t.number in numbers}
    assert len(numbers) >= 2, "the batch ended before the kill: make it slower"
    while any(t.state == TrialState.RUNNING for t in study.get_trials() if t.number in numbers):
        assert time.monotonic() - killed_at < 30, "the killed batch's members stayed RUNNING"
        time.sleep(0.5)
        fail_stale_trials(study)  # what every process's next trial runs first
    trials = study.get_trials()
    failed = [t for t in trials if t.number in numbers]
    assert {t.state for t in failed} == {TrialState.FAIL}
    retries = {RetryHeartbeatStaleTrialCallback.retried_trial_number(t): t for t in trials
               if t.state == TrialState.WAITING}
    for member in failed:
        assert retries[member.number].params == member.params


if __name__ == "__main__":
    _search(sys.argv[1])
