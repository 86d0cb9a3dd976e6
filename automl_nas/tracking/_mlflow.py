"""MLflow tracking of a search: a parent run per fit, a child run per trial, the final model.

The search process never calls MLflow itself: :class:`MlflowTracker` turns the search's events
into messages and books the answers; ``_supervisor.py`` delivers the messages to the writer
(``_writer.py``), a process of its own that does all MLflow work.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import pickle
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from automl_nas.masking import mask_uri
from automl_nas.tracking._base import BaseTracker
from automl_nas.tracking._logged_model import global_tracking_uri
from automl_nas.tracking._records import (
    MAX_TAG_VALUE,
    clip,
    now_ms,
    objective_names,
    search_params,
    search_summary,
    search_tags,
    trial_record,
)
from automl_nas.tracking._store import is_http, probe, sqlite_write_problem
from automl_nas.tracking._supervisor import WriterSupervisor

__all__ = ["DEFAULT_EXPERIMENT", "MlflowTracker", "TrackingWarning", "global_tracking_uri"]

_logger = logging.getLogger(__name__)

#: Experiment used when none is named (argument, active run or ``MLFLOW_EXPERIMENT_NAME``).
DEFAULT_EXPERIMENT = "automl_nas"

#: Seconds between looks at a shared study for trials that workers finished.
SWEEP_INTERVAL = 10.0
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

#: ``fit`` with tracking returns within ``time_budget * BUDGET_SLACK + BUDGET_GRACE_S`` seconds
#: of :meth:`MlflowTracker.start_search`: :meth:`MlflowTracker.end_search` waits for the writer
#: no longer than that (nor than ``flush_timeout``), and says what it left unlogged.
BUDGET_SLACK = 1.05
BUDGET_GRACE_S = 5.0
#: Seconds before that deadline at which :meth:`MlflowTracker.end_search` stops waiting for the
#: writer: ending a writer process that is still busy (kill, reap, join its reader) takes time
#: too, 40-100 ms on 2 cores at load 3, but 0.68 s once in CI (the full suite on 2 cores), which
#: ran ``fit`` past the bound with a reserve of 0.5 s.
CLOSE_RESERVE_S = 1.0

#: What each writer message holds, as the warning names what was not logged.
_WHAT = {
    "open": "the search run",
    "trial": "trial runs",
    "trials": "trials.csv and the plots",
    "model": "the final model",
    "finish": "the search summary and the run's end (the run stays RUNNING)",
}

_INSTALL_HINT = (
    "MLflow tracking needs the `mlflow` package: pip install 'automl-nas[mlflow]' "
    "(or pip install mlflow), or leave mlflow_tracking_uri/mlflow_experiment/register_model unset "
    "and MLFLOW_TRACKING_URI out of the environment to search without tracking"
)


class TrackingWarning(UserWarning):
    """MLflow could not record part of a search; the search itself went on."""


def import_mlflow() -> Any:
    """Import mlflow, or fail with an install hint (mlflow is an optional dependency)."""
    try:
        import mlflow
    except ImportError as exc:  # pragma: no cover - the dev venv has mlflow
        raise ImportError(_INSTALL_HINT) from exc
    return mlflow


def _user_mlflow() -> Any:
    """The mlflow module if this process already imported it (its global URI and active run
    then count), else None: the tracker itself never imports it here."""
    mlflow = sys.modules.get("mlflow")
    return mlflow if hasattr(mlflow, "get_tracking_uri") else None


class MlflowTracker(BaseTracker):
    """Records a search in MLflow: one parent run per fit, one nested child run per trial.

    The parent run holds the estimator params, dataset fingerprint and shape, the search space,
    stages, budget, library versions and git commit; at the end, plots (optimization history,
    parameter importances, intermediate values, Pareto front), a CSV of all trials and the final
    model as a pyfunc model, registered with an alias when ``registered_model_name`` is set. If a
    user run is active, the parent run is nested under it; the user's run is never written to.

    Each child run (``trial-0007``) has the trial's start and end times, status FINISHED / KILLED
    / FAILED for COMPLETE / PRUNED / FAIL (and the state as a tag), all sampled params, the
    per-epoch ``train_loss``/``val_loss``/``val_score`` with ``step`` = epoch, the objective,
    ``duration_s``, ``train_seconds``, ``train_rows``, ``n_params``, the proposing ``stage``
    and any error.
    With a shared storage, trials that workers (other processes) finish get child runs too,
    tagged with their ``worker``: the writer's sender thread looks for them in the study every
    ``SWEEP_INTERVAL`` seconds during the search and once more when it ends.

    All MLflow work (opening the parent run, the trial runs with ``log_batch``, the model, the
    plots) runs in a separate writer process fed from a background thread (``_supervisor.py``):
    the search never waits on the tracking store, does not share its core and GIL with MLflow,
    and never imports MLflow. The writer opens the parent run while the first trial trains and,
    during the search, imports what the end needs (model logging, plots), so ``fit`` waits only
    for the final model and plots themselves. The callback is thread-safe (Optuna ``n_jobs > 1``).

    A server that is down at :meth:`start_search`, or answers but is not MLflow, raises
    ``ConnectionError`` before any training; a SQLite store this process cannot write (a
    read-only file or directory) raises ``PermissionError`` naming the path, as the search's
    own storage and artifact directory do. Any other failure (a store that cannot be opened, a
    deleted experiment, a server that dies later) gives one :class:`TrackingWarning` and the
    search goes on; the Optuna study keeps every trial.

    Args:
        tracking_uri: MLflow tracking URI; None uses MLflow's own (``MLFLOW_TRACKING_URI``, else
            ``mlflow.set_tracking_uri``, else ``sqlite:///mlflow.db`` in the working directory).
        experiment_name: Experiment of the parent run; None uses the active run's experiment,
            else ``MLFLOW_EXPERIMENT_NAME``/``MLFLOW_EXPERIMENT_ID``, else ``"automl_nas"``.
        registered_model_name: Register the final model under this name.
        alias: Alias set on the new model version (``models:/<name>@<alias>``).
        run_name: Name of the parent run; None uses ``<Estimator>-<fingerprint[:8]>``.
        log_plots: Log optuna matplotlib plots at the end (needs matplotlib).
        sqlite_wal: Put a SQLite store in write-ahead-log mode (about 2x cheaper writes, and
            ``mlflow ui`` can read while the search writes); see ``enable_sqlite_wal``.
        writer: ``"process"`` does the MLflow work in a separate Python process (see above);
            ``"thread"`` does it in a thread of this process, sharing the search's GIL. The
            process hands over to a thread if it cannot start or dies.
        flush_timeout: Seconds :meth:`end_search` waits at most for the tracking work still
            queued (trial runs, model, plots); with a ``time_budget`` in the search's info, it
            waits no longer than ``time_budget * BUDGET_SLACK + BUDGET_GRACE_S`` after
            :meth:`start_search`, and a :class:`TrackingWarning` names what was not logged.
        probe_timeout: Seconds a tracking-server liveness check may take.

    Example:
        >>> tracker = MlflowTracker(experiment_name="demo", registered_model_name="demo-model")
        >>> # AutoNASClassifier(mlflow_experiment="demo", register_model="demo-model") builds this
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str | None = None,
        registered_model_name: str | None = None,
        alias: str = "champion",
        *,
        run_name: str | None = None,
        log_plots: bool = True,
        sqlite_wal: bool = True,
        writer: str = "process",
        flush_timeout: float = 60.0,
        probe_timeout: float = 5.0,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.registered_model_name = registered_model_name
        self.alias = alias
        self.run_name = run_name
        self.log_plots = log_plots
        self.sqlite_wal = sqlite_wal
        self.writer = writer
        self.flush_timeout = flush_timeout
        self.probe_timeout = probe_timeout
        self._reset()

    # ------------------------------------------------------------------ state
    def _reset(self) -> None:
        self.uri_: str | None = None
        self.experiment_id_: str | None = None
        self.run_id_: str | None = None
        self.model_uri_: str | None = None
        self.model_version_: str | None = None
        self._info: dict[str, Any] = {}
        self._writer: WriterSupervisor | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._lock = threading.Lock()
        self._study: optuna.Study | None = None
        self._names: list[str] | None = None
        self._finished: list[tuple[int, TrialState, tuple[float, ...] | None]] = []
        self._recorded: set[int] = set()  # numbers of the trials in _finished
        self._swept_at = time.monotonic()
        self._live_sweeps = False  # a shared search until trials_done: workers finish trials
        self._trials_sent = -1  # how many finished trials the last "trials" message held
        self._failures = 0
        self._first_error: str | None = None
        self._late_warnings: list[str] = []
        self._warned = False
        self._unanswered: dict[str, int] = {}  # op -> messages put, not answered yet
        self._skipped: list[str] = []  # what the writer left out to keep the deadline
        self._deadline: float | None = None  # monotonic; end_search waits no longer
        self._lost = False  # the store was deleted or replaced: the run is gone
        # Search thread per trial (callback_ms), writer per trial run (write_ms, write_cpu_ms),
        # writer per message (<op>_ms: open, trial, model, finish), writer imports (prewarm_s).
        self.timings: dict[str, list[float]] = {
            "callback_ms": [],
            "write_ms": [],
            "write_cpu_ms": [],
        }

    def __getstate__(self) -> dict[str, Any]:
        # Threads, locks and processes do not pickle; a pickled tracker is its configuration.
        keep = (
            "tracking_uri",
            "experiment_name",
            "registered_model_name",
            "alias",
            "run_name",
            "log_plots",
            "sqlite_wal",
            "writer",
            "flush_timeout",
            "probe_timeout",
        )
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    # ------------------------------------------------------------------ life cycle
    def start_search(self, info: dict[str, Any]) -> None:
        """Start the writer, which opens the parent run; a dead server or an unwritable SQLite
        store raises before training."""
        if importlib.util.find_spec("mlflow") is None:
            raise ImportError(_INSTALL_HINT)
        self._reset()
        self._info = dict(info)
        self._live_sweeps = bool(info.get("shared"))
        mlflow = _user_mlflow()
        uri = self.tracking_uri or (
            mlflow.get_tracking_uri() if mlflow else os.environ.get("MLFLOW_TRACKING_URI")
        )
        self.uri_ = uri or None
        if is_http(uri):
            reason = probe(uri, self.probe_timeout, mlflow_api=True)
            if reason is not None:
                raise ConnectionError(
                    f"MLflow tracking server {mask_uri(uri)} is not reachable or not an MLflow "
                    f"server ({mask_uri(reason)}); no "
                    f"trial was run. Start it (see mlflow/start_server.sh), or point "
                    f"mlflow_tracking_uri / MLFLOW_TRACKING_URI elsewhere, or unset both to "
                    f"search without tracking."
                )
        problem = sqlite_write_problem(uri)
        if problem is not None:
            raise PermissionError(
                f"MLflow tracking store {mask_uri(uri)} cannot be written: {problem}; no trial "
                f"was run. Make it writable, or point mlflow_tracking_uri / MLFLOW_TRACKING_URI "
                f"at a store this process can write, or unset both to search without tracking."
            )
        active = mlflow.active_run() if mlflow else None
        # A user's active run is nested under only when it lives in the same store.
        outer = active if active is not None and mlflow.get_tracking_uri() == uri else None
        estimator = str(info.get("estimator", "AutoNAS"))
        fingerprint = str((info.get("dataset") or {}).get("fingerprint", ""))
        config = {
            "uri": self.uri_,
            "experiment_name": self.experiment_name,
            "default_experiment": DEFAULT_EXPERIMENT,
            "outer_run_id": outer.info.run_id if outer else None,
            "outer_experiment_id": outer.info.experiment_id if outer else None,
            "run_name": mask_uri(self.run_name or f"{estimator}-{fingerprint[:8] or 'search'}"),
            "tags": search_tags(info),
            "params": search_params(info),
            "start_ms": now_ms(),
            "sqlite_wal": self.sqlite_wal,
            "probe_timeout": self.probe_timeout,
            "cwd": os.getcwd(),
            "package_dir": str(Path(__file__).resolve().parent),
            "prewarm": True,
            "deadline": None,
        }
        budget = info.get("time_budget")
        if budget is not None:
            allowed = float(budget) * BUDGET_SLACK + BUDGET_GRACE_S
            self._deadline = time.monotonic() + allowed
            config["deadline"] = time.time() + allowed  # the writer process's clock: wall time
        self._tmp = tempfile.TemporaryDirectory(prefix="automl_nas_mlflow_")
        self._writer = WriterSupervisor(
            config,
            use_process=self.writer == "process",
            on_answer=self._on_answer,
            on_fail=self._fail,
            tick=self._sweep_when_due,
        )
        self._count("open", +1)

    def _put(self, message: dict[str, Any]) -> None:
        self._count(message["op"], +1)
        self._writer.put(message)

    def _count(self, op: str, n: int) -> None:
        with self._lock:
            self._unanswered[op] = self._unanswered.get(op, 0) + n

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Queue one finished trial for writing (thread-safe; returns in well under 1 ms)."""
        if self._writer is None or trial.state not in _FINISHED:
            return
        t0 = time.perf_counter()
        if not self._record(study, trial):
            return
        if trial.user_attrs.get("stopped_by") == "time_budget":
            # The search's deadline has passed: no trial starts any more, so the writer draws
            # the plots while the estimator selects (and refits) its final model.
            self._queue_trials(study)
        self._warn_once()
        self.timings["callback_ms"].append((time.perf_counter() - t0) * 1000)

    def trials_done(self, study: optuna.Study) -> None:
        """Queue the workers' last trials, then trials.csv and the plots, unless a trial cut by
        the deadline already sent them all: the writer draws them while the estimator selects
        and refits its final model."""
        if self._writer is None or self._writer.abandoned:
            return
        self._sweep(study)
        self._live_sweeps = False  # the search's trials are final; a later one is not its own
        with self._lock:
            self._study = study
            unsent = self._trials_sent != len(self._finished)
        if unsent:
            self._queue_trials(study)

    def log_model(self, estimator: Any, input_example: Any) -> None:
        """Log ``estimator`` as the parent run's pyfunc model (plus ``sklearn`` flavor) and
        register it with :attr:`alias` when :attr:`registered_model_name` is set.

        The estimator is pickled here and logged by the writer; :meth:`end_search` waits for it.
        """
        if self._writer is None or self._writer.abandoned:
            return
        self._warn_once()
        tmp = Path(self._tmp.name)
        try:
            example = None
            if input_example is not None:
                example = (
                    input_example.iloc[:5] if hasattr(input_example, "iloc") else input_example[:5]
                )
            prediction = estimator.predict(example) if example is not None else None
            with open(tmp / "estimator.pkl", "wb") as f:  # the sklearn flavor looks for this name
                pickle.dump(estimator, f, protocol=pickle.HIGHEST_PROTOCOL)
            with open(tmp / "example.pkl", "wb") as f:
                pickle.dump((example, prediction), f, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - whatever fails, the search keeps its result
            self._warn(f"the final model was not logged ({type(exc).__name__}: {exc})", force=True)
            return
        message = {
            "op": "model",
            "estimator_path": str(tmp / "estimator.pkl"),
            "example_path": str(tmp / "example.pkl"),
            "model_code": str(Path(__file__).with_name("_model_code.py")),
            "package_dir": str(Path(__file__).resolve().parents[1]),
            "registered_model_name": self.registered_model_name,
            "alias": self.alias,
            "fingerprint": (self._info.get("dataset") or {}).get("fingerprint"),
            "add_sklearn_flavor": hasattr(estimator, "get_params"),
            "estimator_name": type(estimator).__name__,
            "ensemble_weights": None,
            "leaderboard_path": None,
        }
        try:  # the leaderboard is a nicety next to the model
            weights = getattr(estimator, "ensemble_weights_", None)
            if isinstance(weights, dict) and weights:
                text = json.dumps({str(k): round(float(v), 6) for k, v in weights.items()})
                message["ensemble_weights"] = clip(text, MAX_TAG_VALUE)
            if callable(getattr(estimator, "leaderboard", None)):
                estimator.leaderboard().to_csv(tmp / "leaderboard.csv", index=False)
                message["leaderboard_path"] = str(tmp / "leaderboard.csv")
        except Exception as exc:  # noqa: BLE001 - a nicety, as said above
            _logger.warning("leaderboard not logged: %s: %s", type(exc).__name__, mask_uri(exc))
        self._put(message)

    def end_search(self, status: str) -> None:
        """Send the summary, the trials and the plots, wait for the writer and close the run."""
        if self._writer is None:
            return
        deadline = time.monotonic() + self.flush_timeout
        if self._deadline is not None:
            deadline = min(deadline, max(self._deadline - CLOSE_RESERVE_S, time.monotonic()))
        try:
            finish = self._finish_message(status)
        except Exception as exc:  # noqa: BLE001 - the summary is a nicety: the run is still ended
            self._warn(f"the search summary was not logged ({type(exc).__name__}: {exc})")
            finish = {
                "op": "finish",
                "status": status,
                "end_ms": now_ms(),
                "metrics": [],
                "tags": {},
            }
        self._put(finish)
        done = self._writer.close(max(0.0, deadline - time.monotonic()), deadline)
        # One warning at the end, saying everything that was lost (unless said already).
        lost = (
            []
            if self._warned or self._first_error is None
            else [f"a write failed ({self._first_error})"]
        )
        lost += self._late_warnings
        if not done:
            with self._lock:
                left = [_WHAT.get(op, op) for op, n in self._unanswered.items() if n > 0]
            why = (
                f"to keep fit within time_budget * {BUDGET_SLACK} + {BUDGET_GRACE_S:.0f} s"
                if self._deadline is not None and deadline <= self._deadline + 1e-3
                else f"after waiting {self.flush_timeout:.0f} s"
            )
            lost.append(f"not logged {why}: {', '.join(left) or 'the last writes'}")
        if self._skipped:
            lost.append(f"left out to keep the time budget: {', '.join(self._skipped)}")
        if lost:
            self._warn("; ".join(lost), force=True)
        if self._failures:
            _logger.warning(
                "MLflow run %s is incomplete: %d write(s) failed, first: %s. The Optuna study "
                "holds every trial.",
                self.run_id_,
                self._failures,
                self._first_error,
            )
        self._study = None
        if done and self._tmp is not None:
            self._tmp.cleanup()

    # ------------------------------------------------------------------ trials
    def _record(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        """Queue ``trial``'s child run unless it has one; False if it had."""
        with self._lock:
            if trial.number in self._recorded:
                return False
            self._recorded.add(trial.number)
            self._study = study
            if self._names is None:
                self._names = objective_names(study)
            self._finished.append((trial.number, trial.state, trial.values and tuple(trial.values)))
        self._put({"op": "trial", "record": trial_record(trial, self._names).as_dict()})
        return True

    def _sweep(self, study: optuna.Study | None) -> None:
        """Record the trials of this search that other processes (workers) finished."""
        self._swept_at = time.monotonic()
        if study is None:
            return
        first = int(self._info.get("first_trial", 0))
        try:
            trials = study.get_trials(deepcopy=False, states=_FINISHED)
        except Exception as exc:  # noqa: BLE001 - a storage hiccup: the next sweep tries again
            _logger.info("looking for workers' trials failed: %s", mask_uri(exc))
            return
        for trial in trials:
            if trial.number >= first:
                self._record(study, trial)

    def _sweep_when_due(self) -> float | None:
        """Sweep for workers' trials when one is due; the writer's sender thread calls this
        before each wait for a message.

        Sweeps happen in a shared search only, until :meth:`trials_done`, every
        ``SWEEP_INTERVAL`` s. Returns the seconds until the next call (None: no call needed
        before the next message).
        """
        if not self._live_sweeps:
            return None
        if time.monotonic() - self._swept_at >= SWEEP_INTERVAL:
            self._sweep(self._study)
        return SWEEP_INTERVAL

    def _trials_message(self, study: optuna.Study) -> dict[str, Any]:
        """The study's trials, pickled, for ``trials.csv`` and the plots (empty if they do not
        pickle)."""
        with self._lock:
            n_finished = len(self._finished)
        path = Path(self._tmp.name, f"trials-{n_finished}.pkl")
        try:
            with open(path, "wb") as f:
                pickle.dump(study.get_trials(deepcopy=False), f, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - e.g. a user attribute that does not pickle
            _logger.warning(
                "trials.csv and plots not logged: %s: %s", type(exc).__name__, mask_uri(exc)
            )
            return {}
        self._trials_sent = n_finished
        return {
            "trials_path": str(path),
            "directions": [d.name for d in study.directions],
            "metric_names": study.metric_names,
            "plots": self.log_plots,
            "names": self._names,
        }

    def _queue_trials(self, study: optuna.Study) -> None:
        message = self._trials_message(study)
        if message:
            self._put({"op": "trials", **message})

    def _finish_message(self, status: str) -> dict[str, Any]:
        """The summary metrics and tags, and the trials unless the writer has them all."""
        message: dict[str, Any] = {"op": "finish", "status": status, "end_ms": now_ms()}
        message["metrics"], message["tags"] = search_summary(self._finished, self._study)
        if self._study is not None and self._trials_sent != len(self._finished):
            message.update(self._trials_message(self._study))
        return message

    # ------------------------------------------------------------------ answers and failures
    def _on_answer(self, answer: dict[str, Any]) -> None:
        """Book one answer of the writer (called from its reader or sender thread)."""
        op, error = answer.get("op"), answer.get("error")
        self._count(op, -1)
        for item in answer.get("skipped") or ():
            if item not in self._skipped:
                self._skipped.append(item)
        if answer.get("lost"):
            if self._lost:
                return  # said once: every later write fails the same way
            self._lost = True
        self.timings.setdefault(f"{op}_ms", []).append(answer.get("ms", float("nan")))
        if op == "open":
            if error:
                self._fail(f"opening the search run failed: {error}")
                return
            self.uri_, self.run_id_ = answer["uri"], answer["run_id"]
            self.experiment_id_ = answer["experiment_id"]
        elif error:
            self._fail(f"{mask_uri(self.uri_ or '?')}: {error}")
            # After a failed open, the run's later failures say nothing new.
            if op in ("model", "finish") and self.run_id_ and not answer.get("unreachable"):
                if op == "model":
                    self._late_warnings.append(f"the final model was not logged ({error})")
                else:
                    self._late_warnings.append(f"closing the search run failed ({error})")
        elif op == "trial":
            self.timings["write_ms"].append(answer["write_ms"])
            self.timings["write_cpu_ms"].append(answer["cpu_ms"])
        elif op == "model":
            self.model_uri_, self.model_version_ = answer["model_uri"], answer["version"]
            if answer.get("note"):
                _logger.warning(mask_uri(answer["note"]))
        elif op == "finish" and answer.get("prewarm_s") is not None:
            self.timings["prewarm_s"] = [answer["prewarm_s"]]

    def _fail(self, message: str) -> None:
        with self._lock:
            self._failures += 1
            if self._first_error is None:
                self._first_error = mask_uri(message)  # MLflow's errors may quote the URI

    def _warn_once(self) -> None:
        # Warnings are raised in the caller's thread (the search), not in the writer's threads.
        if self._first_error is not None and not self._warned:
            self._warn(f"a write failed ({self._first_error})")

    def _warn(self, message: str, force: bool = False) -> None:
        with self._lock:
            if self._warned and not force:
                return
            self._warned = True
        warnings.warn(
            mask_uri(
                f"MLflow tracking at {self.uri_ or '?'}: {message}. The search goes on and its "
                f"Optuna study keeps every trial; the MLflow record may be incomplete."
            ),
            TrackingWarning,
            stacklevel=3,
        )
