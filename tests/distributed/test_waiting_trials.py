"""Enqueued (WAITING) trials go to exactly one taker on every storage ``make_storage`` opens.

``fit`` enqueues the start portfolio while workers already take trials from the same study, so
several processes pop WAITING trials at once. On SQLite, Optuna's ``SELECT ... FOR UPDATE`` locks
nothing and two processes could both run one enqueued trial; the second to finish then failed
with "Cannot tell a COMPLETE trial" (a CI failure of the dask launcher test). Here four takers,
each with its own storage object and so its own database connections (as separate processes
have), race for 40 enqueued trials after a barrier; each trial must run once. Threads rather
than processes keep the test to seconds: a process spends ~8 s importing torch.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState

from automl_nas.distributed import make_storage

ENQUEUED = 40
TAKERS = 4


@pytest.mark.parametrize("backend", ["sqlite_url", "postgres_url", "journal_storage"])
def test_each_enqueued_trial_runs_once(backend, request):
    url = request.getfixturevalue(backend)
    study = optuna.create_study(
        study_name=f"queue-{uuid.uuid4().hex[:8]}", storage=make_storage(url)
    )
    for x in range(ENQUEUED):
        study.enqueue_trial({"x": x})
    barrier = threading.Barrier(TAKERS, timeout=60)
    errors: list[BaseException] = []

    def take() -> None:
        own = optuna.load_study(study_name=study.study_name, storage=make_storage(url))
        barrier.wait()
        try:
            own.optimize(
                lambda trial: trial.suggest_int("x", 0, ENQUEUED - 1),
                n_trials=ENQUEUED // TAKERS,
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    takers = [threading.Thread(target=take) for _ in range(TAKERS)]
    for taker in takers:
        taker.start()
    for taker in takers:
        taker.join(timeout=120)
    assert not errors, errors

    trials = study.get_trials(deepcopy=False)
    assert len(trials) == ENQUEUED
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    runs = Counter(t.params.get("x") for t in trials)
    assert runs == Counter(range(ENQUEUED)), f"run twice: {[x for x, n in runs.items() if n > 1]}"
