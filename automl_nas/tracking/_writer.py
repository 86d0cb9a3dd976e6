"""The MLflow side of a tracked search; also runs as a process of its own (``python _writer.py``).

Every MLflow call of a search happens here: opening the search's parent run, one child run per
trial, the model (logged, registered, aliased), the summary, the plots and the run's end. A
search of small networks is bound to one core by the GIL, and MLflow spends seconds of Python
on its imports, its SQLAlchemy store (creating a new SQLite database runs all its migrations),
its requirement checks and the plots: done in the search process, that time comes straight out
of the search's budget or is added to ``fit``. Done in this process, it runs on another core
while the search trains, and what the end of the search needs is imported meanwhile (see
:func:`prewarm`), so ``fit`` only waits for the work itself.

The process reads one JSON config line, then one JSON message per line on stdin, each with
an ``op`` (``trial``, ``trials``, ``model``, ``finish``); it answers the config (``op``
``open``) and every message with one JSON line on stdout, in order. Its trial-writing path
imports only the standard library and mlflow (never ``automl_nas``, whose import pulls in
torch), so it writes the first trials within seconds. In the search process the same
:class:`Recorder` runs in a thread when the process cannot (``MlflowTracker(writer="thread")``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

PARENT_TAG = "mlflow.parentRunId"
TAG_PREFIX = "automl_nas."

# MLflow 3 limits (mlflow/utils/validation.py): what one log_batch call and one value may hold.
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000

Metrics = Sequence[Sequence[Any]]  # (key, value, timestamp_ms, step)

_logger = logging.getLogger(__name__)


def batches(
    metrics: Metrics, params: Mapping[str, str], tags: Mapping[str, str]
) -> Iterator[tuple[list, list[tuple[str, str]], list[tuple[str, str]]]]:
    """Split one run's records into ``log_batch`` calls within MLflow's per-call limits.

    Almost every trial fits in one call; a space with more than 100 params or a very long
    history spills into more.

    Example:
        >>> [len(p) for _, p, _ in batches([], {str(i): "x" for i in range(250)}, {})]
        [100, 100, 50]
    """
    param_items, tag_items, metric_items = list(params.items()), list(tags.items()), list(metrics)
    while param_items or tag_items or metric_items:
        p, param_items = param_items[:MAX_PARAMS_PER_BATCH], param_items[MAX_PARAMS_PER_BATCH:]
        t, tag_items = tag_items[:MAX_TAGS_PER_BATCH], tag_items[MAX_TAGS_PER_BATCH:]
        room = min(MAX_METRICS_PER_BATCH, MAX_ENTITIES_PER_BATCH - len(p) - len(t))
        m, metric_items = metric_items[:room], metric_items[room:]
        yield m, p, t


def log_batch(client: Any, run_id: str, metrics: Metrics, params: dict, tags: dict) -> None:
    """``client.log_batch`` in as few calls as MLflow's limits allow."""
    from mlflow.entities import Metric, Param, RunTag

    for m, p, t in batches(metrics, params, tags):
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, ts, step) for k, v, ts, step in m],
            params=[Param(k, v) for k, v in p],
            tags=[RunTag(k, v) for k, v in t],
            synchronous=True,
        )


def terminate(client: Any, run_id: str, status: str, end_ms: int) -> None:
    """End a run with ``status`` at ``end_ms`` in one store call.

    ``MlflowClient.set_terminated`` on a server also GETs the run back and prints two "View run"
    lines to stdout: one extra round trip and two lines per trial. The store's own update is the
    single call that remains; ``set_terminated`` is the fallback.
    """
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if store is None or not hasattr(store, "update_run_info"):
        client.set_terminated(run_id, status, end_time=end_ms)
        return
    from mlflow.entities import RunStatus

    store.update_run_info(
        run_id, run_status=RunStatus.from_string(status), end_time=end_ms, run_name=None
    )


def write_trial(client: Any, experiment_id: str, parent_run_id: str, record: Mapping) -> str:
    """Create, fill and end one trial's child run; returns its run id.

    ``record`` is a ``RunRecord`` as a dict: run_name, start_ms, end_ms, status, params,
    metrics [(key, value, timestamp_ms, step)], tags.
    """
    tags = {PARENT_TAG: parent_run_id, **record["tags"]}
    run = client.create_run(
        experiment_id, start_time=record["start_ms"], tags=tags, run_name=record["run_name"]
    )
    run_id = run.info.run_id
    log_batch(client, run_id, record["metrics"], record["params"], {})
    terminate(client, run_id, record["status"], record["end_ms"])
    return run_id


def is_http(uri: str | None) -> bool:
    """Whether ``uri`` points at a tracking server (as opposed to a database or file store)."""
    return bool(uri) and uri.startswith(("http://", "https://"))


def probe(uri: str, timeout: float) -> str | None:
    """Why the tracking server at ``uri`` cannot be reached, or None when it answers.

    MLflow's own client retries a dead server with exponential backoff for minutes; one GET of
    ``/health`` without retries tells within ``timeout`` seconds.
    """
    import requests

    try:
        requests.get(uri.rstrip("/") + "/health", timeout=timeout)
    except requests.exceptions.SSLError:
        return None  # it answered; MLflow's own TLS settings decide the rest
    except requests.exceptions.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


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


@contextlib.contextmanager
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


def _sqlite_pragma(uri: str, pragma: str) -> str | None:
    """The first value ``PRAGMA <pragma>`` returns on the SQLite file behind ``uri`` (None if
    ``uri`` is not a SQLite file or the statement failed)."""
    import sqlite3

    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    if not path or path == ":memory:" or not os.path.isfile(path):
        return None
    try:
        with sqlite3.connect(path, timeout=20) as con:
            return str(con.execute(f"PRAGMA {pragma}").fetchone()[0])
    except sqlite3.Error as exc:
        _logger.debug("PRAGMA %s failed on %s: %s", pragma, path, exc)
        return None


def enable_sqlite_wal(uri: str) -> bool:
    """Switch the SQLite file behind ``uri`` to write-ahead logging; whether it is now in WAL.

    MLflow commits several transactions per ``log_batch``; in WAL mode each costs about half as
    much, and ``mlflow ui`` reading the same file no longer blocks the search writing it. The
    mode is a property of the file and stays; it is unsuited to network file systems.
    """
    return (_sqlite_pragma(uri, "journal_mode=WAL") or "").lower() == "wal"


def checkpoint_sqlite_wal(uri: str) -> None:
    """Copy what the write-ahead log holds into the SQLite file behind ``uri``.

    The writer process is killed once it has answered, before SQLite would checkpoint on its
    last connection's close: without this, the run's last writes would live only in the
    ``-wal`` file beside the database, lost to anyone who copies the ``.db`` file alone.
    """
    _sqlite_pragma(uri, "wal_checkpoint(PASSIVE)")  # PASSIVE: never waits for a reader


def describes(schema: Any, example: Any) -> bool:
    """Whether MLflow's inferred input ``schema`` types every column and accepts ``example``."""
    from mlflow.models import validate_schema
    from mlflow.types.schema import AnyType

    if schema is None or any(isinstance(c.type, AnyType) for c in getattr(schema, "inputs", [])):
        return False
    try:
        validate_schema(example, schema)
    except Exception:  # noqa: BLE001 - MLflow raises MlflowException or pandas errors
        return False
    return True


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


class PyfuncWithSklearnFlavor:
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


def prewarm(plots_ready: threading.Event | None = None) -> None:
    """Import what the plots and then the model will need, while the search still runs.

    Best effort: optuna and matplotlib (one tiny figure drawn, which loads the fonts), the
    parameter-importance evaluator (ranked once on a 4-trial study: its first call imports and
    warms its random forest, 1.9 s on a 2-core VM), then ``plots_ready`` is set; then MLflow's
    model code and automl_nas with torch (MLflow runs the model's code file when it saves the
    model and loads it to check the input example). For the
    writer process only: it also seeds MLflow's package map (see :func:`_seed_package_map`)
    and sets its own torch to one thread, as the search does.
    """
    groups = (
        (lambda: __import__("optuna.visualization.matplotlib"), _draw_a_figure, _rank_importances),
        (
            _seed_package_map,
            lambda: __import__("mlflow.pyfunc"),
            lambda: __import__("mlflow.models.signature"),
            _one_torch_thread,
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for group in groups:
            for step in group:
                try:
                    step()
                except Exception as exc:  # a cold import later is slower, not wrong
                    _logger.debug("prewarm step failed: %s", exc)
            if plots_ready is not None:
                plots_ready.set()


def _seed_package_map() -> None:
    """Give MLflow's module -> package map the logged model's pinned packages only.

    MLflow reads the map to check that the model's requirements match the installed versions;
    built from every installed distribution's metadata, it cost 2.5-5.6 s of CPU per process on
    a 2-core VM. Our requirements pin exactly the installed versions (:func:`pip_requirements`),
    and MLflow reads the map for nothing else on this path (requirements are never inferred), so
    this process seeds it with those packages; MLflow then looks their versions up directly.
    """
    from mlflow.utils import requirements_utils

    if getattr(requirements_utils, "_MODULES_TO_PACKAGES", ()) is None:
        module_of = {"scikit-learn": "sklearn"}  # the others import under their own name
        packages = [req.split("==")[0] for req in pip_requirements()]
        requirements_utils._MODULES_TO_PACKAGES = {module_of.get(p, p): [p] for p in packages}


def _rank_importances() -> None:
    from optuna.distributions import FloatDistribution

    optuna = _quiet_optuna()  # prewarm runs in the writer process only

    dist = FloatDistribution(0.0, 1.0)
    study = optuna.create_study()
    study.add_trials(
        optuna.trial.create_trial(
            params={"a": i / 4, "b": (3 * i % 4) / 4}, distributions={"a": dist, "b": dist},
            value=float(i),
        )
        for i in range(4)
    )
    optuna.importance.get_param_importances(study)


def _draw_a_figure() -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.set_title("x")
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    plt.close(fig)


def _one_torch_thread() -> None:
    # Checking the input example predicts 5 rows: OpenMP threads would only spin on a busy host.
    import automl_nas  # noqa: F401  (imports torch)
    import torch

    torch.set_num_threads(1)


def _quiet_optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class Recorder:
    """Runs one search's tracking messages against MLflow, in order; answers each with a dict.

    Args:
        config: What the parent run is made of (see ``MlflowTracker._config``).
        own_process: True in the writer process (it may set MLflow's global tracking URI and
            matplotlib's backend); False in a thread of the search process, which must not.
        opened: ``{"run_id", "experiment_id", "uri"}`` of a parent run already opened (when a
            thread takes over from a writer process that died).
    """

    def __init__(
        self, config: Mapping[str, Any], *, own_process: bool, opened: Mapping | None = None
    ) -> None:
        self.config = config
        self.own_process = own_process
        self.client: Any = None
        self.uri: str | None = config.get("uri")
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.prewarm_s: float | None = None  # how long prewarm() took, once it is done
        # Set once prewarm() has imported what the plots (the model) need: those messages wait
        # for its imports to complete rather than import the same modules half-way beside it.
        self._plots_warm, self._model_warm = threading.Event(), threading.Event()
        self._plots_warm.set()
        self._model_warm.set()
        if opened is not None:
            self.uri, self.run_id = opened["uri"], opened["run_id"]
            self.experiment_id = opened["experiment_id"]

    def handle(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """One message's answer: ``{"op": ..., "ms": ...}``, with ``error`` when it failed."""
        started = time.perf_counter()
        op = message.get("op", "")
        answer: dict[str, Any] = {"op": op}
        if op == "trial":
            answer["number"] = message["record"]["tags"].get(TAG_PREFIX + "trial_number")
        try:
            if op != "open" and self.run_id is None:
                raise RuntimeError("the search run was not opened")
            reason = probe(self.uri, self.config["probe_timeout"]) if is_http(self.uri) else None
            if reason is not None:
                answer.update(error=f"not reachable ({reason})", unreachable=True)
            else:
                self._await_imports(op, message)
                answer.update(getattr(self, f"_{op}")(message))
        except Exception as exc:
            answer["error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
        answer["ms"] = (time.perf_counter() - started) * 1000
        return answer

    def _await_imports(self, op: str, message: Mapping[str, Any]) -> None:
        """Let :func:`prewarm` finish importing what ``op`` needs (no wait without it)."""
        if op == "model":
            self._model_warm.wait()
        elif op == "trials" or (op == "finish" and message.get("trials_path")):
            self._plots_warm.wait()

    def start_prewarm(self) -> None:
        """Run :func:`prewarm` in a background thread (for the writer process only)."""
        self._plots_warm.clear()
        self._model_warm.clear()

        def run() -> None:
            started = time.perf_counter()
            try:
                prewarm(self._plots_warm)
            finally:
                self._plots_warm.set()
                self._model_warm.set()
            self.prewarm_s = time.perf_counter() - started

        threading.Thread(target=run, name="prewarm", daemon=True).start()

    def _client(self) -> Any:
        if self.client is None:
            from mlflow import MlflowClient

            self.client = MlflowClient(tracking_uri=self.uri)
        return self.client

    # ------------------------------------------------------------------ ops
    def _open(self, message: Mapping[str, Any]) -> dict[str, Any]:
        import mlflow

        config = self.config
        self.uri = config.get("uri") or mlflow.get_tracking_uri()
        if self.own_process:
            mlflow.set_tracking_uri(self.uri)  # this process's MLflow serves this search only
        client = self._client()
        experiment_id = self._experiment_id(client)
        tags = {**config["tags"], "mlflow.source.type": "LOCAL"}
        if config.get("outer_run_id"):
            tags[PARENT_TAG] = config["outer_run_id"]
        sha = git_sha(config["cwd"])
        if sha:
            tags["mlflow.source.git.commit"] = sha
        package_sha = git_sha(config["package_dir"])
        if package_sha:
            tags[TAG_PREFIX + "git_sha"] = package_sha
        run = client.create_run(
            experiment_id, start_time=config["start_ms"], tags=tags, run_name=config["run_name"]
        )
        log_batch(client, run.info.run_id, [], config["params"], {})
        if config.get("sqlite_wal"):
            enable_sqlite_wal(self.uri)
        self.run_id, self.experiment_id = run.info.run_id, experiment_id
        return {"run_id": self.run_id, "experiment_id": experiment_id, "uri": self.uri}

    def _experiment_id(self, client: Any) -> str:
        name = self.config.get("experiment_name")
        if name is None:
            if self.config.get("outer_experiment_id"):
                return self.config["outer_experiment_id"]
            if os.environ.get("MLFLOW_EXPERIMENT_ID"):
                return os.environ["MLFLOW_EXPERIMENT_ID"]
            name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or self.config["default_experiment"]
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

    def _trial(self, message: Mapping[str, Any]) -> dict[str, Any]:
        wall, cpu = time.perf_counter(), time.thread_time()
        write_trial(self._client(), self.experiment_id, self.run_id, message["record"])
        return {
            "write_ms": (time.perf_counter() - wall) * 1000,
            "cpu_ms": (time.thread_time() - cpu) * 1000,
        }

    def _model(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Log (and register) the pickled estimator; then, whatever became of it, the
        leaderboard and ensemble weights."""
        note = None
        try:
            answer = self._log_model(message)
        finally:
            note = self._log_leaderboard(message)
        if note:
            answer["note"] = note
        return answer

    def _log_model(self, message: Mapping[str, Any]) -> dict[str, Any]:
        import mlflow
        from mlflow.models import Model, ModelSignature, infer_signature

        with open(message["example_path"], "rb") as f:
            example, prediction = pickle.load(f)
        signature = None
        if example is not None:
            signature = infer_signature(example, prediction, params={"method": "predict"})
            if not describes(signature.inputs, example):
                # MLflow has no type for a column (timedelta) or would reject its own schema on
                # it (time-zone aware datetimes): no input schema and no example, which would
                # not serialize either; the model still predicts on such frames.
                signature = ModelSignature(None, signature.outputs, signature.params)
                example = None
        with global_tracking_uri(mlflow, self.uri):
            info = Model.log(
                artifact_path=None,
                name="model",
                flavor=PyfuncWithSklearnFlavor,
                run_id=self.run_id,
                python_model=message["model_code"],
                artifacts={"estimator": message["estimator_path"]},
                code_paths=[message["package_dir"]],
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements(),
                registered_model_name=message["registered_model_name"],
                add_sklearn_flavor=message["add_sklearn_flavor"],
                tags={TAG_PREFIX + "estimator": message["estimator_name"]},
            )
        answer: dict[str, Any] = {"model_uri": info.model_uri, "version": None}
        client, name = self._client(), message["registered_model_name"]
        if name:
            version = str(info.registered_model_version)
            answer["version"] = version
            client.set_registered_model_alias(name, message["alias"], version)
            if message.get("fingerprint"):
                client.set_model_version_tag(
                    name, version, TAG_PREFIX + "fingerprint", message["fingerprint"]
                )
            client.set_model_version_tag(name, version, TAG_PREFIX + "search_run_id", self.run_id)
        return answer

    def _log_leaderboard(self, message: Mapping[str, Any]) -> str | None:
        """The ensemble weights (tag) and leaderboard (CSV); why they were not logged, if not."""
        try:
            client = self._client()
            if message.get("ensemble_weights"):
                tags = {TAG_PREFIX + "ensemble_weights": message["ensemble_weights"]}
                log_batch(client, self.run_id, [], {}, tags)
            if message.get("leaderboard_path"):
                client.log_artifact(self.run_id, message["leaderboard_path"])
        except Exception as exc:
            return f"leaderboard not logged: {type(exc).__name__}: {exc}"
        return None

    def _trials(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """``trials.csv`` and the plots from the pickled trials (replacing earlier ones)."""
        client, study = self._client(), self._study(message)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "trials.csv")
            study.trials_dataframe().to_csv(path, index=False)
            client.log_artifact(self.run_id, str(path))
        if message.get("plots"):
            self._log_plots(client, study, message.get("names") or [])
        return {}

    def _finish(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Summary metrics and tags, the trials if they changed since :meth:`_trials`, the run's
        end."""
        log_batch(self._client(), self.run_id, message["metrics"], {}, message["tags"])
        if message.get("trials_path"):
            self._trials(message)
        terminate(self._client(), self.run_id, message["status"], message["end_ms"])
        if self.config.get("sqlite_wal"):
            checkpoint_sqlite_wal(self.uri)
        return {"prewarm_s": self.prewarm_s}

    def _study(self, message: Mapping[str, Any]) -> Any:
        """The search's study, rebuilt in memory from its pickled trials."""
        optuna = _quiet_optuna() if self.own_process else __import__("optuna")
        with open(message["trials_path"], "rb") as f:
            trials = pickle.load(f)
        study = optuna.create_study(directions=[d.lower() for d in message["directions"]])
        study.add_trials(trials)
        if message.get("metric_names"):
            study.set_metric_names(message["metric_names"])
        return study

    def _log_plots(self, client: Any, study: Any, names: list[str]) -> None:
        from optuna.trial import TrialState

        if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
            return
        try:
            import matplotlib

            if self.own_process:
                matplotlib.use("Agg")  # never in the search process: it would switch a notebook's
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
                s, target=lambda t: t.values[0], target_name=names[0] if names else "value_0"
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
            client.log_artifacts(self.run_id, tmp, "plots")


def main() -> int:
    """The writer process: config line, then messages until stdin closes."""
    # Answers go to a private copy of stdout; anything a library prints goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def answer(message: dict) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    config = json.loads(sys.stdin.readline())
    recorder = Recorder(config, own_process=True)
    answer(recorder.handle({"op": "open"}))
    if config.get("prewarm"):
        recorder.start_prewarm()
    while line := sys.stdin.readline():
        answer(recorder.handle(json.loads(line)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
