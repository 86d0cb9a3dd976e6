"""``automl-nas``: search, predict and inspect models from the command line.

    automl-nas fit train.csv --target label --time-budget 120 --output model.pkl
    automl-nas predict model.pkl test.csv -o predictions.csv
    automl-nas leaderboard model.pkl --top 10
    automl-nas leaderboard --storage sqlite:///search.db --study my-search

Each verb is a ``_<verb>_parser(verbs, common)`` that adds its subparser and sets ``run`` to a
``_<verb>(args) -> int`` function; a new verb is those two functions and one entry in ``VERBS``.

Errors in the user's inputs print one line ``automl-nas: error: ...`` to stderr and exit with
status 2 for a wrong command line (unknown option, bad option value) or 1 for unusable files or
data. Any other exception prints one line too, or its traceback with ``--debug``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import optuna
import pandas as pd
from sklearn.utils._param_validation import InvalidParameterError

from automl_nas.distributed import make_storage, run_worker
from automl_nas.estimator import AutoNASClassifier, AutoNASRegressor, BaseAutoNAS
from automl_nas.search import PRUNERS, SAMPLERS, end_progress_line
from automl_nas.stages import stage_names
from automl_nas.training import CLASSIFICATION_METRICS, REGRESSION_METRICS

PROG = "automl-nas"

#: An integer target with at most this many distinct values is a classification target.
MAX_AUTO_CLASSES = 20

#: Leaderboard columns of the summary printed after ``fit``.
SUMMARY_COLUMNS = [
    "trial",
    "stage",
    "state",
    "score",
    "ensemble_weight",
    "train_seconds",
    "n_params",
]

#: Rows of the leaderboard in the summary printed after ``fit``.
SUMMARY_ROWS = 10


class CLIError(Exception):
    """A problem with the user's command line or inputs: one line on stderr, no traceback.

    Args:
        message: What is wrong and, where possible, how to fix it.
        status: Exit status: 2 for a wrong command line, 1 for unusable files or data.
    """

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line that points to the verb's ``--help``."""

    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')", status=2)


# -- argument types ----------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _stage_list(text: str) -> list[str]:
    """``"darts,evolution,tpe"`` -> ``["darts", "evolution", "tpe"]``, each a known stage."""
    stages = [name.strip() for name in text.split(",") if name.strip()]
    if not stages:
        raise argparse.ArgumentTypeError("name at least one stage, e.g. --stages tpe")
    unknown = [name for name in stages if name not in stage_names()]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(stage_names())}"
        )
    return stages


# -- shared helpers ----------------------------------------------------------------------------
def read_csv(path: str) -> pd.DataFrame:
    """The CSV file at ``path`` with at least one data row, or a CLIError saying why not."""
    try:
        frame = pd.read_csv(path)
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None
    except pd.errors.EmptyDataError:
        raise CLIError(f"{path} is empty; expected a CSV file with a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise CLIError(f"{path} is not a readable CSV file: {reason}") from None
    if frame.empty:
        raise CLIError(f"{path} has no data rows, only the header {list(frame.columns)}")
    return frame


def infer_task(y: pd.Series) -> str:
    """``classification`` for a non-numeric or boolean target, or integers with few values."""
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    if pd.api.types.is_integer_dtype(y) and y.nunique() <= MAX_AUTO_CLASSES:
        return "classification"
    return "regression"


def load_model(path: str) -> BaseAutoNAS:
    """The fitted estimator pickled at ``path`` (pickles can run code: load only trusted files)."""
    try:
        with open(path, "rb") as file:
            model = pickle.load(file)
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - a broken or foreign pickle can raise anything
        raise CLIError(
            f"{path} is not a model written by '{PROG} fit' ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(model, BaseAutoNAS) or not hasattr(model, "ensemble_"):
        raise CLIError(
            f"{path} holds a {type(model).__name__}, not a fitted AutoNASClassifier or "
            "AutoNASRegressor"
        )
    return model


def format_board(board: pd.DataFrame) -> str:
    """A leaderboard as an aligned text table: rounded scores and times, '-' where missing."""
    board = board.copy()
    for column in ("n_params", "best_epoch"):
        if column in board:
            board[column] = board[column].astype("Int64")
    board = board.round({"score": 4, "value": 4, "ensemble_weight": 3, "train_seconds": 2})
    return board.to_string(index=False, na_rep="-")


def _write_csv(frame: pd.DataFrame, path: str) -> None:
    """``frame`` as CSV to ``path``, or to stdout when ``path`` is ``-``."""
    if path == "-":
        frame.to_csv(sys.stdout, index=False)
        return
    try:
        frame.to_csv(path, index=False)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None


def _one_line(message: object) -> str:
    """A possibly multi-line message as one line, its lines joined by '; '."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return "; ".join([line.rstrip(".") for line in lines[:-1]] + lines[-1:])


# -- fit ---------------------------------------------------------------------------------------
def _fit_parser(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    metrics = sorted({*CLASSIFICATION_METRICS, *REGRESSION_METRICS})
    p = verbs.add_parser(
        "fit",
        parents=[common],
        help="search a network on a CSV file and pickle the fitted model",
        description="Search network architectures and hyperparameters on DATA.csv (one Optuna "
        "study), print a summary of the trials and pickle the fitted estimator. Feature columns "
        "may be numeric, text or categorical and may have missing values.",
    )
    p.add_argument("data", metavar="DATA.csv", help="training data: a CSV file with a header row")
    p.add_argument("--target", required=True, metavar="COL", help="name of the target column")
    p.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="auto (default): classification when the target is text or boolean, or integers "
        f"with at most {MAX_AUTO_CLASSES} distinct values; regression otherwise",
    )
    search = p.add_argument_group("search")
    search.add_argument(
        "--time-budget",
        type=_positive_float,
        default=60.0,
        metavar="S",
        help="seconds for the whole search (default: 60)",
    )
    search.add_argument(
        "--n-trials",
        type=_positive_int,
        metavar="N",
        help="stop after N trials (default: when the time budget is spent)",
    )
    search.add_argument(
        "--max-epochs",
        type=_positive_int,
        default=100,
        metavar="N",
        help="most epochs any trial trains (default: 100)",
    )
    search.add_argument(
        "--stages",
        type=_stage_list,
        metavar="LIST",
        help="search stages run in order on one study, comma-separated, e.g. "
        f"darts,evolution,tpe; from: {', '.join(stage_names())}",
    )
    search.add_argument(
        "--sampler",
        choices=sorted(SAMPLERS),
        default="tpe",
        help="the one sampler when --stages is not given (default: tpe)",
    )
    search.add_argument(
        "--pruner",
        choices=PRUNERS,
        default="median",
        help="stops weak trials early (default: median)",
    )
    search.add_argument(
        "--metric",
        choices=metrics,
        help="validation metric to optimise (default: accuracy for "
        "classification, r2 for regression)",
    )
    search.add_argument(
        "--random-state",
        type=int,
        metavar="SEED",
        help="seed for a repeatable search (with --n-jobs 1 and --n-trials as the binding limit)",
    )
    search.add_argument(
        "--n-jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="trials trained at once, in threads (default: 1)",
    )
    search.add_argument(
        "--device", default="auto", help="auto (CUDA when present, default), cpu or cuda"
    )
    search.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage: postgresql://..., sqlite:///search.db or journal:PATH (default: in "
        "memory). Workers ('automl-nas worker') may join a search in a shared storage",
    )
    search.add_argument(
        "--study-name", metavar="NAME", help="study name in --storage; an existing study is resumed"
    )
    search.add_argument(
        "--artifact-dir",
        metavar="DIR",
        help="where a shared search keeps each trial's model (default ./automl_nas_artifacts)",
    )
    tracking = p.add_argument_group(
        "MLflow tracking (off unless one of these or MLFLOW_TRACKING_URI is set)"
    )
    tracking.add_argument("--mlflow-uri", metavar="URI", help="MLflow tracking URI")
    tracking.add_argument("--experiment", metavar="NAME", help="MLflow experiment name")
    tracking.add_argument(
        "--register", metavar="NAME", help="register the model under NAME with alias 'champion'"
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "-o",
        "--output",
        default="model.pkl",
        metavar="PATH",
        help="where to pickle the fitted estimator (default: model.pkl)",
    )
    out.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print nothing but errors: no progress, no summary",
    )
    p.set_defaults(run=_fit)


def _fit(args: argparse.Namespace) -> int:
    """Fit on the CSV, pickle the estimator, print the summary."""
    output = Path(args.output)
    _check_writable(output)  # before the search, not after it
    frame = read_csv(args.data)
    if args.target not in frame.columns:
        raise CLIError(
            f"target column {args.target!r} is not in {args.data}; its columns are: "
            f"{', '.join(map(str, frame.columns))}"
        )
    y = frame.pop(args.target)
    if frame.shape[1] == 0:
        raise CLIError(f"{args.data} has no feature columns besides the target {args.target!r}")
    missing = y.index[y.isna()].tolist()
    if missing:
        raise CLIError(
            f"target column {args.target!r} is empty in {len(missing)} row(s) (0-based data rows "
            f"{missing[:5]}{' ...' if len(missing) > 5 else ''}); drop or fill them"
        )
    task = infer_task(y) if args.task == "auto" else args.task
    if task == "regression" and not pd.api.types.is_numeric_dtype(y):
        example = next((v for v in y if pd.isna(pd.to_numeric(v, errors="coerce"))), y.iloc[0])
        raise CLIError(
            f"target column {args.target!r} is not numeric (e.g. {example!r}); regression needs "
            "numbers: use --task classification or fix the column"
        )
    estimator_class = AutoNASClassifier if task == "classification" else AutoNASRegressor
    estimator = estimator_class(
        sampler=args.sampler,
        stages=args.stages,
        pruner=args.pruner,
        time_budget=args.time_budget,
        n_trials=args.n_trials,
        max_epochs=args.max_epochs,
        metric=args.metric,
        device=args.device,
        n_jobs=args.n_jobs,
        random_state=args.random_state,
        verbose=0 if args.quiet else 1,
        storage=args.storage,
        study_name=args.study_name,
        artifact_dir=args.artifact_dir,
        mlflow_tracking_uri=args.mlflow_uri,
        mlflow_experiment=args.experiment,
        register_model=args.register,
    )
    started = time.monotonic()
    try:
        estimator.fit(frame, y)
    except InvalidParameterError as exc:  # an option value the estimator rejects
        raise CLIError(_one_line(exc), status=2) from None
    except (ValueError, RuntimeError, ImportError) as exc:  # these name the problem (and fix)
        raise CLIError(_one_line(exc)) from None
    finally:
        end_progress_line()
    seconds = time.monotonic() - started
    _save(estimator, output)
    if not args.quiet:
        print(_summary(estimator, task, seconds, output))
    return 0


def _check_writable(path: Path) -> None:
    """A CLIError unless a file can be written at ``path``."""
    folder = path.parent
    if path.is_dir():
        raise CLIError(f"--output {path} is a directory; give a file name such as model.pkl")
    if not folder.is_dir():
        raise CLIError(f"cannot write {path}: directory {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CLIError(f"cannot write {path}: permission denied")


def _save(estimator: BaseAutoNAS, path: Path) -> None:
    """Pickle ``estimator`` to ``path`` through a temporary file, so no half-written model."""
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as file:
            pickle.dump(estimator, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None


def _summary(estimator: BaseAutoNAS, task: str, seconds: float, output: Path) -> str:
    """Trial counts, the best trial and the ensemble, the top of the leaderboard, the model."""
    board = estimator.leaderboard()
    states = board["state"].value_counts()
    counts = ", ".join(
        f"{states.get(state, 0)} {word}"
        for state, word in (("COMPLETE", "complete"), ("PRUNED", "pruned"), ("FAIL", "failed"))
    )
    metric = estimator._metric().name
    members = len(estimator.ensemble_weights_)
    head = (
        f"{type(estimator).__name__} ({task}): {len(board)} trial{'s' * (len(board) != 1)} in "
        f"{seconds:.1f} s ({counts}); "
        f"best trial {estimator.best_trial_number_} {metric} {estimator.best_score_:.4f} on the "
        f"validation split; ensemble of {members} trial{'s' * (members != 1)}"
    )
    lines = [head, format_board(board[SUMMARY_COLUMNS].head(SUMMARY_ROWS))]
    if len(board) > SUMMARY_ROWS:
        lines.append(f"... {len(board) - SUMMARY_ROWS} more: see '{PROG} leaderboard {output}'")
    lines.append(f"model written to {output}")
    return "\n".join(lines)


# -- predict -----------------------------------------------------------------------------------
def _predict_parser(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "predict",
        parents=[common],
        help="predict the rows of a CSV file with a pickled model",
        description="Predict every row of DATA.csv with the model pickled by 'fit'. Columns are "
        "matched by name: every column the model was trained on must be present; others (such as "
        "the target) are ignored. Writes one 'prediction' column, or with --proba one column per "
        "class, in the rows' order. Only load model files you trust: unpickling can run code.",
    )
    p.add_argument("model", metavar="MODEL.pkl", help="a model written by 'fit'")
    p.add_argument("data", metavar="DATA.csv", help="rows to predict: a CSV file with a header")
    p.add_argument(
        "-o", "--output", default="-", metavar="PATH", help="predictions CSV (default: stdout)"
    )
    p.add_argument(
        "--proba",
        action="store_true",
        help="class probabilities, one column per class (classifiers only)",
    )
    p.set_defaults(run=_predict)


def _predict(args: argparse.Namespace) -> int:
    """Predictions (or class probabilities) for the CSV's rows, as CSV."""
    model = load_model(args.model)
    if args.proba and not hasattr(model, "predict_proba"):
        raise CLIError(
            f"--proba needs a classifier; {args.model} holds a {type(model).__name__}", status=2
        )
    X = _model_columns(model, read_csv(args.data), args.data)
    try:
        if args.proba:
            out = pd.DataFrame(model.predict_proba(X), columns=[str(c) for c in model.classes_])
        else:
            pred = model.predict(X)
            columns = (
                ["prediction"]
                if pred.ndim == 1
                else [
                    f"prediction_{i}"
                    for i in range(pred.shape[1])  # a multi-output regressor
                ]
            )
            out = pd.DataFrame(pred.reshape(len(X), -1), columns=columns)
    except ValueError as exc:  # e.g. text in a column that was numeric in training
        raise CLIError(f"cannot predict {args.data}: {_one_line(exc)}") from None
    _write_csv(out, args.output)
    return 0


def _model_columns(model: BaseAutoNAS, frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """The model's training columns of ``frame``, in training order."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:  # fitted in Python on an array: columns by position
        if frame.shape[1] != model.n_features_in_:
            raise CLIError(
                f"{path} has {frame.shape[1]} columns; the model was trained on "
                f"{model.n_features_in_} unnamed features"
            )
        return frame
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise CLIError(
            f"{path} lacks the column(s) {', '.join(missing)} the model was trained on; "
            f"it has: {', '.join(map(str, frame.columns))}"
        )
    return frame[list(names)]


# -- leaderboard -------------------------------------------------------------------------------
def _leaderboard_parser(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "leaderboard",
        parents=[common],
        help="list the trials of a pickled model or of an Optuna study in a storage",
        description="Every trial, best validation score first: of the search that fitted "
        "MODEL.pkl (stage, state, score, ensemble weight, time, size, parameters), or of the "
        "study NAME in the Optuna storage URL, which may still be running (trial, state, value, "
        "stage, parameters).",
    )
    p.add_argument("model", nargs="?", metavar="MODEL.pkl", help="a model written by 'fit'")
    p.add_argument(
        "--storage", metavar="URL", help="read an Optuna storage instead, e.g. sqlite:///search.db"
    )
    p.add_argument(
        "--study",
        "--study-name",
        dest="study",
        metavar="NAME",
        help="study in --storage (default: its only study)",
    )
    p.add_argument("--top", type=_positive_int, metavar="N", help="only the N best trials")
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.set_defaults(run=_leaderboard)


def _leaderboard(args: argparse.Namespace) -> int:
    """Print a model's or a stored study's leaderboard."""
    if (args.model is None) == (args.storage is None):
        raise CLIError(
            "give either MODEL.pkl or --storage URL (see 'automl-nas leaderboard --help')", status=2
        )
    if args.model is not None and args.study is not None:
        raise CLIError("--study goes with --storage, not with MODEL.pkl", status=2)
    if args.model is not None:
        board = load_model(args.model).leaderboard()
    else:
        board = study_leaderboard(args.storage, args.study)
    if args.top:
        board = board.head(args.top)
    if args.csv:
        board.to_csv(sys.stdout, index=False)
    else:
        print(format_board(board))
    return 0


def study_leaderboard(storage: str, study_name: str | None) -> pd.DataFrame:
    """The trials of a stored study, best value first.

    Columns ``trial``, ``state``, ``value`` (NaN unless COMPLETE), ``stage`` (the user
    attribute), then one per parameter. A multi-objective study (a ``fit`` with
    ``cost_objective``) adds ``value_1`` .. (the other objectives, e.g. the parameter count)
    after ``value`` and ``pareto`` (on the Pareto front), and is ordered by its first
    objective. ``study_name`` None: the storage's only study.
    """
    if storage.startswith("sqlite:///"):  # Optuna would create a missing database file
        database = storage.removeprefix("sqlite:///")
        if database not in ("", ":memory:") and not Path(database).is_file():
            raise CLIError(f"no SQLite database at {database} (from --storage {storage})")
    try:
        storage = make_storage(storage)
        names = optuna.get_all_study_names(storage=storage)
    except Exception as exc:  # noqa: BLE001 - bad URL, missing driver, server down: all say so
        raise CLIError(f"cannot open storage {storage}: {_one_line(exc)}") from None
    if study_name is None:
        if len(names) != 1:
            raise CLIError(
                f"--study NAME is needed: {storage} holds {len(names)} studies "
                f"({', '.join(names) or 'none'})",
                status=2,
            )
        study_name = names[0]
    elif study_name not in names:
        raise CLIError(
            f"no study {study_name!r} in {storage}; it holds: {', '.join(names) or 'no studies'}"
        )
    study = optuna.load_study(study_name=study_name, storage=storage)
    n_objectives = len(study.directions)
    pareto = {t.number for t in study.best_trials} if n_objectives > 1 else set()
    columns = ["trial", "state", "value", *(f"value_{i}" for i in range(1, n_objectives))]
    columns += ["pareto"] * (n_objectives > 1) + ["stage"]
    rows: list[dict[str, Any]] = []
    for trial in study.get_trials(deepcopy=False):
        complete = trial.state == optuna.trial.TrialState.COMPLETE
        values = trial.values if complete else [float("nan")] * n_objectives
        row = {"trial": trial.number, "state": trial.state.name, "value": values[0]}
        row.update({f"value_{i}": values[i] for i in range(1, n_objectives)})
        if n_objectives > 1:
            row["pareto"] = trial.number in pareto
        row["stage"] = trial.user_attrs.get("stage")
        row.update({f"param_{k}" if k in row else k: v for k, v in trial.params.items()})
        rows.append(row)
    board = pd.DataFrame(rows, columns=None if rows else columns)
    ascending = study.directions[0] == optuna.study.StudyDirection.MINIMIZE
    return board.sort_values(
        ["value", "trial"], ascending=[ascending, True], na_position="last", kind="stable"
    ).reset_index(drop=True)


def _worker_parser(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "worker",
        parents=[common],
        help="join a running search and train its trials until its budget is spent",
        description="Join the search NAME that a coordinator ('fit' or AutoNAS*.fit with the same "
        "--storage and --study) runs, on this or any machine that reaches the storage and the "
        "search's artifact directory. Trains trials with the sampler of the coordinator's "
        "current stage, writes each completed trial's model to the artifact directory, and "
        "exits when the search's deadline or trial count is reached. Prints the trials it ran.",
    )
    p.add_argument(
        "--storage", required=True, metavar="URL",
        help="the coordinator's storage: postgresql://..., sqlite:///search.db or journal:PATH",
    )
    p.add_argument("--study", "--study-name", dest="study", required=True, metavar="NAME")
    p.add_argument("--n-trials", type=_positive_int, metavar="N", help="stop after N trials here")
    p.add_argument(
        "--wait", type=_positive_float, default=60.0, metavar="S",
        help="seconds to wait for the coordinator to start the search (default 60)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no line per trial")
    p.set_defaults(run=_worker)


def _worker(args: argparse.Namespace) -> int:
    """Run trials of a shared search until it ends."""
    try:
        ran = run_worker(
            args.storage, args.study, n_trials=args.n_trials, wait=args.wait,
            device=args.device, verbose=0 if args.quiet else 1,
        )
    except TimeoutError as exc:
        raise CLIError(str(exc)) from None
    print(f"{ran} trial(s) run by this worker")
    return 0


# -- the command -------------------------------------------------------------------------------
#: The verbs, each adding its subparser (whose ``run`` default is the verb's function).
VERBS: list[Callable[[argparse._SubParsersAction, argparse.ArgumentParser], None]] = [
    _fit_parser,
    _predict_parser,
    _leaderboard_parser,
    _worker_parser,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``automl-nas`` parser with one subparser per verb in ``VERBS``."""
    parser = _Parser(
        prog=PROG,
        description="AutoML for neural networks: one Optuna study searches architectures and "
        "hyperparameters together. See 'automl-nas VERB --help'.",
    )
    common = _Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error"
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for add_verb in VERBS:
        add_verb(verbs, common)
    return parser


def _error(message: str) -> None:
    end_progress_line()
    print(f"{PROG}: error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``automl-nas`` with ``argv`` (default: the process's arguments); the exit status."""
    debug = False
    try:
        args = build_parser().parse_args(argv)
        debug = args.debug
        return args.run(args)
    except CLIError as exc:
        _error(str(exc))
        return exc.status
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:  # stdout closed early, as by `| head`: stop quietly like other tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit flush
        return 141
    except Exception as exc:
        if debug:
            raise
        _error(f"{type(exc).__name__}: {_one_line(exc)} (run again with --debug for details)")
        return 1
