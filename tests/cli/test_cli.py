"""The ``automl-nas`` command line: fit, predict and leaderboard on CSV files, and its errors.

Most cases call ``main([...])`` in-process (importing torch takes seconds); a few run the real
command in a subprocess to check exit status and stderr as a shell sees them.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_nas import AutoNASClassifier, AutoNASRegressor, cli
from automl_nas.cli import infer_task, main
from automl_nas.data import infer_task as shared_infer_task

#: A tiny, quick search: the trial count binds unless the machine is very slow.
FAST = ["--time-budget", "4", "--n-trials", "3", "--max-epochs", "5", "--random-state", "0"]
N_ROWS = 80


def _environment() -> dict[str, str]:
    """The test process's environment without MLflow tracking switched on from outside."""
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    """``python -m automl_nas ARGS`` started in a subprocess (collect with ``communicate``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "automl_nas", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )


def _main(*args: str) -> tuple[int, str, str]:
    """``main(ARGS)`` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def _assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    assert status != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("automl-nas: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """cls.csv (text target, text column and NaN) and reg.csv (numeric target) in one folder."""
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=N_ROWS)
    x2 = rng.normal(size=N_ROWS)
    x2[::9] = np.nan
    color = rng.choice(["red", "green", "blue"], size=N_ROWS).astype(object)
    color[::7] = None
    label = np.where(x1 + (color == "red") > 0.3, "yes", "no")
    features = pd.DataFrame({"x1": x1, "x2": x2, "color": color})
    features.assign(label=label).to_csv(folder / "cls.csv", index=False)
    features.assign(price=3 * x1 + rng.normal(size=N_ROWS)).to_csv(folder / "reg.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def classifier(data: Path) -> tuple[Path, int, str, str]:
    """A classifier fitted in-process by ``fit``: (model path, status, stdout, stderr)."""
    model = data / "cls.pkl"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        status, out, err = _main("fit", data / "cls.csv", "--target", "label", *FAST, "-o", model)
    return model, status, out, err


@pytest.fixture(scope="module", autouse=True)
def real_runs(data: Path) -> Iterator[dict[str, subprocess.Popen]]:
    """The real command's runs, started with the module so their imports overlap other tests.

    ``fit``: a regression search into a SQLite study (creating the schema takes seconds of the
    budget on a busy machine, so the trial count binds); ``missing_target``: a bad input.
    """
    runs = {
        "fit": _start(
            *("fit", "reg.csv", "--target", "price", "--time-budget", "60", "--n-trials", "2"),
            *("--max-epochs", "5", "--storage", f"sqlite:///{data / 'search.db'}"),
            *("--study-name", "prices", "-o", "reg.pkl"),
            cwd=data,
        ),
        "missing_target": _start("fit", "cls.csv", "--target", "nope", cwd=data),
    }
    yield runs
    for run in runs.values():
        run.kill()
        run.communicate()


def test_fit_classification_csv(data, classifier):
    model_path, status, out, err = classifier
    assert status == 0, err
    assert out.strip().splitlines()[-1] == f"model written to {model_path}"
    assert "ensemble_weight" in out and "n_params" in out  # the summary table's header
    assert "[automl_nas] trial    0 COMPLETE" in err  # progress lines when stderr is no terminal
    with open(model_path, "rb") as file:
        model = pickle.load(file)
    assert isinstance(model, AutoNASClassifier)
    assert list(model.classes_) == ["no", "yes"]
    assert list(model.feature_names_in_) == ["x1", "x2", "color"]


def test_fit_regression_csv_in_a_subprocess_then_watch_its_study(data, real_runs):
    out, err = real_runs["fit"].communicate(timeout=180)
    assert real_runs["fit"].returncode == 0, err
    assert "[automl_nas] AutoNASRegressor fitted in " in err
    assert out.strip().endswith("model written to reg.pkl")
    with open(data / "reg.pkl", "rb") as file:
        model = pickle.load(file)
    assert isinstance(model, AutoNASRegressor)

    storage = f"sqlite:///{data / 'search.db'}"
    status, out, err = _main("leaderboard", "--storage", storage, "--study", "prices", "--csv")
    assert status == 0, err
    board = pd.read_csv(io.StringIO(out))
    assert list(board.columns[:4]) == ["trial", "stage", "state", "score"]
    assert sorted(board["trial"]) == [t.number for t in model.study_.trials]
    assert board["score"].iloc[0] == pytest.approx(model.study_.best_value)


def test_predict_csv_labels_and_probabilities(data, classifier):
    model_path = classifier[0]
    rows = pd.read_csv(data / "cls.csv").drop(columns="label")
    # Columns are matched by name: another order and no target give the same predictions.
    rows[["color", "x2", "x1"]].to_csv(data / "new.csv", index=False)

    status, out, err = _main("predict", model_path, data / "cls.csv")
    assert status == 0, err
    labels = pd.read_csv(io.StringIO(out))
    assert list(labels.columns) == ["prediction"]
    assert len(labels) == N_ROWS
    assert set(labels["prediction"]) <= {"no", "yes"}

    status, _, err = _main("predict", model_path, data / "new.csv", "-o", data / "preds.csv")
    assert status == 0, err
    assert pd.read_csv(data / "preds.csv")["prediction"].tolist() == labels["prediction"].tolist()

    status, out, err = _main("predict", model_path, data / "new.csv", "--proba")
    assert status == 0, err
    proba = pd.read_csv(io.StringIO(out))
    assert list(proba.columns) == ["no", "yes"]
    assert len(proba) == N_ROWS
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert (proba.idxmax(axis=1) == labels["prediction"]).all()


def test_leaderboard_of_a_model(classifier):
    model_path = classifier[0]
    with open(model_path, "rb") as file:
        expected = pickle.load(file).leaderboard()
    status, out, err = _main("leaderboard", model_path, "--csv")
    assert status == 0, err
    board = pd.read_csv(io.StringIO(out))
    assert board["trial"].tolist() == expected["trial"].tolist()
    assert board["ensemble_weight"].sum() == pytest.approx(1.0)

    status, out, _ = _main("leaderboard", model_path, "--top", "1")
    assert status == 0
    header, *rows = out.strip().splitlines()
    assert header.split()[:4] == ["trial", "stage", "state", "score"]
    assert len(rows) == 1 and rows[0].split()[0] == str(expected["trial"].iloc[0])


def test_leaderboard_of_a_stored_two_objective_study(tmp_path):
    """A search with ``cost_objective`` on a shared storage: both objectives and the front."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    storage = f"sqlite:///{tmp_path / 'mo.db'}"
    clf = AutoNASClassifier(
        cost_objective="n_params", n_trials=4, max_epochs=3, time_budget=120, random_state=0,
        storage=storage, study_name="small-and-good", artifact_dir=str(tmp_path / "artifacts"),
    ).fit(X[:200], y[:200])

    status, out, err = _main("leaderboard", "--storage", storage, "--csv")
    assert status == 0, err
    board = pd.read_csv(io.StringIO(out))
    assert list(board.columns[:6]) == ["trial", "stage", "state", "score", "value_1", "pareto"]
    trials = {t.number: t for t in clf.study_.trials}
    assert sorted(board["trial"]) == sorted(trials)
    for row in board.itertuples():
        if row.state == "COMPLETE":
            assert [row.score, row.value_1] == pytest.approx(trials[row.trial].values)
    front = {t.number for t in clf.study_.best_trials}
    assert set(board.loc[board["pareto"], "trial"]) == front
    complete = board[board["state"] == "COMPLETE"]
    assert complete["score"].is_monotonic_increasing  # log loss, best first


@pytest.mark.parametrize("verb", [None, "fit", "predict", "leaderboard"])
def test_help_of_every_verb(verb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([verb, "--help"] if verb else ["--help"])
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith(f"usage: automl-nas {verb or ''}".rstrip())
    expected = {
        None: "leaderboard",
        "fit": "at most 20",
        "predict": "--proba",
        "leaderboard": "--top",
    }
    assert expected[verb] in usage


def test_fit_summary_says_where_the_best_score_was_measured(classifier):
    _, status, _, err = classifier
    assert status == 0, err
    # 80 rows in 4 s: cv="auto" cross-validates (a busy machine's deadline may cut the folds).
    assert "out-of-fold over " in err and "validation split" not in err


def test_fit_prints_one_summary(classifier):
    """The estimator's closing line on stderr is the summary; stdout has no second one, only
    the table and the model's path."""
    _, status, out, err = classifier
    assert status == 0, err
    (closing,) = [line for line in err.splitlines() if " fitted in " in line]
    assert closing.startswith("[automl_nas] AutoNASClassifier fitted in ")
    assert "ensemble of " in closing and "best " in closing
    assert "fitted in" not in out and "best trial" not in out and "ensemble of" not in out
    assert out.splitlines()[0].split()[:4] == ["trial", "stage", "state", "score"]


def _fit_help(capsys, monkeypatch) -> dict[str, str]:
    """``fit --help`` unwrapped: option flag -> its line (flags, metavar, help, default)."""
    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps help at the terminal's width
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    options: dict[str, str] = {}
    flag = None
    for line in capsys.readouterr().out.splitlines():
        if line.lstrip().startswith("-"):  # an option; a long one has its help on the next line
            flag = line.split()[0].rstrip(",")
            options[flag] = " ".join(line.split())
        elif flag and line.startswith("  "):
            options[flag] += " " + " ".join(line.split())
        else:
            flag = None
    return options


def test_every_estimator_parameter_is_an_option_with_the_estimators_default(
    capsys, monkeypatch
):
    parameters = inspect.signature(AutoNASClassifier).parameters
    assert list(parameters) == list(inspect.signature(AutoNASRegressor).parameters)
    assert set(cli.FIT_OPTIONS) | set(cli.NOT_ON_CLI) == set(parameters)
    assert not set(cli.FIT_OPTIONS) & set(cli.NOT_ON_CLI)
    options = _fit_help(capsys, monkeypatch)
    for flag, default in [
        ("--time-budget", "S seconds for the whole search (default: 60)"),
        ("--validation-fraction", "(default: 0.2)"),
        ("--cv", "{auto,none,K}"),
        ("--refit", "{auto,true,false}"),
        ("--n-trials", "(default: when the time budget is spent)"),
        ("--metric", "(default: log_loss for classification, r2 for regression)"),
        ("--mlflow-uri", "URI"),
        ("--experiment", "NAME"),
        ("--register", "NAME"),
        ("--study-name", "NAME"),
        ("-q", "--quiet"),
    ]:
        assert default in options[flag], options[flag]
    for name, option in cli.FIT_OPTIONS.items():  # each default shown is the estimator's
        default = parameters[name].default
        if default is not None:
            shown = f"{default:g}" if isinstance(default, float) else str(default).lower()
            flag = option.flag or "--" + name.replace("_", "-")
            assert options[flag].endswith(f"(default: {shown})"), options[flag]


def test_options_not_given_leave_the_estimators_defaults(data, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    model = tmp_path / "holdout.pkl"
    status, _, err = _main(
        *("fit", data / "cls.csv", "--target", "label", *FAST, "-o", model),
        *("--cv", "none", "--refit", "false", "--ensemble-size", "1", "--patience", "2"),
    )
    assert status == 0, err
    assert "on the validation split); ensemble of 1 trial" in err
    with open(model, "rb") as file:
        params = pickle.load(file).get_params()
    given = {"time_budget": 4, "n_trials": 3, "max_epochs": 5, "random_state": 0, "cv": None}
    given |= {"refit": False, "ensemble_size": 1, "patience": 2, "verbose": 1}
    assert params == {**AutoNASClassifier().get_params(), **given}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--cv", "3", "--refit", "true"], {"cv": 3, "refit": True}),
        (["--cv", "auto", "--refit", "auto"], {"cv": "auto", "refit": "auto"}),
        (["--n-trials", "none", "--random-state", "none"],
         {"n_trials": None, "random_state": None}),
        (["--pruner", "none", "--metric", "none"], {"pruner": "none", "metric": None}),
        (["--cost-objective", "n_params", "--max-params", "5000"],
         {"cost_objective": "n_params", "max_params": 5000}),
        (["--validation-fraction", "0.3", "--storage", "none"],
         {"validation_fraction": 0.3, "storage": None}),
        (["--stages", "darts,tpe", "--mlflow-uri", "u", "--experiment", "e", "--register", "r"],
         {"stages": ["darts", "tpe"], "mlflow_tracking_uri": "u", "mlflow_experiment": "e",
          "register_model": "r"}),
    ],
)
def test_option_values_read_as_the_estimators_values(args, expected):
    namespace = vars(cli.build_parser().parse_args(["fit", "d.csv", "--target", "y", *args]))
    parameters = inspect.signature(AutoNASClassifier).parameters
    assert {k: v for k, v in namespace.items() if k in parameters} == expected


def test_a_new_estimator_parameter_becomes_an_option_or_must_be_listed(monkeypatch, capsys):
    """A parameter a word can express gets an option; one only an object can must be listed."""
    from numbers import Integral

    from sklearn.utils._param_validation import Interval

    from automl_nas.space import SearchSpace

    def with_parameter(cls, name, default, constraint):
        def __init__(self, **kwargs):
            kwargs.setdefault(name, default)
            setattr(self, name, kwargs.pop(name))
            cls.__init__(self, **kwargs)

        params = [*inspect.signature(cls).parameters.values()]
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default))
        __init__.__signature__ = inspect.Signature([inspect.Parameter("self", 0), *params])
        constraints = {**cls._parameter_constraints, name: constraint}
        body = {"__init__": __init__, "_parameter_constraints": constraints}
        return type(cls.__name__, (cls,), body)

    whole = [Interval(Integral, 0, None, closed="left")]
    for task, cls in cli.ESTIMATORS.items():
        monkeypatch.setitem(cli.ESTIMATORS, task, with_parameter(cls, "warmup", 3, whole))
    # The parser reads PARSER_FACTS, which tests/cli/test_startup.py keeps equal to these:
    monkeypatch.setattr(cli, "PARSER_FACTS", cli.derive_parser_facts())
    assert _fit_help(capsys, monkeypatch)["--warmup"].endswith("(default: 3)")
    # Its help is the first sentence of its entry in the docstring, as for patience here:
    assert cli._docstring_summary("patience") == (
        "Epochs without validation improvement before a trial stops early"
    )
    args = cli.build_parser().parse_args(["fit", "d.csv", "--target", "y", "--warmup", "0"])
    assert args.warmup == 0

    for task, cls in cli.ESTIMATORS.items():
        object_only = with_parameter(cls, "prior", None, [SearchSpace, None])
        monkeypatch.setitem(cli.ESTIMATORS, task, object_only)
    monkeypatch.setattr(cli, "PARSER_FACTS", cli.derive_parser_facts())
    with pytest.raises(TypeError, match="'prior' has no command-line form.*NOT_ON_CLI"):
        cli.build_parser()


def test_infer_task():
    assert infer_task is shared_infer_task  # one rule, shared with mlflow/run_search.py
    assert infer_task(pd.Series(["a", "b", "a"])) == "classification"
    assert infer_task(pd.Series([True, False])) == "classification"
    assert infer_task(pd.Series([0, 1, 2, 1])) == "classification"
    assert infer_task(pd.Series(range(100))) == "regression"
    assert infer_task(pd.Series([0.5, 1.0, 2.0])) == "regression"


def test_missing_target_column_in_a_subprocess(real_runs):
    out, err = real_runs["missing_target"].communicate(timeout=120)
    assert real_runs["missing_target"].returncode == 1
    _assert_one_line_error(
        real_runs["missing_target"].returncode, err, "'nope'", "x1, x2, color, label"
    )
    assert out == ""


@pytest.fixture(scope="module")
def bad_files(data: Path) -> Path:
    (data / "empty.csv").write_text("")
    (data / "header.csv").write_text("x1,x2,label\n")
    (data / "not_a_model.pkl").write_text("hello")
    pd.read_csv(data / "cls.csv").drop(columns="color").to_csv(data / "no_color.csv", index=False)
    frame = pd.read_csv(data / "cls.csv")
    frame.loc[[3, 5], "label"] = np.nan
    frame.to_csv(data / "nan_target.csv", index=False)
    return data


@pytest.mark.parametrize(
    ("args", "status", "fragments"),
    [
        (["fit", "cls.csv", "--target", "nope"], 1, ["'nope'", "x1, x2, color, label"]),
        (["fit", "missing.csv", "--target", "y"], 1, ["cannot read", "No such file"]),
        (["fit", "empty.csv", "--target", "y"], 1, ["empty.csv is empty"]),
        (["fit", "header.csv", "--target", "label"], 1, ["no data rows"]),
        (
            ["fit", "cls.csv", "--target", "label", "--task", "regression"],
            1,
            ["not numeric", "--task classification"],
        ),
        (["fit", "nan_target.csv", "--target", "label"], 1, ["2 row(s)", "[3, 5]"]),
        (["fit", "cls.csv", "--target", "label", "-o", "nodir/m.pkl"], 1, ["does not exist"]),
        (["fit", "cls.csv"], 2, ["--target", "automl-nas fit --help"]),
        (["fit", "cls.csv", "--target", "label", "--stages", "tpe,magic"], 2, ["magic"]),
        (["fit", "cls.csv", "--target", "label", "--time-budget", "-1"], 2, ["must be > 0"]),
        (["fit", "cls.csv", "--target", "label", "--metric", "r2", *FAST], 2, ["'metric'"]),
        (["fit", "cls.csv", "--target", "label", "--cv", "1"], 2, ["--cv", "must be >= 2"]),
        (["fit", "cls.csv", "--target", "label", "--refit", "maybe"], 2, ["true, false or auto"]),
        (["predict", "cls.pkl", "no_color.csv"], 1, ["lacks the column(s) color"]),
        (["predict", "not_a_model.pkl", "cls.csv"], 1, ["not a model"]),
        (["predict", "cls.csv", "cls.csv"], 1, ["not a model"]),
        (["predict", "cls.pkl", "empty.csv"], 1, ["empty.csv is empty"]),
        (["leaderboard"], 2, ["MODEL.pkl or --storage"]),
        (["leaderboard", "--storage", "sqlite:///none.db"], 1, ["no SQLite database"]),
        ([], 2, ["VERB"]),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_status(
    bad_files, classifier, monkeypatch, args, status, fragments
):
    monkeypatch.chdir(bad_files)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    got, out, err = _main(*args)
    assert got == status, err
    _assert_one_line_error(got, err, *fragments)
    assert out == ""
    assert not (bad_files / "none.db").exists()  # looking at a storage never creates one


def test_proba_of_a_regressor_is_a_usage_error(data, tmp_path):
    model = AutoNASRegressor(n_trials=1, max_epochs=2, random_state=0)
    frame = pd.read_csv(data / "reg.csv")
    model.fit(frame.drop(columns="price"), frame["price"])
    with open(tmp_path / "reg.pkl", "wb") as file:
        pickle.dump(model, file)
    status, _, err = _main("predict", tmp_path / "reg.pkl", data / "reg.csv", "--proba")
    _assert_one_line_error(status, err, "--proba needs a classifier")
    assert status == 2


def test_unexpected_error_is_one_line_unless_debug(data, monkeypatch):
    def broken_read_csv(path):
        raise KeyError("boom")

    monkeypatch.setattr(pd, "read_csv", broken_read_csv)
    status, _, err = _main("fit", data / "cls.csv", "--target", "label")
    _assert_one_line_error(status, err, "KeyError: 'boom'", "--debug")
    assert status == 1
    with pytest.raises(KeyError, match="boom"):
        main(["fit", str(data / "cls.csv"), "--target", "label", "--debug"])


def test_the_table_shows_a_dash_for_every_empty_cell():
    board = pd.DataFrame(
        {"trial": [0, 1], "score": [0.5, np.nan], "units_1": pd.array([256, None], dtype="Int64")}
    )
    lines = cli.format_board(board).splitlines()
    assert lines[1].split() == ["0", "0.5", "256"]
    assert lines[2].split() == ["1", "-", "-"]
