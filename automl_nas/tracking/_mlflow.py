"""MLflow tracking of a search: a parent run per fit, a child run per trial, the final model."""

from __future__ import annotations

import json
import logging
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from automl_nas.tracking._base import BaseTracker
from automl_nas.tracking._records import (
    MAX_TAG_VALUE,
    TAG_PREFIX,
    as_float,
    clip,
    mask_uri,
    now_ms,
    objective_names,
    search_params,
    search_tags,
    trial_record,
)
from automl_nas.tracking._writer import PARENT_TAG, is_http, log_batch, probe, write_trial

_logger = logging.getLogger(__name__)

#: Experiment used when none is named (argument, active run or ``MLFLOW_EXPERIMENT_NAME``).
DEFAULT_EXPERIMENT = "automl_nas"

_STOP = object()
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


def git_sha(directory: str | Path) -> str | None:
    """The HEAD commit of the git checkout holding ``directory``, or None."""
    try:
        out = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None


@contextmanager
def global_tracking_uri(mlflow: Any, uri: str) -> Iterator[None]:
    """Point MLflow's global tracking URI at ``uri`` for a call that only reads the global one.

    ``mlflow.*.log_model`` has no URI argument. The previous global URI and the
    ``MLFLOW_TRACKING_URI`` variable are both restored (MLflow's own ``_use_tracking_uri``
    unsets the variable when no global URI was set).
    """
    if mlflow.get_tracking_uri() == uri:
        yield
        return
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved_env = os.environ.get("MLFLOW_TRACKING_URI")
    saved_global = getattr(tracking_utils, "_tracking_uri", None)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved_global)
        if saved_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_env


def enable_sqlite_wal(uri: str) -> bool:
    """Switch the SQLite file behind ``uri`` to write-ahead logging; whether it is now in WAL.

    MLflow commits several transactions per ``log_batch``; in WAL mode each costs about half as
    much, and ``mlflow ui`` reading the same file no longer blocks the search writing it. The
    mode is a property of the file and stays; it is unsuited to network file systems.
    """
    import sqlite3

    if not uri.startswith("sqlite:///"):
        return False
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    if not path or path == ":memory:" or not os.path.isfile(path):
        return False
    try:
        with sqlite3.connect(path, timeout=20) as con:
            mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    except sqlite3.Error as exc:
        _logger.debug("could not switch %s to WAL: %s", path, exc)
        return False
    return str(mode).lower() == "wal"


def pip_requirements() -> list[str]:
    """Pinned requirements of the logged model, given explicitly (inferring them takes 7-16 s)."""
    from importlib import metadata

    reqs = []
    for dist in ("mlflow", "torch", "scikit-learn", "optuna", "numpy", "pandas", "cloudpickle"):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        reqs.append(f"{dist}=={version.split('+')[0]}")  # "2.13.0+cpu" is not on PyPI
    return reqs


class _PyfuncWithSklearnFlavor:
    """An MLflow flavor module for ``Model.log``: the pyfunc model plus a ``sklearn`` flavor.

    Both flavors read the same pickled estimator, so ``mlflow.sklearn.load_model`` returns the
    fitted estimator itself (with ``predict_proba``, ``score``, ...).
    """

    __name__ = "automl_nas.tracking.pyfunc_with_sklearn"

    @staticmethod
    def save_model(path: str, mlflow_model: Any, add_sklearn_flavor: bool = True, **kwargs: Any):
        import mlflow
        import sklearn

        mlflow.pyfunc.save_model(path=path, mlflow_model=mlflow_model, **kwargs)
        if add_sklearn_flavor:
            pickled = next(Path(path, "artifacts").rglob("estimator.pkl")).relative_to(path)
            mlflow_model.add_flavor(
                "sklearn",
                pickled_model=pickled.as_posix(),
                sklearn_version=sklearn.__version__,
                serialization_format="pickle",
                code=mlflow_model.flavors["python_function"].get("code"),
            )
            mlflow_model.save(os.path.join(path, "MLmodel"))


class _WriterProcess:
    """The ``_writer.py`` process: JSON lines in on stdin, one JSON answer per record out."""

    def __init__(self, config: dict[str, Any], on_message: Any) -> None:
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_writer.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )
        self._reader = threading.Thread(
            target=self._read, args=(on_message,), name="automl_nas-mlflow-reader", daemon=True
        )
        self._reader.start()
        if not self.send(config):
            raise OSError(f"the writer process did not start: {self.stderr_tail()}")

    def send(self, message: dict[str, Any]) -> bool:
        """Hand ``message`` to the process; False when it is gone."""
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def _read(self, on_message: Any) -> None:
        for line in self._proc.stdout:
            try:
                on_message(json.loads(line))
            except ValueError:
                _logger.debug("writer process said: %s", line.rstrip())

    def close(self, timeout: float) -> bool:
        """Let the process write what it has, up to ``timeout`` s; whether it finished."""
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            return False
        finally:
            self._reader.join(5)
            self._stderr.close()
        return True

    def stderr_tail(self, n: int = 500) -> str:
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        return text.strip()[-n:] or f"exit code {self._proc.poll()}"


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
    ``duration_s``, ``train_seconds``, ``n_params``, the proposing ``stage`` and any error.

    Trials are written with ``log_batch`` by a separate writer process fed from a background
    thread, so the search never waits on the tracking store and does not share its core and GIL
    with MLflow; the callback itself is thread-safe (Optuna ``n_jobs > 1``). A server that
    is down at :meth:`start_search` raises ``ConnectionError`` before any training; a store that
    fails later gives one :class:`TrackingWarning` and the search goes on (the Optuna study keeps
    every trial).

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
            ``mlflow ui`` can read while the search writes); see :func:`enable_sqlite_wal`.
        writer: ``"process"`` writes trial runs from a separate Python process (the search of
            small networks is GIL-bound on one core; MLflow's store spends tens of ms of Python
            per run, which a thread would take from training); ``"thread"`` writes them from a
            thread of this process. The process falls back to the thread if it cannot run.
        flush_timeout: Seconds :meth:`end_search` waits for unwritten trials.
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
        self.model_info_: Any = None
        self.model_version_: str | None = None
        self._info: dict[str, Any] = {}
        self._client: Any = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._study: optuna.Study | None = None
        self._names: list[str] | None = None
        self._finished: list[tuple[int, TrialState, tuple[float, ...] | None]] = []
        self._failures = 0
        self._first_error: str | None = None
        self._warned = False
        self._abandon = False
        self._process: _WriterProcess | None = None
        self.timings: dict[str, list[float]] = {
            "callback_ms": [],
            "write_ms": [],
            "write_cpu_ms": [],
        }

    def __getstate__(self) -> dict[str, Any]:
        # Threads, locks and clients do not pickle; a pickled tracker is its configuration.
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
        """Open the parent run; raise before any training when the store cannot be reached."""
        mlflow = import_mlflow()
        self._reset()
        self._info = dict(info)
        uri = self.tracking_uri or mlflow.get_tracking_uri()
        self.uri_ = uri
        if is_http(uri):
            reason = probe(uri, self.probe_timeout)
            if reason is not None:
                raise ConnectionError(
                    f"MLflow tracking server {mask_uri(uri)} is not reachable ({reason}); no "
                    f"trial was run. Start it (see mlflow/start_server.sh), or point "
                    f"mlflow_tracking_uri / MLFLOW_TRACKING_URI elsewhere, or unset both to "
                    f"search without tracking."
                )
        try:
            self._open_parent_run(mlflow, uri, info)
        except Exception as exc:
            raise RuntimeError(
                f"MLflow tracking at {mask_uri(uri)} failed before the search started "
                f"({type(exc).__name__}: {exc}); no trial was run. Fix the store or unset "
                f"mlflow_tracking_uri / MLFLOW_TRACKING_URI to search without tracking."
            ) from exc
        if self.sqlite_wal:
            enable_sqlite_wal(uri)
        self._start_writer_process()
        self._worker = threading.Thread(
            target=self._write_loop, name="automl_nas-mlflow-writer", daemon=True
        )
        self._worker.start()

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Queue one finished trial for writing (thread-safe; returns in well under 1 ms)."""
        if self.run_id_ is None or trial.state not in (
            TrialState.COMPLETE,
            TrialState.PRUNED,
            TrialState.FAIL,
        ):
            return
        t0 = time.perf_counter()
        with self._lock:
            self._study = study
            if self._names is None:
                self._names = objective_names(study)
            self._finished.append((trial.number, trial.state, trial.values and tuple(trial.values)))
        self._queue.put(trial_record(trial, self._names))
        self._warn_once()
        self.timings["callback_ms"].append((time.perf_counter() - t0) * 1000)

    def log_model(self, estimator: Any, input_example: Any) -> None:
        """Log ``estimator`` as the parent run's pyfunc model (plus ``sklearn`` flavor) and
        register it with :attr:`alias` when :attr:`registered_model_name` is set."""
        if self.run_id_ is None:
            return
        self._warn_once()
        if not self._store_alive("log the model"):
            return
        try:
            self._log_model(estimator, input_example)
        except Exception as exc:
            self._warn(f"the final model was not logged ({type(exc).__name__}: {exc})", force=True)
        try:
            self._log_result(estimator)
        except Exception as exc:  # the leaderboard is a nicety next to the model
            _logger.warning("leaderboard not logged: %s: %s", type(exc).__name__, exc)

    def _log_result(self, estimator: Any) -> None:
        """The estimator's leaderboard (CSV) and ensemble weights (tag), where it has them."""
        import json

        weights = getattr(estimator, "ensemble_weights_", None)
        if isinstance(weights, dict) and weights:
            text = json.dumps({str(k): round(float(v), 6) for k, v in weights.items()})
            self._log_batch(
                self.run_id_, [], {}, {TAG_PREFIX + "ensemble_weights": clip(text, MAX_TAG_VALUE)}
            )
        if callable(getattr(estimator, "leaderboard", None)):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp, "leaderboard.csv")
                estimator.leaderboard().to_csv(path, index=False)
                self._client.log_artifact(self.run_id_, str(path))

    def end_search(self, status: str) -> None:
        """Write what is left, the plots and the summary, and close the parent run."""
        if self.run_id_ is None:
            return
        deadline = time.monotonic() + self.flush_timeout
        self._queue.put(_STOP)
        flushed = True
        if self._worker is not None:
            self._worker.join(self.flush_timeout)
            flushed = not self._worker.is_alive()
        if self._process is not None:
            flushed = self._process.close(max(0.0, deadline - time.monotonic())) and flushed
            self._process = None
        if not flushed:
            self._abandon = True
            self._warn(
                f"trial records were still unwritten after {self.flush_timeout:.0f} s and were "
                f"dropped",
                force=True,
            )
        self._warn_once()
        if self._failures:
            _logger.warning(
                "MLflow run %s is incomplete: %d write(s) failed, first: %s. The Optuna study "
                "holds every trial.",
                self.run_id_,
                self._failures,
                self._first_error,
            )
        if not self._store_alive("close the search run"):
            return
        try:
            self._log_summary()
            if self.log_plots:
                self._log_plots()
            self._client.set_terminated(self.run_id_, status, end_time=now_ms())
        except Exception as exc:
            self._warn(f"closing the search run failed ({type(exc).__name__}: {exc})", force=True)
        finally:
            self._study = None

    # ------------------------------------------------------------------ parent run
    def _open_parent_run(self, mlflow: Any, uri: str, info: dict[str, Any]) -> None:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        active = mlflow.active_run()
        # A user's active run is nested under only when it lives in the same store.
        outer = active if active is not None and mlflow.get_tracking_uri() == uri else None
        self.experiment_id_ = self._experiment_id(client, outer)
        estimator = str(info.get("estimator", "AutoNAS"))
        fingerprint = str((info.get("dataset") or {}).get("fingerprint", ""))
        run_name = self.run_name or f"{estimator}-{fingerprint[:8] or 'search'}"
        tags = search_tags(info)
        tags["mlflow.source.type"] = "LOCAL"
        if outer is not None:
            tags[PARENT_TAG] = outer.info.run_id
        sha = git_sha(os.getcwd())
        if sha:
            tags["mlflow.source.git.commit"] = sha
        package_sha = git_sha(Path(__file__).resolve().parent)
        if package_sha:
            tags[TAG_PREFIX + "git_sha"] = package_sha
        run = client.create_run(
            self.experiment_id_, start_time=now_ms(), tags=tags, run_name=run_name
        )
        self.run_id_ = run.info.run_id
        self._client = client
        self._log_batch(self.run_id_, [], search_params(info), {})

    def _experiment_id(self, client: Any, outer: Any) -> str:
        name = self.experiment_name
        if name is None:
            if outer is not None:
                return outer.info.experiment_id
            if os.environ.get("MLFLOW_EXPERIMENT_ID"):
                return os.environ["MLFLOW_EXPERIMENT_ID"]
            name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            try:
                return client.create_experiment(name)
            except Exception:
                experiment = client.get_experiment_by_name(name)  # created meanwhile elsewhere
                if experiment is None:
                    raise
        if experiment.lifecycle_stage == "deleted":
            raise ValueError(
                f"experiment {name!r} is deleted; restore it with `mlflow experiments restore "
                f"--experiment-id {experiment.experiment_id}` or choose another mlflow_experiment"
            )
        return experiment.experiment_id

    def _log_batch(
        self,
        run_id: str,
        metrics: list[tuple[str, float, int, int]],
        params: dict[str, str],
        tags: dict[str, str],
    ) -> None:
        log_batch(self._client, run_id, metrics, params, tags)

    # ------------------------------------------------------------------ trial runs
    def _start_writer_process(self) -> None:
        """Start the writer process; on any trouble, trials are written from the thread."""
        if self.writer != "process" or not sys.executable:
            return
        config = {
            "uri": self.uri_,
            "experiment_id": self.experiment_id_,
            "parent_run_id": self.run_id_,
            "probe_timeout": self.probe_timeout,
        }
        try:
            self._process = _WriterProcess(config, self._on_writer_message)
        except OSError as exc:
            _logger.info("writer process not started (%s); writing from a thread", exc)
            self._process = None

    def _on_writer_message(self, message: dict[str, Any]) -> None:
        if "error" in message:
            self._fail(f"{mask_uri(self.uri_ or '?')}: {message['error']}")
        elif "write_ms" in message:
            self.timings["write_ms"].append(message["write_ms"])
            self.timings["write_cpu_ms"].append(message["cpu_ms"])

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            while True:  # drain: one liveness check per burst of finished trials
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in items)
            records = [item for item in items if item is not _STOP]
            if not records or self._abandon:
                continue
            if self._process is not None:
                unsent = [r for r in records if not self._process.send(r.as_dict())]
                if not unsent:
                    continue
                # The process is gone: what it had not answered is lost, the rest goes on here.
                self._fail(f"the MLflow writer process ended: {self._process.stderr_tail()}")
                self._process, records = None, unsent
            reason = probe(self.uri_, self.probe_timeout) if is_http(self.uri_) else None
            for record in records:
                if self._abandon:
                    break
                if reason is not None:
                    self._fail(f"{mask_uri(self.uri_)} is not reachable ({reason})")
                    continue
                wall, cpu = time.perf_counter(), time.thread_time()
                try:
                    write_trial(self._client, self.experiment_id_, self.run_id_, record.as_dict())
                except Exception as exc:
                    self._fail(f"{type(exc).__name__}: {clip(exc, 500)}")
                else:
                    self.timings["write_ms"].append((time.perf_counter() - wall) * 1000)
                    self.timings["write_cpu_ms"].append((time.thread_time() - cpu) * 1000)

    # ------------------------------------------------------------------ failures
    def _fail(self, message: str) -> None:
        with self._lock:
            self._failures += 1
            if self._first_error is None:
                self._first_error = message

    def _warn_once(self) -> None:
        # Warnings are raised in the caller's thread (the search), not in the writer thread.
        if self._first_error is not None and not self._warned:
            self._warn(f"a trial could not be recorded ({self._first_error})")

    def _warn(self, message: str, force: bool = False) -> None:
        with self._lock:
            if self._warned and not force:
                return
            self._warned = True
        warnings.warn(
            f"MLflow tracking at {mask_uri(self.uri_ or '?')}: {message}. The search goes on "
            f"and its Optuna study keeps every trial; the MLflow record may be incomplete.",
            TrackingWarning,
            stacklevel=3,
        )

    def _store_alive(self, what: str) -> bool:
        if self._abandon or self._client is None:
            return False
        if is_http(self.uri_):
            reason = probe(self.uri_, self.probe_timeout)
            if reason is not None:
                self._fail(f"not reachable ({reason})")
                self._warn(f"could not {what}: not reachable ({reason})")
                return False
        return True

    # ------------------------------------------------------------------ end of search
    def _log_summary(self) -> None:
        study = self._study
        counts = {s: 0 for s in ("COMPLETE", "PRUNED", "FAIL")}
        best_curve: list[tuple[str, float, int, int]] = []
        best: float | None = None
        ts = now_ms()
        single = study is not None and len(study.directions) == 1
        maximize = single and study.direction == optuna.study.StudyDirection.MAXIMIZE
        for number, state, values in sorted(self._finished, key=lambda r: r[0]):
            counts[state.name] = counts.get(state.name, 0) + 1
            value = (
                as_float(values[0])
                if (single and values and state == TrialState.COMPLETE)
                else None
            )
            if value is not None and (best is None or (value > best if maximize else value < best)):
                best = value
            if best is not None:
                best_curve.append(("best_value", best, ts, number))
        metrics = best_curve + [
            ("n_trials", float(len(self._finished)), ts, 0),
            ("n_complete", float(counts["COMPLETE"]), ts, 0),
            ("n_pruned", float(counts["PRUNED"]), ts, 0),
            ("n_failed", float(counts["FAIL"]), ts, 0),
        ]
        tags: dict[str, str] = {}
        if single and best is not None:
            best_trial = study.best_trial
            tags[TAG_PREFIX + "best_trial"] = str(best_trial.number)
            lines = [f"Best trial {best_trial.number}: value {best_trial.value:.6g}", ""]
            lines += [f"- `{k}` = {v}" for k, v in best_trial.params.items()]
            tags["mlflow.note.content"] = clip("\n".join(lines), MAX_TAG_VALUE)
        self._log_batch(self.run_id_, metrics, {}, tags)
        if study is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp, "trials.csv")
                study.trials_dataframe().to_csv(path, index=False)
                self._client.log_artifact(self.run_id_, str(path))

    def _log_plots(self) -> None:
        study = self._study
        if study is None or not any(s == TrialState.COMPLETE for _, s, _ in self._finished):
            return
        try:
            # No matplotlib.use("Agg"): it would switch a notebook's backend. The figures are
            # saved to files and closed, so they never show.
            import matplotlib.pyplot as plt
            from optuna.visualization import matplotlib as ovm
        except ImportError:
            _logger.warning("matplotlib is not installed: no plots logged (pip install matplotlib)")
            return
        plots: dict[str, Any] = {"intermediate_values": ovm.plot_intermediate_values}
        if len(study.directions) == 1:
            plots["optimization_history"] = ovm.plot_optimization_history
            plots["param_importances"] = ovm.plot_param_importances
        else:
            plots["pareto_front"] = ovm.plot_pareto_front
            plots["param_importances"] = lambda s: ovm.plot_param_importances(
                s,
                target=lambda t: t.values[0],
                target_name=self._names[0] if self._names else "value_0",
            )
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna marks its matplotlib plots experimental
            for name, plot in plots.items():
                try:
                    ax = plot(study)
                    fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
                    fig.savefig(Path(tmp, f"{name}.png"), dpi=100, bbox_inches="tight")
                    plt.close(fig)
                except Exception as exc:  # a plot is a nicety: never fail the search for one
                    _logger.warning("plot %s not logged: %s: %s", name, type(exc).__name__, exc)
            self._client.log_artifacts(self.run_id_, tmp, "plots")

    # ------------------------------------------------------------------ model
    def _log_model(self, estimator: Any, input_example: Any) -> None:
        mlflow = import_mlflow()
        from mlflow.models import Model, infer_signature

        import automl_nas

        example = input_example[:5] if input_example is not None else None
        if hasattr(example, "iloc"):
            example = input_example.iloc[:5]
        signature = None
        if example is not None:
            signature = infer_signature(
                example, estimator.predict(example), params={"method": "predict"}
            )
        with tempfile.TemporaryDirectory() as tmp:
            pickled = Path(tmp, "estimator.pkl")
            with open(pickled, "wb") as f:
                pickle.dump(estimator, f, protocol=pickle.HIGHEST_PROTOCOL)
            with global_tracking_uri(mlflow, self.uri_):
                info = Model.log(
                    artifact_path=None,
                    name="model",
                    flavor=_PyfuncWithSklearnFlavor,
                    run_id=self.run_id_,
                    python_model=str(Path(__file__).with_name("_model_code.py")),
                    artifacts={"estimator": str(pickled)},
                    code_paths=[str(Path(automl_nas.__file__).parent)],
                    signature=signature,
                    input_example=example,
                    pip_requirements=pip_requirements(),
                    registered_model_name=self.registered_model_name,
                    add_sklearn_flavor=hasattr(estimator, "get_params"),
                    tags={TAG_PREFIX + "estimator": type(estimator).__name__},
                )
        self.model_info_ = info
        if self.registered_model_name:
            version = str(info.registered_model_version)
            self.model_version_ = version
            self._client.set_registered_model_alias(self.registered_model_name, self.alias, version)
            fingerprint = (self._info.get("dataset") or {}).get("fingerprint")
            if fingerprint:
                self._client.set_model_version_tag(
                    self.registered_model_name,
                    version,
                    TAG_PREFIX + "fingerprint",
                    str(fingerprint),
                )
            self._client.set_model_version_tag(
                self.registered_model_name, version, TAG_PREFIX + "search_run_id", self.run_id_
            )
