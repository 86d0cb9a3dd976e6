"""``automl-nas``: search, predict and inspect models from the command line.

    automl-nas fit train.csv --target label --time-budget 120 --output model.pkl
    automl-nas predict model.pkl test.csv -o predictions.csv
    automl-nas leaderboard model.pkl --top 10
    automl-nas leaderboard --storage sqlite:///search.db --study my-search

Each verb is a ``_<verb>_parser(verbs, common)`` that adds its subparser and sets ``run`` to a
``_<verb>(args) -> int`` function; a new verb is those two functions and one entry in ``VERBS``.

The options of ``fit`` are the estimators' parameters: their values are read by the
parameters' ``_parameter_constraints`` and their defaults are the estimators' own
(``FIT_OPTIONS``; ``NOT_ON_CLI`` lists the parameters without an option, and why).

Reading a command line imports nothing heavy: ``--help`` and usage errors answer in about 0.1 s
instead of the seconds torch, Optuna and scikit-learn take to import. So what the parser needs
from the library (the parameters' defaults and constraints, the stage names) is written out in
``PARSER_FACTS``, which a test compares with the library, and each verb imports the library
when it runs.

Errors in the user's inputs print one line ``automl-nas: error: ...`` to stderr and exit with
status 2 for a wrong command line (unknown option, bad option value) or 1 for unusable files or
data. Any other exception prints one line too, or its traceback with ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import math
import os
import pickle
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # imported where they are used, so that parsing the command line is instant
    import pandas as pd

    from automl_nas.estimator import BaseAutoNAS

PROG = "automl-nas"

#: Leaderboard columns of the table printed after ``fit``.
SUMMARY_COLUMNS = [
    "trial",
    "stage",
    "state",
    "score",
    "ensemble_weight",
    "train_seconds",
    "n_params",
]

#: Rows of the leaderboard in the table printed after ``fit``.
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


def _name_list(
    text: str, known: tuple[str, ...], what: str, plural: str, example: str
) -> list[str]:
    """Comma-separated names, each one of ``known``; ``what``/``plural`` name them in errors."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"name at least one {what}, e.g. {example}")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {plural} {', '.join(unknown)}; choose from {', '.join(known)}"
        )
    return names


def _stage_list(text: str) -> list[str]:
    """``"darts,evolution,tpe"`` -> ``["darts", "evolution", "tpe"]``, each a known stage."""
    return _name_list(text, PARSER_FACTS["stage_names"], "stage", "stage(s)", "--stages tpe")


def _family_list(text: str) -> list[str]:
    """``"gbdt,nn"`` -> ``["gbdt", "nn"]``, each a known model family."""
    return _name_list(
        text, PARSER_FACTS["family_names"], "family", "families", "--families gbdt,nn"
    )


# -- shared helpers ----------------------------------------------------------------------------
def read_csv(path: str) -> pd.DataFrame:
    """The CSV file at ``path`` with at least one data row, or a CLIError saying why not."""
    import pandas as pd

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


def load_model(path: str) -> BaseAutoNAS:
    """The fitted estimator pickled at ``path`` (pickles can run code: load only trusted files)."""
    from automl_nas.estimator import BaseAutoNAS  # the classes a model file holds

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
    values = {column: 4 for column in board if str(column).startswith("value_")}
    board = board.round({"score": 4, **values, "ensemble_weight": 3, "train_seconds": 2})
    for column in board:  # to_string's na_rep misses the integer columns' <NA>
        if str(board[column].dtype) == "Int64":
            board[column] = board[column].astype(object).where(board[column].notna(), "-")
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


# -- fit options: the estimators' parameters ---------------------------------------------------
def _estimators() -> dict[str, type[BaseAutoNAS]]:
    """``ESTIMATORS``: the estimators ``fit`` builds; their ``__init__`` parameters are its options.

    Imported on first use (torch, Optuna and scikit-learn come with them), then kept in the
    module, where tests may replace an entry.
    """
    if "ESTIMATORS" not in globals():
        from automl_nas.estimator import AutoNASClassifier, AutoNASRegressor

        globals()["ESTIMATORS"] = {
            "classification": AutoNASClassifier,
            "regression": AutoNASRegressor,
        }
    return globals()["ESTIMATORS"]


def __getattr__(name: str) -> Any:
    """``ESTIMATORS`` and ``infer_task``, imported when first asked for (PEP 562)."""
    if name == "ESTIMATORS":
        return _estimators()
    if name == "infer_task":
        from automl_nas.data import infer_task

        return infer_task
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# What the parser needs from the library, written out so that reading a command line imports
# none of it; derive_parser_facts() computes it from the library and tests/cli/test_startup.py
# checks that they agree (its failure prints the new text for this table). A parameter is
# ``name: (default per task, command-line forms[, help when FIT_OPTIONS has none])``; a form is
# "none", "text", "boolean", "random_state", ("words", option, ...) or
# ("int" | "float", left bound, right bound, closed: "left" | "right" | "both" | "neither").
# fmt: off
PARSER_FACTS: dict[str, Any] = {
    "tasks": ("classification", "regression"),
    "default_metrics": ("log_loss", "r2"),
    "stage_names": ("batch", "cmaes", "darts", "evolution", "gp", "nsga2", "promote", "qmc", "random", "rl", "tpe"),
    "family_names": ("gbdt", "nn", "linear"),
    "max_auto_classes": 20,
    "default_artifact_dir": "automl_nas_artifacts",
    "parameters": {
        "families": ((None, None), ("none", "text")),
        "sampler": (("tpe", "tpe"), (("words", "cmaes", "evolution", "gp", "nsga2", "qmc", "random", "rl", "tpe"),)),
        "stages": ((None, None), ("none",)),
        "pruner": (("median", "median"), (("words", "hyperband", "median", "none", "successive_halving"), "none")),
        "time_budget": ((60.0, 60.0), (("float", 0, None, "neither"),)),
        "n_trials": ((None, None), (("int", 1, None, "left"), "none")),
        "max_epochs": ((100, 100), (("int", 1, None, "left"),)),
        "patience": ((10, 10), (("int", 1, None, "left"),)),
        "validation_fraction": ((0.2, 0.2), (("float", 0, 1, "neither"),)),
        "cv": (("auto", "auto"), (("int", 2, None, "left"), ("words", "auto"), "none")),
        "metric": ((None, None), (("words", "accuracy", "balanced_accuracy", "log_loss"), "none", ("words", "r2", "rmse"))),
        "device": (("auto", "auto"), ("text",)),
        "n_jobs": ((None, None), (("int", 1, None, "left"), "none")),
        "random_state": ((None, None), ("random_state", "none")),
        "storage": ((None, None), ("none", "text")),
        "study_name": ((None, None), ("none", "text")),
        "artifact_dir": ((None, None), ("none", "text")),
        "mlflow_tracking_uri": ((None, None), ("none", "text")),
        "mlflow_experiment": ((None, None), ("none", "text")),
        "register_model": ((None, None), ("none", "text")),
        "ensemble_size": ((20, 20), (("int", 1, None, "left"),)),
        "ensemble_candidates": ((10, 10), (("int", 1, None, "left"),)),
        "refit": (("auto", "auto"), ("boolean", ("words", "auto"))),
        "cost_objective": ((None, None), (("words", "latency", "n_params"), "none")),
        "max_params": ((None, None), (("int", 1, None, "left"), "none")),
    },
}
# fmt: on

#: Estimator parameters with no option, and why. (``sampler``, ``pruner`` and ``stages`` are
#: options by name; their object forms, an Optuna sampler or pruner or ``BaseStage`` objects,
#: need the Python API, as does an Optuna storage object for ``storage``.)
NOT_ON_CLI: dict[str, str] = {
    "space": "a SearchSpace object; the default (--families, all of them) fits a CSV",
    "image_shape": "rows of a CSV file are tabular; images go through the Python API",
    "verbose": "-q/--quiet sets it: one progress line per trial (1), or none (0)",
}


@dataclass(frozen=True)
class _Option:
    """How one estimator parameter reads on ``fit``'s command line; its default is the estimator's.

    Args:
        help: What the option does; ``(default: ...)`` is added from the estimators' signatures.
        metavar: Placeholder in the usage (default: from the parameter's constraints).
        flag: The option (default: ``--`` and the parameter name with dashes).
        group: Heading in ``--help``.
        parse: Text -> value (default: the first form the parameter's constraints accept).
        none: What the default None means, shown as the default.
    """

    help: str
    metavar: str | None = None
    flag: str | None = None
    group: str = "search"
    parse: Callable[[str], Any] | None = None
    none: str | None = None


_FINAL = "validation and final model"
_SHARED = "shared storage and workers"
_MLFLOW = "MLflow tracking (off unless one of these or MLFLOW_TRACKING_URI is set)"
_DEFAULT_METRICS = ", ".join(
    f"{metric} for {task}"
    for task, metric in zip(PARSER_FACTS["tasks"], PARSER_FACTS["default_metrics"], strict=True)
)

#: Every estimator parameter with an option, in ``--help`` order. A parameter in neither this
#: table nor ``NOT_ON_CLI`` becomes ``--its-name`` (help: its docstring's first sentence).
FIT_OPTIONS: dict[str, _Option] = {
    "time_budget": _Option("seconds for the whole search", "S"),
    "families": _Option(
        "model families searched in one study and one ensemble, comma-separated, e.g. gbdt,nn; "
        f"from: {', '.join(PARSER_FACTS['family_names'])}",
        "LIST",
        parse=_family_list,
        none="all of them",
    ),
    "n_trials": _Option("stop after N trials", "N", none="when the time budget is spent"),
    "max_epochs": _Option("most epochs any trial trains", "N"),
    "patience": _Option("epochs without validation improvement before a trial stops", "N"),
    "stages": _Option(
        "search stages run in order on one study, comma-separated, e.g. darts,evolution,tpe; "
        f"from: {', '.join(PARSER_FACTS['stage_names'])}",
        "LIST",
        parse=_stage_list,
        none="the --sampler alone",
    ),
    "sampler": _Option("the one sampler when --stages is not given"),
    "pruner": _Option("stops weak trials early; a --cost-objective search prunes none"),
    "metric": _Option("validation metric to optimise", none=_DEFAULT_METRICS),
    "cost_objective": _Option(
        "a second objective to minimise: the network's parameter count or its latency",
        none="one objective, the metric",
    ),
    "max_params": _Option(
        "largest parameter count of a trial and of the model", "N", none="no limit"
    ),
    "random_state": _Option(
        "seed for a repeatable search, with --n-trials as the binding limit",
        "SEED",
        none="a different search each run",
    ),
    "n_jobs": _Option(
        "trials trained at once, in threads sharing the cores", "N",
        none="one per core; with --random-state and --n-trials one at a time on all cores",
    ),
    "device": _Option("auto (CUDA when present), cpu or cuda", "DEVICE"),
    "validation_fraction": _Option(
        "share of rows held out to score trials when they are not cross-validated", "F",
        group=_FINAL,
    ),
    "cv": _Option(
        "how trials are validated: auto (cross-validate small data), none (one holdout "
        "split of --validation-fraction) or K folds",
        "{auto,none,K}",
        group=_FINAL,
    ),
    "ensemble_size": _Option(
        "rounds of greedy ensemble selection (1: the best trial alone)", "N", group=_FINAL
    ),
    "ensemble_candidates": _Option(
        "best trials kept as candidates for the ensemble", "N", group=_FINAL
    ),
    "refit": _Option(
        "retrain the ensemble's members on all rows after a holdout search: auto (small data, "
        "within the time budget), true (up to another time budget) or false",
        "{auto,true,false}",
        group=_FINAL,
    ),
    "storage": _Option(
        "Optuna storage: postgresql://..., sqlite:///search.db or journal:PATH. Workers "
        "('automl-nas worker') may join a search in a shared storage",
        "URL",
        group=_SHARED,
        none="in memory",
    ),
    "study_name": _Option(
        "study name in --storage; an existing study is resumed", "NAME", group=_SHARED,
        none="a new study",
    ),
    "artifact_dir": _Option(
        "where a shared search keeps each trial's model, reachable by every worker", "DIR",
        group=_SHARED,
        none=f"./{PARSER_FACTS['default_artifact_dir']}",
    ),
    "mlflow_tracking_uri": _Option(
        "MLflow tracking URI", "URI", flag="--mlflow-uri", group=_MLFLOW,
        none="MLFLOW_TRACKING_URI, else MLflow's default",
    ),
    "mlflow_experiment": _Option(
        "MLflow experiment name", "NAME", flag="--experiment", group=_MLFLOW,
        none="MLFLOW_EXPERIMENT_NAME, else the tracker's own",
    ),
    "register_model": _Option(
        "register the model under NAME with alias 'champion'", "NAME", flag="--register",
        group=_MLFLOW,
        none="not registered",
    ),
}


def derive_parser_facts() -> dict[str, Any]:
    """``PARSER_FACTS`` as the library states them now (imports the estimators, hence torch)."""
    from automl_nas.data import MAX_AUTO_CLASSES
    from automl_nas.search import DEFAULT_ARTIFACT_DIR
    from automl_nas.space import FAMILIES
    from automl_nas.stages import stage_names

    estimators = _estimators()
    parameters: dict[str, tuple[Any, ...]] = {}
    for name, defaults in _estimator_defaults().items():
        if name in NOT_ON_CLI:
            continue
        facts = (tuple(defaults.values()), _command_line_forms(_constraints(name)))
        parameters[name] = facts if name in FIT_OPTIONS else (*facts, _docstring_summary(name))
    return {
        "tasks": tuple(estimators),
        "default_metrics": tuple(cls()._metric().name for cls in estimators.values()),
        "stage_names": tuple(stage_names()),
        "family_names": tuple(FAMILIES),
        "max_auto_classes": MAX_AUTO_CLASSES,
        "default_artifact_dir": DEFAULT_ARTIFACT_DIR,
        "parameters": parameters,
    }


def parser_facts_source(facts: dict[str, Any]) -> str:
    """``facts`` as the text of ``PARSER_FACTS`` in this file, one parameter a line."""
    lines = ["PARSER_FACTS: dict[str, Any] = {"]
    for key, value in facts.items():
        if key != "parameters":
            lines.append(f"    {key!r}: {value!r},")
    lines.append('    "parameters": {')
    lines += [f"        {name!r}: {value!r}," for name, value in facts["parameters"].items()]
    lines += ["    },", "}"]
    return "\n".join(lines).replace("'", '"')


def _estimator_defaults() -> dict[str, dict[str, Any]]:
    """Each ``__init__`` parameter of the estimators, in order -> {task: its default}."""
    defaults: dict[str, dict[str, Any]] = {}
    for task, cls in _estimators().items():
        for name, parameter in inspect.signature(cls).parameters.items():
            defaults.setdefault(name, {})[task] = parameter.default
    return defaults


def _constraints(name: str) -> list[Any]:
    """The estimators' ``_parameter_constraints`` for ``name``, each form once."""
    forms: list[Any] = []
    for cls in _estimators().values():
        forms += [c for c in cls._parameter_constraints.get(name, []) if c not in forms]
    return forms


def _command_line_forms(constraints: list[Any]) -> tuple[Any, ...]:
    """The constraints a word on a command line can meet, as plain forms; "text" last.

    ``"random_state"`` (an int, None or a RandomState) reads as a whole number or none.
    """
    from numbers import Integral

    from sklearn.utils._param_validation import Interval, StrOptions

    forms: list[Any] = []
    for c in constraints:
        if c is None:
            forms.append("none")
        elif isinstance(c, StrOptions):
            forms.append(("words", *sorted(c.options)))
        elif isinstance(c, Interval):
            forms.append(("int" if c.type is Integral else "float", c.left, c.right, c.closed))
        elif isinstance(c, str) and c in ("boolean", "random_state"):
            forms.append(c)
    if "random_state" in forms and "none" not in forms:
        forms.append("none")
    return (*forms, *["text"] * (str in constraints))


def _is_number(form: Any) -> bool:
    return form == "random_state" or (isinstance(form, tuple) and form[0] in ("int", "float"))


def _bounds(form: tuple[Any, ...]) -> str:
    """``>= 1``, ``> 0 and < 1``: a number form's bounds in words."""
    _, left, right, closed = form
    parts = []
    if left is not None:
        parts.append((">=" if closed in ("left", "both") else ">") + f" {left}")
    if right is not None:
        parts.append(("<=" if closed in ("right", "both") else "<") + f" {right}")
    return " and ".join(parts)


def _within(form: tuple[Any, ...], value: float) -> bool:
    """Whether ``value`` lies in a number form's bounds (as scikit-learn's ``Interval``)."""
    _, left, right, closed = form
    if math.isnan(value):
        return False
    if left is not None and (value < left if closed in ("left", "both") else value <= left):
        return False
    return right is None or (value <= right if closed in ("right", "both") else value < right)


def _describe(form: Any) -> str:
    if form == "none":
        return "none"
    if form == "boolean":
        return "true, false"
    if form == "text":
        return "text"
    if form == "random_state":
        return "a whole number"
    if form[0] == "words":
        return "one of " * (len(form) > 2) + ", ".join(form[1:])
    number = "a whole number" if form[0] == "int" else "a number"
    return f"{number} {_bounds(form)}".strip()


def _parse_by_constraints(forms: tuple[Any, ...]) -> Callable[[str], Any]:
    """Text -> the value of the first form in ``forms`` that it meets, else ArgumentTypeError."""

    def parse(text: str) -> Any:
        out_of_range = None
        for form in forms:
            if form == "none" and text.lower() == "none":
                return None
            if form == "text":
                return text
            if isinstance(form, tuple) and form[0] == "words" and text in form[1:]:
                return text
            if form == "boolean" and text.lower() in ("true", "false"):
                return text.lower() == "true"
            if _is_number(form):
                integral = form == "random_state" or form[0] == "int"
                try:
                    value = int(text) if integral else float(text)
                except ValueError:
                    continue
                if form == "random_state" or _within(form, value):
                    return value
                finite = "" if math.isfinite(value) else "a finite number "
                out_of_range = f"must be {finite}{_bounds(form)}, got {text}"
        if out_of_range:
            raise argparse.ArgumentTypeError(out_of_range)
        # Words first, then numbers: "expected auto, none or a whole number >= 2".
        accepted = [_describe(form) for form in sorted(forms, key=_is_number)]
        accepted = ", ".join(accepted[:-1]) + " or " * (len(accepted) > 1) + accepted[-1]
        raise argparse.ArgumentTypeError(f"expected {accepted}, got {text!r}")

    return parse


def _metavar(name: str, forms: tuple[Any, ...]) -> str:
    """``{a,b,none}`` for a choice of words, ``N`` or ``X`` for a number, the name otherwise."""
    words = [w for f in forms if isinstance(f, tuple) and f[0] == "words" for w in f[1:]]
    words += ["true", "false"] * ("boolean" in forms)
    if words:
        return "{" + ",".join(dict.fromkeys(words + ["none"] * ("none" in forms))) + "}"
    numbers = [f for f in forms if isinstance(f, tuple) and f[0] in ("int", "float")]
    if numbers:
        return "N" if all(f[0] == "int" for f in numbers) else "X"
    return name.upper()


def _show_default(values: dict[str, Any], none: str | None) -> str:
    """The estimators' default as ``--help`` shows it: ``60``, ``auto``, or what None means."""

    def show(value: Any) -> str:
        if value is None:
            return none or "none"
        if isinstance(value, bool):
            return str(value).lower()
        return f"{value:g}" if isinstance(value, float) else str(value)

    shown = {task: show(value) for task, value in values.items()}
    if len(set(shown.values())) == 1:
        return next(iter(shown.values()))
    return ", ".join(f"{text} for {task}" for task, text in shown.items())


def _docstring_summary(name: str) -> str:
    """The first sentence of ``name``'s entry in the classifier's numpydoc Parameters section."""
    lines = (inspect.getdoc(_estimators()["classification"]) or "").splitlines()  # inherited too
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{name} :")), None)
    if start is None:
        return f"the estimators' {name} parameter"
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith(" "):  # the next parameter, or the end of the section
            break
        body.append(line.strip())
    return " ".join(body).split(". ")[0].rstrip(".")


def _add_estimator_options(p: argparse.ArgumentParser) -> None:
    """One option per estimator parameter not in ``NOT_ON_CLI``; the estimators' defaults apply.

    Options the user does not give stay out of the namespace (``SUPPRESS``), so ``fit`` passes
    only what was given and every default is the estimator's own.
    """
    parameters = PARSER_FACTS["parameters"]
    unknown = [name for name in FIT_OPTIONS if name not in parameters]
    if unknown:
        raise TypeError(
            f"FIT_OPTIONS names {unknown}, which PARSER_FACTS does not list as estimator "
            "parameters (see derive_parser_facts)"
        )
    groups: dict[str, argparse._ArgumentGroup] = {}
    names = list(FIT_OPTIONS) + [n for n in parameters if n not in FIT_OPTIONS]
    for name in names:
        defaults, forms, *doc = parameters[name]
        option = FIT_OPTIONS.get(name) or _Option(doc[0] if doc else f"the {name} parameter")
        if option.parse is None and all(form == "none" for form in forms):  # "none" is no use
            raise TypeError(
                f"estimator parameter {name!r} has no command-line form; give it one in "
                "FIT_OPTIONS or say why not in NOT_ON_CLI"
            )
        default = _show_default(dict(zip(PARSER_FACTS["tasks"], defaults)), option.none)
        if option.group not in groups:
            groups[option.group] = p.add_argument_group(option.group)
        groups[option.group].add_argument(
            option.flag or "--" + name.replace("_", "-"),
            dest=name,
            type=option.parse or _parse_by_constraints(forms),
            metavar=option.metavar or _metavar(name, forms),
            default=argparse.SUPPRESS,
            help=f"{option.help} (default: {default})".replace("%", "%%"),
        )


# -- fit ---------------------------------------------------------------------------------------
def _fit_parser(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "fit",
        parents=[common],
        help="search a network on a CSV file and pickle the fitted model",
        description="Search network architectures and hyperparameters on DATA.csv (one Optuna "
        "study) and pickle the fitted estimator: progress and a closing summary line on stderr, "
        "the top of the leaderboard and the model's path on stdout. Feature columns "
        "may be numeric, text or categorical and may have missing values. The search options "
        "are the parameters of AutoNASClassifier and AutoNASRegressor, with their defaults.",
    )
    p.add_argument("data", metavar="DATA.csv", help="training data: a CSV file with a header row")
    p.add_argument("--target", required=True, metavar="COL", help="name of the target column")
    p.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="auto (default): classification when the target is text or boolean, or integers "
        f"with at most {PARSER_FACTS['max_auto_classes']} distinct values; regression "
        "otherwise",
    )
    _add_estimator_options(p)
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
        help="print nothing but errors and warnings about the data: no progress, no summary",
    )
    p.set_defaults(run=_fit)


def _fit(args: argparse.Namespace) -> int:
    """Fit on the CSV, pickle the estimator, print the top of its leaderboard."""
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
    import pandas as pd
    from sklearn.utils._param_validation import InvalidParameterError

    from automl_nas.data import DataWarning, infer_task
    from automl_nas.search import end_progress_line

    task = infer_task(y) if args.task == "auto" else args.task
    if task == "regression" and not pd.api.types.is_numeric_dtype(y):
        example = next((v for v in y if pd.isna(pd.to_numeric(v, errors="coerce"))), y.iloc[0])
        raise CLIError(
            f"target column {args.target!r} is not numeric (e.g. {example!r}); regression needs "
            "numbers: use --task classification or fix the column"
        )
    estimator_class = _estimators()[task]
    parameters = inspect.signature(estimator_class).parameters
    given = {name: value for name, value in vars(args).items() if name in parameters}
    # The estimator's progress and closing line (trials, best score, ensemble) go to stderr;
    # stdout gets what the command made: the top of the leaderboard and the model's path.
    estimator = estimator_class(**given, verbose=0 if args.quiet else 1)
    try:
        with _warnings_as_lines(DataWarning), _errors_only(args.quiet):
            estimator.fit(frame, y)
    except InvalidParameterError as exc:  # an option value the estimator rejects
        raise CLIError(_one_line(exc), status=2) from None
    except (ValueError, RuntimeError, ImportError, OSError) as exc:  # these name the problem (and fix)
        raise CLIError(_one_line(exc)) from None
    finally:
        end_progress_line()
    _save(estimator, output)
    if not args.quiet:
        print(_summary(estimator, output))
    return 0



@contextlib.contextmanager
def _errors_only(quiet: bool) -> Iterator[None]:
    """With ``quiet``, Optuna's log shows errors only: not the warning (with a traceback) of
    each failed trial, which the estimator's verbosity (Optuna at WARNING) would let through.

    A handler level, not the logger's: the search sets the "optuna" logger's level itself.
    """
    if not quiet:
        yield
        return
    import logging

    import optuna

    optuna.logging.disable_default_handler()
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.ERROR)
    handler.setFormatter(logging.Formatter("[%(levelname)s %(name)s] %(message)s"))
    logger = logging.getLogger("optuna")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        optuna.logging.enable_default_handler()

@contextlib.contextmanager
def _warnings_as_lines(category: type[Warning]) -> Iterator[None]:
    """Warnings of ``category`` as ``automl-nas: warning: ...`` lines, each once, not as
    Python shows them (file, line and source); other warnings as Python shows them."""
    with warnings.catch_warnings():  # restores the filters and showwarning afterwards
        warnings.simplefilter("default", category)
        show = warnings.showwarning

        def show_line(message, kind, filename, lineno, file=None, line=None):
            if not issubclass(kind, category):
                show(message, kind, filename, lineno, file, line)
                return
            search = sys.modules.get("automl_nas.search")
            if search is not None:
                search.end_progress_line()
            print(f"{PROG}: warning: {message}", file=sys.stderr)

        warnings.showwarning = show_line
        yield


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


def _summary(estimator: BaseAutoNAS, output: Path) -> str:
    """The top of the leaderboard and where the model was written.

    The trial counts, the best score and where it was measured are the estimator's closing
    line on stderr: one summary, not two.
    """
    board = estimator.leaderboard()
    lines = [format_board(board[SUMMARY_COLUMNS].head(SUMMARY_ROWS))]
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
    import pandas as pd

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
        description="Every trial, best validation score first (trial, stage, state, score, "
        "time, size, parameters): of the search that fitted MODEL.pkl, with each trial's "
        "ensemble weight, or of the study NAME in the Optuna storage URL, which may still be "
        "running. A model's table leaves empty the parameters a trial's network does not use "
        "(units_3 of a one-layer MLP); a study's shows every sampled value, as the storage "
        "holds no search space.",
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
    """The trials of a stored study, best first: :func:`automl_nas.search.trials_frame`.

    The columns of a fitted model's ``leaderboard()`` less ``ensemble_weight`` and
    ``feasible`` (the study does not record them): ``trial``, ``stage``, ``state``, ``score``,
    with a cost objective ``value_1`` and ``pareto``, then times, sizes and parameters.
    ``study_name`` None: the storage's only study.

    Every sampled parameter is shown, also those a trial's network does not use: hiding
    them needs the search space, which the storage does not hold (a shared search's spec
    file does, but it holds the training data too and may lie on another machine).
    """
    import optuna

    from automl_nas.distributed import make_storage
    from automl_nas.masking import mask_uri
    from automl_nas.search import trials_frame

    shown = mask_uri(storage)  # the URL as errors show it: no password
    if storage.startswith("sqlite:///"):  # Optuna would create a missing database file
        database = storage.removeprefix("sqlite:///")
        if database not in ("", ":memory:") and not Path(database).is_file():
            raise CLIError(f"no SQLite database at {database} (from --storage {shown})")
    try:
        opened = make_storage(storage)
        names = optuna.get_all_study_names(storage=opened)
    except Exception as exc:  # noqa: BLE001 - bad URL, missing driver, server down: all say so
        raise CLIError(f"cannot open storage {shown}: {_one_line(exc)}") from None
    if study_name is None:
        if len(names) != 1:
            raise CLIError(
                f"--study NAME is needed: {shown} holds {len(names)} studies "
                f"({', '.join(names) or 'none'})",
                status=2,
            )
        study_name = names[0]
    elif study_name not in names:
        raise CLIError(
            f"no study {study_name!r} in {shown}; it holds: {', '.join(names) or 'no studies'}"
        )
    return trials_frame(optuna.load_study(study_name=study_name, storage=opened))


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
    p.add_argument(
        "--artifact-dir", metavar="DIR",
        help="the coordinator's --artifact-dir as this machine reaches it (default: "
        f"./{PARSER_FACTS['default_artifact_dir']}); the search's files are read only from "
        "inside it",
    )
    p.add_argument("--quiet", action="store_true", help="no line per trial")
    p.set_defaults(run=_worker)


def _worker(args: argparse.Namespace) -> int:
    """Run trials of a shared search until it ends."""
    from automl_nas.distributed import run_worker
    from automl_nas.search import UnsafeFileError

    try:
        with _errors_only(args.quiet):
            ran = run_worker(
                args.storage, args.study, n_trials=args.n_trials, wait=args.wait,
                device=args.device, verbose=0 if args.quiet else 1, artifact_dir=args.artifact_dir,
            )
    except (TimeoutError, UnsafeFileError) as exc:
        raise CLIError(_one_line(exc)) from None
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
    from automl_nas.masking import mask_uri  # standard library only: usage errors stay instant

    search = sys.modules.get("automl_nas.search")  # no search imported, no progress line open
    if search is not None:
        search.end_progress_line()
    print(f"{PROG}: error: {mask_uri(message)}", file=sys.stderr)  # no password, whatever failed


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
