"""The bad-input table of issue 17: every case a clear error (naming the parameter, column, row,
path or cause) or a documented correct result, through the API and the CLI.

Cases are generated from small tables below; none trains more than two tiny models (the
predict-time cases share one fitted classifier and one regressor), so the module stays fast.
A case is (what is called, the exception type, a regex the message must match). The CLI
cases must print one line ``automl-nas: error: ...`` and exit non-zero, with no traceback.
"""

import contextlib
import io
import re

import numpy as np
import pandas as pd
import pytest

from automl_nas import AutoNASClassifier, AutoNASRegressor
from automl_nas.cli import main

FAST = {"n_trials": 1, "max_epochs": 2, "random_state": 0}
rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3))
Y_CLS = np.array(["a", "b"] * 20, dtype=object)
Y_REG = rng.normal(size=40)
ESTIMATORS = {"cls": (AutoNASClassifier, Y_CLS), "reg": (AutoNASRegressor, Y_REG)}

# -- 1. parameters: every bad value names its parameter ---------------------------------------
INTEGER_PARAMS = [
    "n_trials",
    "max_epochs",
    "patience",
    "n_jobs",
    "ensemble_size",
    "ensemble_candidates",
    "max_params",
]
BAD_INTEGERS = [0, -1, 1.5, "3"]
OTHER_BAD_PARAMS = [
    ("time_budget", 0),
    ("time_budget", -5),
    ("time_budget", "60"),
    ("validation_fraction", 0),
    ("validation_fraction", 1),
    ("validation_fraction", 1.5),
    ("validation_fraction", -0.1),
    ("cv", 1),
    ("cv", 0),
    ("cv", "k"),
    ("cv", 2.5),
    ("sampler", "nope"),
    ("sampler", 3),
    ("pruner", "nope"),
    ("pruner", 3),
    ("refit", "maybe"),
    ("cost_objective", "size"),
    ("stages", "tpe"),
    ("device", 3),
    ("image_shape", [8, 8]),
    ("storage", 5),
    ("study_name", 5),
    ("random_state", "x"),
    ("artifact_dir", 5),
    ("space", "mlp"),
    ("mlflow_tracking_uri", 5),
]
PARAM_CASES = [
    pytest.param(kind, name, value, id=f"{kind}-{name}={value!r}")
    for kind in ESTIMATORS
    for name, value in [(p, v) for p in INTEGER_PARAMS for v in BAD_INTEGERS] + OTHER_BAD_PARAMS
]


@pytest.mark.parametrize(("kind", "name", "value"), PARAM_CASES)
def test_a_bad_parameter_names_itself(kind, name, value):
    estimator, y = ESTIMATORS[kind]
    with pytest.raises(
        (ValueError, TypeError), match=rf"'{name}' parameter of {estimator.__name__}"
    ):
        estimator(**{**FAST, name: value}).fit(X, y)


# -- 2. data at fit: errors that name the problem ---------------------------------------------
def _labels_with(value):
    labels = Y_CLS.copy()
    labels[[4, 9]] = value
    return labels


def _frame_with(column, value, row=5):
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    if isinstance(value, str):  # text makes an object column, one-hot encoded as text
        frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


def _huge(row, column):
    array = X.copy()
    array[row, column] = 1e300
    return array


FIT_CASES = [
    # (id, estimator kind, X, y, exception, message regex)
    ("empty-X", "cls", np.empty((0, 3)), [], ValueError, r"0 sample"),
    ("X-1d", "cls", X[:, 0], Y_CLS, ValueError, r"2D array"),
    ("y-too-short", "cls", X, Y_CLS[:30], ValueError, r"X has 40 samples but y has 30"),
    ("y-too-short-reg", "reg", X, Y_REG[:30], ValueError, r"X has 40 samples but y has 30"),
    ("one-class", "cls", X, np.zeros(40), ValueError, r"only one class"),
    ("y-nan-cls", "cls", X, np.r_[np.nan, np.ones(39)], ValueError, r"Input y contains NaN"),
    ("y-nan-reg", "reg", X, np.r_[np.nan, Y_REG[1:]], ValueError, r"Input y contains NaN"),
    ("y-inf-reg", "reg", X, np.r_[np.inf, Y_REG[1:]], ValueError, r"Input y contains infinity"),
    ("y-none", "cls", X, _labels_with(None), ValueError, r"2 missing label\(s\) .* row\(s\) 4, 9"),
    (
        "y-pd-na",
        "cls",
        X,
        _labels_with(pd.NA),
        ValueError,
        r"2 missing label\(s\) .* row\(s\) 4, 9",
    ),
    ("y-nan-object", "cls", X, _labels_with(np.nan), ValueError, r"row\(s\) 4, 9"),
    ("y-text-reg", "reg", X, Y_CLS, ValueError, r"could not convert|numeric"),
    ("y-continuous-cls", "cls", X, Y_REG, ValueError, r"Unknown label type: continuous"),
    (
        "X-inf",
        "cls",
        np.where(np.arange(120).reshape(40, 3) == 7, np.inf, X),
        Y_CLS,
        ValueError,
        r"infinity|beyond float32",
    ),
    (
        "X-1e300-col1",
        "cls",
        _huge(7, 1),
        Y_CLS,
        ValueError,
        r"\[1\] hold values beyond float32.*row 7",
    ),
    (
        "X-1e300-col2-reg",
        "reg",
        _huge(3, 2),
        Y_REG,
        ValueError,
        r"\[2\] hold values beyond float32.*row 3",
    ),
    (
        "X-text-in-array",
        "cls",
        np.where(np.arange(120).reshape(40, 3) == 4, "x", X.astype(str)),
        Y_CLS,
        ValueError,
        r"could not convert|numeric",
    ),
    ("X-complex", "cls", X.astype(complex), Y_CLS, ValueError, r"[Cc]omplex"),
    (
        "frame-no-columns",
        "cls",
        pd.DataFrame(index=range(40)),
        Y_CLS,
        ValueError,
        r"0 feature|no column",
    ),
    (
        "frame-1e300",
        "reg",
        _frame_with("b", 1e300),
        Y_REG,
        ValueError,
        r"\['b'\] hold values beyond float32.*row 5",
    ),
]


@pytest.mark.parametrize(
    ("kind", "X_bad", "y_bad", "error", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in FIT_CASES],
)
def test_bad_data_at_fit_is_a_clear_error(kind, X_bad, y_bad, error, message):
    estimator, _ = ESTIMATORS[kind]
    model = estimator(**FAST)
    with pytest.raises(error, match=message):
        model.fit(X_bad, y_bad)
    assert not hasattr(model, "best_model_")


# Documented correct results (handled by design, see make_preprocessor and the estimators).
HANDLED_CASES = [
    ("frame-mixed-object-column", lambda: _frame_with("b", "text")),  # values compared as text
    ("frame-nan-in-numeric", lambda: _frame_with("a", np.nan)),  # median-imputed + indicator
    (
        "frame-bool-with-none",
        lambda: pd.DataFrame(X, columns=list("abc")).assign(f=[True, None, False, True] * 10),
    ),
    (
        "frame-category",
        lambda: pd.DataFrame(X, columns=list("abc")).assign(k=pd.Categorical(["u", "v"] * 20)),
    ),
    (
        "frame-datetime",
        lambda: pd.DataFrame(X, columns=list("abc")).assign(
            t=pd.date_range("2020-01-01", periods=40)
        ),
    ),
    ("array-nan", lambda: np.where(np.arange(120).reshape(40, 3) == 5, np.nan, X)),
]


@pytest.mark.parametrize("make", [pytest.param(c[1], id=c[0]) for c in HANDLED_CASES])
def test_inputs_handled_by_design_fit_and_predict(make):
    X_ok = make()
    model = AutoNASClassifier(**FAST, verbose=0).fit(X_ok, Y_CLS)
    assert set(model.predict(X_ok)) <= {"a", "b"}
    assert np.isfinite(model.predict_proba(X_ok)).all()


# -- 3. predict: one fitted model of each kind -------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(color=["red", "blue"] * 20)
    return {
        "cls": AutoNASClassifier(**FAST, verbose=0).fit(frame, Y_CLS),
        "reg": AutoNASRegressor(**FAST, verbose=0).fit(frame, Y_REG),
        "frame": frame,
    }


PREDICT_CASES = [
    ("missing-column", lambda f: f.drop(columns="b"), ValueError, r"b"),
    ("extra-column", lambda f: f.assign(z=1.0), ValueError, r"z"),
    ("array-not-frame-wrong-width", lambda f: X[:, :2], ValueError, r"2 features"),
    (
        "text-in-numeric-column",
        lambda f: f.assign(a=f["a"].astype(object).where(f.index != 3, "x")),
        ValueError,
        r"'a'",
    ),
    (
        "1e300",
        lambda f: f.assign(c=f["c"].where(f.index != 6, 1e300)),
        ValueError,
        r"\['c'\] hold values beyond float32.*row 6",
    ),
    ("inf", lambda f: f.assign(c=f["c"].where(f.index != 6, np.inf)), ValueError, r"'c'|infinity"),
    ("empty", lambda f: f.iloc[:0], ValueError, r"0 sample"),
]


@pytest.mark.parametrize("kind", ["cls", "reg"])
@pytest.mark.parametrize(
    ("make", "error", "message"), [pytest.param(*c[1:], id=c[0]) for c in PREDICT_CASES]
)
def test_bad_data_at_predict_is_a_clear_error(fitted, kind, make, error, message):
    with pytest.raises(error, match=message):
        fitted[kind].predict(make(fitted["frame"]))


def test_an_unseen_category_at_predict_is_ignored_by_design(fitted):
    frame = fitted["frame"].assign(color="green")  # documented: unseen levels are ignored
    assert np.isfinite(fitted["reg"].predict(frame)).all()


# -- 4. the CLI: one line, a non-zero status, the cause named ----------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=Y_CLS)
    frame.to_csv(folder / "ok.csv", index=False)
    frame.assign(label=[None, *Y_CLS[1:]]).to_csv(folder / "no_label.csv", index=False)
    frame[["label"]].to_csv(folder / "only_target.csv", index=False)
    (folder / "empty.csv").write_text("")
    (folder / "header_only.csv").write_text("a,b,label\n")
    (folder / "not_a_model.pkl").write_bytes(b"not a pickle")
    (folder / "a_file").write_text("")
    (folder / "dir.db").mkdir()
    return folder


CLI_FIT = ["fit", "ok.csv", "--target", "label", "--n-trials", "1", "--max-epochs", "2"]
CLI_CASES = [
    (["fit", "missing.csv", "--target", "label"], 1, r"missing.csv"),
    (["fit", "empty.csv", "--target", "label"], 1, r"empty.csv is empty"),
    (["fit", "header_only.csv", "--target", "label"], 1, r"header_only.csv"),
    (["fit", "ok.csv", "--target", "nope"], 1, r"'nope' is not in ok.csv"),
    (["fit", "no_label.csv", "--target", "label"], 1, r"empty in 1 row"),
    (["fit", "only_target.csv", "--target", "label"], 1, r"no feature columns"),
    (["fit", "ok.csv", "--target", "label", "--task", "regression"], 1, r"not numeric"),
    ([*CLI_FIT, "--n-trials", "0"], 2, r"n.trials"),
    ([*CLI_FIT, "--max-epochs", "-1"], 2, r"max.epochs"),
    ([*CLI_FIT, "--time-budget", "0"], 2, r"time.budget"),
    ([*CLI_FIT, "--time-budget", "soon"], 2, r"time.budget"),
    ([*CLI_FIT, "--cv", "1"], 2, r"--cv"),
    ([*CLI_FIT, "--sampler", "nope"], 2, r"sampler"),
    ([*CLI_FIT, "--pruner", "nope"], 2, r"pruner"),
    ([*CLI_FIT, "--metric", "r2"], 2, r"metric"),
    ([*CLI_FIT, "--validation-fraction", "1"], 2, r"validation.fraction"),
    ([*CLI_FIT, "--refit", "maybe"], 2, r"true, false or auto"),
    ([*CLI_FIT, "--storage", "not-a-url"], 1, r"not a database URL"),
    (
        [*CLI_FIT, "--storage", "sqlite:///nowhere/s.db"],
        1,
        r"nowhere of the SQLite file does not exist",
    ),
    ([*CLI_FIT, "--storage", "sqlite:///dir.db"], 1, r"dir.db is a directory"),
    (
        [*CLI_FIT, "--storage", "sqlite:///s.db", "--artifact-dir", "a_file"],
        1,
        r"a_file is a file, not a directory",
    ),
    ([*CLI_FIT, "-o", "a_file/m.pkl"], 1, r"a_file"),
    (["predict", "missing.pkl", "ok.csv"], 1, r"missing.pkl"),
    (["predict", "not_a_model.pkl", "ok.csv"], 1, r"not a model"),
    (["predict", "ok.csv", "ok.csv"], 1, r"not a model"),
    (["leaderboard"], 2, r"MODEL.pkl or --storage"),
    (["leaderboard", "--storage", "sqlite:///none.db"], 1, r"no SQLite database"),
    (["worker", "--storage", "not-a-url", "--study", "s", "--wait", "1"], 1, r"not a database URL"),
    (["nope"], 2, r"invalid choice"),
    ([], 2, r"VERB"),
]


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        pytest.param(*case, id=" ".join(case[0][:1] + case[0][-2:]) or "no-args")
        for case in CLI_CASES
    ],
)
def test_bad_cli_input_is_one_line_and_a_nonzero_status(files, monkeypatch, args, status, message):
    monkeypatch.chdir(files)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            got = main(args)
        except SystemExit as exit_:  # argparse's own usage errors
            got = exit_.code
    lines = err.getvalue().strip().splitlines()
    assert got == status, err.getvalue()
    assert "Traceback" not in err.getvalue() and out.getvalue() == ""
    assert lines and re.search(message, lines[-1]), err.getvalue()
    assert lines[-1].startswith("automl-nas: error: ") or got == 2


def test_the_table_has_at_least_100_cases():
    errors = len(PARAM_CASES) + len(FIT_CASES) + 2 * len(PREDICT_CASES) + len(CLI_CASES)
    handled = len(HANDLED_CASES) + 1  # documented correct results
    assert errors + handled >= 100, (errors, handled)
