"""The MLflow side of a tracked search; also runs as a process of its own (``python _writer.py``).

Every MLflow call of a search happens here (or in the helpers of ``_store.py`` and
``_logged_model.py``): opening the search's parent run, one child run per trial, the model
(logged, registered, aliased), the summary, the plots and the run's end. A search of small
networks is bound to one core by the GIL, and MLflow spends seconds of Python on its imports,
its SQLAlchemy store (creating a new SQLite database runs all its migrations), its requirement
checks and the plots: done in the search process, that time comes straight out of the search's
budget or is added to ``fit``. Done in this process, it runs on another core while the search
trains, and what the end of the search needs is imported meanwhile (see :func:`prewarm`), so
``fit`` only waits for the work itself.

The process reads one JSON config line, then one JSON message per line on stdin, each with
an ``op`` (``trial``, ``trials``, ``model``, ``finish``); it answers the config (``op``
``open``) and every message with one JSON line on stdout, in order. Its trial-writing path
imports only the standard library and mlflow (never ``automl_nas``, whose import pulls in
torch), so it writes the first trials within seconds. In the search process the same
:class:`Recorder` runs in a thread when the process cannot (``MlflowTracker(writer="thread")``);
``_supervisor.py`` starts the process and watches it.
"""

from __future__ import annotations

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if __package__:  # imported as automl_nas.tracking._writer (the thread fallback)
    from automl_nas.tracking._logged_model import (
        PyfuncWithSklearnFlavor,
        describes,
        global_tracking_uri,
        pip_requirements,
        seed_package_map,
    )
    from automl_nas.tracking._store import (
        PARENT_TAG,
        TAG_PREFIX,
        checkpoint_sqlite_wal,
        enable_sqlite_wal,
        is_http,
        log_batch,
        probe,
        sqlite_creation_lock,
        sqlite_identity,
        terminate,
        write_trial,
    )
else:  # the writer process, `python _writer.py`: importing automl_nas would pull in torch
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # its siblings, even under python -P
    from _logged_model import (
        PyfuncWithSklearnFlavor,
        describes,
        global_tracking_uri,
        pip_requirements,
        seed_package_map,
    )
    from _store import (
        PARENT_TAG,
        TAG_PREFIX,
        checkpoint_sqlite_wal,
        enable_sqlite_wal,
        is_http,
        log_batch,
        probe,
        sqlite_creation_lock,
        sqlite_identity,
        terminate,
        write_trial,
    )

_logger = logging.getLogger(__name__)

#: Seconds before the fit's deadline after which the plots are left out (the model comes next).
PLOTS_RESERVE_S = 3.0
#: Seconds before the fit's deadline within which the writer warms up for the model only.
MODEL_ONLY_WITHIN_S = 15.0


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


def prewarm(plots_ready: threading.Event | None = None, *, model_only: bool = False) -> None:
    """Import what the plots and then the model will need, while the search still runs.

    Best effort: optuna and matplotlib (one tiny figure drawn, which loads the fonts), the
    parameter-importance evaluator (ranked once on a 4-trial study: its first call imports and
    warms its random forest, 1.9 s on a 2-core VM), then ``plots_ready`` is set; then MLflow's
    model code and automl_nas with torch (MLflow runs the model's code file when it saves the
    model and loads it to check the input example). For the writer process only: it also
    seeds MLflow's package map (see :func:`seed_package_map`) and sets its own torch to one
    thread, as the search does. ``model_only`` skips the plots' imports (a deadline too close
    for plots: the model's come first).
    """
    groups = (
        (lambda: __import__("optuna.visualization.matplotlib"), _draw_a_figure, _rank_importances),
        (
            seed_package_map,
            lambda: __import__("mlflow.pyfunc"),
            lambda: __import__("mlflow.models.signature"),
            _one_torch_thread,
        ),
    )
    if model_only:
        groups = groups[1:]
        if plots_ready is not None:
            plots_ready.set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for group in groups:
            for step in group:
                try:
                    step()
                except Exception as exc:  # noqa: BLE001 - a cold import later is slower, not wrong
                    _logger.debug("prewarm step failed: %s", exc)
            if plots_ready is not None:
                plots_ready.set()


def _rank_importances() -> None:
    from optuna.distributions import FloatDistribution

    optuna = _quiet_optuna()  # prewarm runs in the writer process only

    dist = FloatDistribution(0.0, 1.0)
    study = optuna.create_study()
    study.add_trials(
        optuna.trial.create_trial(
            params={"a": i / 4, "b": (3 * i % 4) / 4},
            distributions={"a": dist, "b": dist},
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
    import torch

    # The logged model's code imports this module, hence automl_nas and torch: import them now.
    import automl_nas.tracking._pyfunc  # noqa: F401

    torch.set_num_threads(1)


def _quiet_optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class Recorder:
    """Runs one search's tracking messages against MLflow, in order; answers each with a dict.

    Args:
        config: What the parent run is made of (built by ``MlflowTracker.start_search``).
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
        self._db_identity: tuple[int, int] | None = None  # the SQLite file the run lives in
        #: What was left out to keep the fit's deadline (``"plots"``).
        self.skipped: list[str] = []
        # Set once prewarm() has imported what the plots (the model) need: those messages wait
        # for its imports to complete rather than import the same modules half-way beside it.
        self._plots_warm, self._model_warm = threading.Event(), threading.Event()
        self._plots_warm.set()
        self._model_warm.set()
        if opened is not None:
            self.uri, self.run_id = opened["uri"], opened["run_id"]
            self.experiment_id = opened["experiment_id"]
            self._db_identity = sqlite_identity(self.uri)

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
            lost = self._lost() if op != "open" else None
            if reason is not None:
                answer.update(error=f"not reachable ({reason})", unreachable=True)
            elif lost is not None:
                answer.update(error=lost, unreachable=True, lost=True)
            else:
                self._await_imports(op, message)
                answer.update(getattr(self, f"_{op}")(message))
        except Exception as exc:  # noqa: BLE001 - a failed write is answered, never raised
            answer["error"] = _cut(f"{type(exc).__name__}: {exc}", 500)
        answer["ms"] = (time.perf_counter() - started) * 1000
        return answer

    def _lost(self) -> str | None:
        """What was lost, when the SQLite file the run was opened in is gone or replaced.

        SQLite keeps writing to a deleted file through the connections already open, without an
        error: every later write would be a silent loss.
        """
        if self._db_identity is None or sqlite_identity(self.uri) == self._db_identity:
            return None
        return (
            f"the database file {self.uri} was deleted or replaced during the search: the "
            f"search run {self.run_id} and its trial runs are lost, and nothing more is written"
        )

    def _plots_wanted(self, message: Mapping[str, Any]) -> bool:
        """Whether to draw the plots: asked for, and time left before the fit's deadline."""
        if not message.get("plots"):
            return False
        deadline = self.config.get("deadline")
        if deadline is not None and time.time() > deadline - PLOTS_RESERVE_S:
            self.skipped.append("plots")
            return False
        return True

    def _await_imports(self, op: str, message: Mapping[str, Any]) -> None:
        """Let :func:`prewarm` finish importing what ``op`` needs (no wait without it)."""
        if op == "model":
            self._model_warm.wait()
        elif (op == "trials" or (op == "finish" and message.get("trials_path"))) and message.get(
            "plots"
        ):
            self._plots_warm.wait()

    def start_prewarm(self) -> None:
        """Run :func:`prewarm` in a background thread (for the writer process only)."""
        self._plots_warm.clear()
        self._model_warm.clear()
        deadline = self.config.get("deadline")
        # Close to the fit's deadline the plots will be left out: warm up for the model only.
        model_only = deadline is not None and deadline - time.time() < MODEL_ONLY_WITHIN_S

        def run() -> None:
            started = time.perf_counter()
            try:
                prewarm(self._plots_warm, model_only=model_only)
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
        with sqlite_creation_lock(self.uri):  # two fits creating one new database at once
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
        self._db_identity = sqlite_identity(self.uri)
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
        client = self._client()
        # MLflow 3 gives a logged model an experiment of its own, by default the active
        # experiment of this process ("Default"), not its source run's: create it in the
        # search's experiment and hand Model.log its id.
        logged = client.create_logged_model(
            experiment_id=self.experiment_id,
            name="model",
            source_run_id=self.run_id,
            params={k: str(v) for k, v in client.get_run(self.run_id).data.params.items()},
            tags={TAG_PREFIX + "estimator": message["estimator_name"]},
        )
        with global_tracking_uri(mlflow, self.uri):
            info = Model.log(
                model_id=logged.model_id,
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
            )
        answer: dict[str, Any] = {"model_uri": info.model_uri, "version": None}
        name = message["registered_model_name"]
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
        except Exception as exc:  # noqa: BLE001 - the leaderboard is a nicety
            return f"leaderboard not logged: {type(exc).__name__}: {exc}"
        return None

    def _trials(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """``trials.csv`` and the plots from the pickled trials (replacing earlier ones)."""
        client, study = self._client(), self._study(message)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "trials.csv")
            study.trials_dataframe().to_csv(path, index=False)
            client.log_artifact(self.run_id, str(path))
        if self._plots_wanted(message):
            self._log_plots(client, study, message.get("names") or [])
        return {"skipped": list(self.skipped)} if self.skipped else {}

    def _finish(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Summary metrics and tags, the trials if they changed since :meth:`_trials`, the run's
        end."""
        log_batch(self._client(), self.run_id, message["metrics"], {}, message["tags"])
        skipped = self._trials(message).get("skipped") if message.get("trials_path") else None
        terminate(self._client(), self.run_id, message["status"], message["end_ms"])
        if self.config.get("sqlite_wal"):
            checkpoint_sqlite_wal(self.uri)
        return {"prewarm_s": self.prewarm_s, **({"skipped": skipped} if skipped else {})}

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
                except Exception as exc:  # noqa: BLE001 - a plot is a nicety: never fail for one
                    _logger.warning("plot %s not logged: %s: %s", name, type(exc).__name__, exc)
            client.log_artifacts(self.run_id, tmp, "plots")


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a space, never inside a URL: the search
    process masks the credentials of whole URLs only (this process cannot import its masking)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 4]
    return (head.rsplit(None, 1)[0] if any(c.isspace() for c in head) else "") + " ..."


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
