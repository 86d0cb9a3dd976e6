"""Coordinators: how the processes of one search share it, behind one interface.

A search runs in one process (:class:`LocalCoordinator`, in-memory study and trial store) or
in a storage that worker processes join (:class:`SharedCoordinator`). The estimator never asks
which: :func:`open_search` looks at the storage, as Optuna's own loop asks its storage about
heartbeats. The shared study is the only channel to workers: the coordinator writes where the
search spec lives, the wall-clock deadline, the cap on started trials and the running stage
into the study's user attributes (:class:`~automl_nas.search.StudyAttr`); workers read them
before every trial. No scheduler, no extra service.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import optuna
from optuna.trial import TrialState

from automl_nas.search._budget import BudgetPlan, wall_deadline
from automl_nas.search._keys import StudyAttr
from automl_nas.search._safe import inside
from automl_nas.search._spec import SearchSpec
from automl_nas.search._store import DiskTrialStore, MemoryTrialStore, TrialStore

#: Where a shared search keeps its spec and trial models without ``artifact_dir``.
DEFAULT_ARTIFACT_DIR = "automl_nas_artifacts"


def artifact_root(artifact_dir: str | os.PathLike | None) -> str:
    """The absolute root of a shared search's files: ``artifact_dir``, or the default."""
    return os.path.abspath(artifact_dir or DEFAULT_ARTIFACT_DIR)


def started_trials(study: optuna.Study) -> int:
    """Trials that have started (enqueued, still WAITING ones have not)."""
    return sum(t.state != TrialState.WAITING for t in study.get_trials(deepcopy=False))


def announce(study: optuna.Study, **attrs: Any) -> None:
    """Set coordinator attributes.

    ``spec`` (path), ``deadline`` (Unix time), ``max_trials``, ``stage`` (index), and
    ``heartbeat`` ([interval, grace period] in seconds: a process judges others' trials stale by
    its own grace period, so every process of a search must use the coordinator's).
    """
    keys = {
        "spec": StudyAttr.SPEC, "deadline": StudyAttr.DEADLINE,
        "max_trials": StudyAttr.MAX_TRIALS, "stage": StudyAttr.STAGE,
        "heartbeat": StudyAttr.HEARTBEAT,
    }
    for name, value in attrs.items():
        study.set_user_attr(keys[name], value)


def wait_for_running(study: optuna.Study, timeout: float) -> int:
    """Wait up to ``timeout`` s for other processes' RUNNING trials; return how many still run.

    Workers stop training at the shared deadline and then only save and report, so a few
    seconds cover a live worker; a killed one never finishes, and the wait ends at ``timeout``
    (its trial is failed by the storage's heartbeat check, where there is one).
    """
    end = time.monotonic() + timeout
    while True:
        with warnings.catch_warnings():  # experimental since 2.9, still the public way
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # a no-op without heartbeats
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not running or time.monotonic() >= end:
            return len(running)
        time.sleep(0.2)


class StopAtTrialCap:
    """Optuna callback: stop this process's ``optimize`` once the search started ``cap`` trials.

    Counted search-wide, over every process's trials. Each process checks before it starts a
    trial, so processes that start at the same moment may overshoot by up to one trial each.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if started_trials(study) >= self.cap:
            study.stop()


class Coordinator:
    """One search's study, the store of its trained trials, and what other processes are told.

    The local coordinator of an in-memory study tells nobody anything; subclasses that share
    the study override the hooks. ``shared`` says whether other processes can join.
    """

    shared = False

    def __init__(self, study: optuna.Study) -> None:
        self.study = study

    def resumed_seed(self, fingerprint: str) -> int | None:
        """The seed of the search already stored under this study, if any (same seed: same split).

        Raises if the stored search ran on other data, target or space (``fingerprint``).
        """
        return None

    def store(self, spec: SearchSpec) -> TrialStore:
        """Where trained trials are kept."""
        return MemoryTrialStore(keep=spec.keep, maximize=spec.metric.maximize)

    def publish(self, spec: SearchSpec, plan: BudgetPlan, n_trials: int | None) -> None:
        """Make ``spec``, the deadline and the trial cap known to other processes."""

    def callbacks(self) -> list:
        """Optuna callbacks this process's trials need (e.g. a search-wide trial cap)."""
        return []

    def stage_started(self, index: int) -> None:
        """The coordinator runs stage ``index`` now."""

    def trials_started(self) -> int:
        """Trials started so far, by every process of the search."""
        return started_trials(self.study)

    def finish(self, plan: BudgetPlan) -> None:
        """The search is over: stop other processes and wait for their last trials."""


class LocalCoordinator(Coordinator):
    """A search in this process alone: in-memory study, networks kept in memory."""


class SharedCoordinator(Coordinator):
    """A search in a storage that worker processes join (``automl-nas worker``).

    The spec (``search.pt``) and every completed trial's model (``trial_<n>.pt``) are files
    in ``<artifact_dir>/<study_name>/``, which every process must reach. A resumed study keeps
    the spec path of its first fit, which must lie inside ``artifact_dir``: a path announced
    in the storage is never followed outside it.

    Args:
        study: The study in the shared storage.
        storage: That storage; its heartbeat settings are announced to workers.
        artifact_dir: Root of the search's files (default ``./automl_nas_artifacts``).
    """

    shared = True

    def __init__(
        self,
        study: optuna.Study,
        storage: optuna.storages.BaseStorage,
        artifact_dir: str | os.PathLike | None = None,
    ) -> None:
        super().__init__(study)
        self.storage = storage
        root = artifact_root(artifact_dir)
        if StudyAttr.SPEC in study.user_attrs:
            self.spec_path = inside(study.user_attrs[StudyAttr.SPEC], root, "the stored spec path")
        else:
            self.spec_path = os.path.join(root, study.study_name, "search.pt")
        self.cap: int | None = None

    def resumed_seed(self, fingerprint: str) -> int | None:
        if not os.path.exists(self.spec_path):
            return None
        stored = SearchSpec.load(self.spec_path)
        if stored.fingerprint != fingerprint:
            raise ValueError(
                f"Study {self.study.study_name!r} in this storage holds a search on other data, "
                "target or search space; its trials cannot be reused. Pass a new study_name to "
                "start afresh."
            )
        return stored.seed

    def store(self, spec: SearchSpec) -> TrialStore:
        return DiskTrialStore(os.path.dirname(self.spec_path), spec.keep, self.study, spec.build)

    def publish(self, spec: SearchSpec, plan: BudgetPlan, n_trials: int | None) -> None:
        spec.save(self.spec_path)  # into the directory that store() made
        self.cap = None if n_trials is None else started_trials(self.study) + n_trials
        interval = getattr(self.storage, "heartbeat_interval", None)
        announce(
            self.study,
            spec=self.spec_path,
            deadline=wall_deadline(plan.search_deadline),
            max_trials=self.cap,
            heartbeat=interval and [interval, self.storage.grace_period],
        )

    def callbacks(self) -> list:
        return [] if self.cap is None else [StopAtTrialCap(self.cap)]

    def stage_started(self, index: int) -> None:
        announce(self.study, stage=index)

    def finish(self, plan: BudgetPlan) -> None:
        """Workers stop now; their last trials are saved and reported within the grace."""
        announce(self.study, deadline=time.time())
        wait_for_running(self.study, plan.worker_wait())


def open_search(
    storage: optuna.storages.BaseStorage | None,
    *,
    study_name: str | None,
    directions: list[str],
    pruner: optuna.pruners.BasePruner,
    artifact_dir: str | os.PathLike | None = None,
) -> Coordinator:
    """The coordinator of a new search, or of the stored one it resumes.

    Any storage but memory is shared: an existing study of that name is loaded (resumed),
    and workers may join it. Its directions must be ``directions``: Optuna loads a study
    whatever directions it is asked for, and a search that minimises a log loss in a study
    that maximises would keep its worst trials.
    """
    shared = storage is not None and not isinstance(storage, optuna.storages.InMemoryStorage)
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        directions=directions,
        pruner=pruner,
        load_if_exists=shared and study_name is not None,
    )
    stored, wanted = [d.name.lower() for d in study.directions], [d.lower() for d in directions]
    if stored != wanted:
        raise ValueError(
            f"study {study_name!r} in the storage was searched to {' and '.join(stored)} its "
            f"objectives, this search would {' and '.join(wanted)}: its metric or cost_objective "
            "differs. Fit with the ones it was searched with (a classifier's study from before "
            "log_loss became the default needs metric='accuracy'), or use another study_name."
        )
    if shared:
        return SharedCoordinator(study, storage, artifact_dir)
    return LocalCoordinator(study)
