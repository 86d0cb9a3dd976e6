"""Bad input fails early with a message that names the problem; nothing half-done is kept."""

import os
import re
import subprocess
import sys

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from automl_nas import AutoNASClassifier, AutoNASRegressor, MLPSpace
from tests._unprivileged import unprivileged

X = np.random.default_rng(0).normal(size=(40, 3))
y = np.r_[np.zeros(20), np.ones(20)]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_y(bad, fast):
    y_bad = y.copy()
    y_bad[3] = bad
    with pytest.raises(ValueError, match="Input y contains (NaN|infinity)"):
        AutoNASRegressor(**fast).fit(X, y_bad)
    with pytest.raises(ValueError, match="Input y contains (NaN|infinity)"):
        AutoNASClassifier(**fast).fit(X, y_bad)


def test_one_class_only(fast):
    clf = AutoNASClassifier(**fast)
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.zeros(40))
    assert not hasattr(clf, "study_")


def test_empty_X(fast):
    with pytest.raises(ValueError, match="0 sample"):
        AutoNASClassifier(**fast).fit(np.empty((0, 3)), [])


def test_predict_with_other_number_of_features(fast):
    clf = AutoNASClassifier(**fast).fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features, but AutoNASClassifier is expecting 3"):
        clf.predict(X[:, :2])


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        AutoNASClassifier().predict(X)
    with pytest.raises(NotFittedError):
        AutoNASRegressor().predict(X)


@pytest.mark.parametrize("budget", [0, -5])
def test_non_positive_time_budget(budget):
    with pytest.raises(ValueError, match="time_budget"):
        AutoNASClassifier(time_budget=budget).fit(X, y)


def test_unknown_sampler_and_pruner_names():
    with pytest.raises(ValueError, match="sampler"):
        AutoNASClassifier(sampler="annealing").fit(X, y)
    with pytest.raises(ValueError, match="pruner"):
        AutoNASClassifier(pruner="sometimes").fit(X, y)


def test_bad_space_is_rejected_before_training():
    with pytest.raises(ValueError, match="Unknown activation"):
        MLPSpace().replace(activation=["relu", "swishy"])
    with pytest.raises(ValueError, match="max_layers=6"):
        MLPSpace(max_layers=4).replace(n_layers=(1, 6))


def test_every_trial_failing_raises_with_their_error(fast):
    # batch_size 0 makes every trial's training loop fail: no silent dummy model.
    space = MLPSpace().replace(batch_size=0)
    clf = AutoNASClassifier(**{**fast, "n_trials": 3, "space": space})
    with pytest.raises(RuntimeError, match=r"(?s)No trial completed.*3 trial\(s\) failed with: ValueError"):
        clf.fit(X, y)
    assert not hasattr(clf, "best_model_")


def test_failing_trials_do_not_end_the_search(fast):
    """A sampler that proposes a broken value now and then: the search goes on around it."""
    space = MLPSpace(max_layers=1).replace(batch_size=[0, 16])
    clf = AutoNASClassifier(**{**fast, "n_trials": 8, "space": space, "sampler": "random"}).fit(X, y)
    states = {t.state for t in clf.study_.trials}
    assert optuna.trial.TrialState.FAIL in states and optuna.trial.TrialState.COMPLETE in states
    failed = [t for t in clf.study_.trials if t.state == optuna.trial.TrialState.FAIL]
    assert all("error" in t.user_attrs for t in failed)


@pytest.mark.parametrize("estimator", [AutoNASClassifier, AutoNASRegressor])
def test_values_beyond_float32_are_refused_naming_the_column(estimator, fast):
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    huge = frame.copy()
    huge.loc[7, "b"] = 1e300
    with pytest.raises(ValueError, match=r"X column\(s\) \['b'\] hold values beyond float32.*row 7"):
        estimator(**fast).fit(huge, y)
    model = estimator(**fast).fit(frame, y)
    with pytest.raises(ValueError, match=r"\['b'\] hold values beyond float32"):
        model.predict(huge)
    array = X.copy()
    array[2, 1] = -1e300
    with pytest.raises(ValueError, match=r"X column\(s\) \[1\] hold values beyond float32.*row 2"):
        model.predict(array)


def test_the_float32_range_check_makes_no_copy_of_X():
    """The check runs on every fit and predict: a temporary the size of X (0.9 GB and 2.6 s
    on 50,000 x 2,000 float64) would be the largest allocation of a wide fit."""
    import tracemalloc

    from automl_nas.estimator._base import _check_float32_range

    wide = np.random.default_rng(0).normal(size=(2_000, 500))
    wide[::7, 3] = np.nan
    tracemalloc.start()
    try:
        _check_float32_range(wide, list(range(wide.shape[1])))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < wide.nbytes / 20


def test_a_non_finite_output_is_an_error_not_a_silent_class(fast):
    # networks only: a boosting member has no weights to spoil
    clf = AutoNASClassifier(**fast, families=["nn"]).fit(X, y)
    with torch.no_grad():
        for parameter in clf.ensemble_.members[0].parameters():
            parameter.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"not finite for 40 row\(s\) of X \(first: row 0\)"):
        clf.predict(X)


# -- issue 17, item 6: errors that name the rows, column, path or cause ---------------------------


@pytest.mark.parametrize("missing", [None, pd.NA, np.nan])
@pytest.mark.parametrize("wrap", [np.asarray, pd.Series], ids=["array", "series"])
def test_missing_labels_name_their_rows(missing, wrap, fast):
    labels = np.array(["a", "b"] * 20, dtype=object)
    labels[[3, 17]] = missing
    clf = AutoNASClassifier(**fast)
    with pytest.raises(ValueError, match=r"y has 2 missing label\(s\) .* at row\(s\) 3, 17 "):
        clf.fit(X, wrap(labels))
    assert not hasattr(clf, "classes_")


def test_a_column_mixing_numbers_and_strings_is_one_set_of_levels(fast):
    frame = pd.DataFrame({
        "x": X[:, 0],
        "mixed": [1, "one", 2.5, "two"] * 10,  # numbers and strings in one object column
        "flag": [True, None, False, True] * 10,  # bools with a missing value
    })
    clf = AutoNASClassifier(**fast).fit(frame, y)
    names = list(clf.preprocessor_.get_feature_names_out())
    assert {"categorical__mixed_1", "categorical__mixed_one", "categorical__mixed_2.5"} <= set(names)
    assert "categorical__flag___missing__" in names
    # at predict time a number given as text is the same level (values are compared as text)
    assert clf.predict(frame.replace({1: "1"})).shape == (40,)


def _shared(tmp_path, **kwargs):
    return AutoNASClassifier(
        n_trials=1, max_epochs=2, storage=f"sqlite:///{tmp_path / 'search.db'}", study_name="s",
        **kwargs,
    )


def test_an_artifact_dir_that_cannot_be_made_names_the_path(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(OSError, match=r"artifact directory at .*not-a-directory/x/s: .*not-a-directory is a file, not a dir"):
        _shared(tmp_path, artifact_dir=blocker / "x").fit(X, y)


def test_an_unwritable_artifact_dir_names_the_path_and_cause(tmp_path, monkeypatch):
    from automl_nas.search import _store

    def refuse(path, *args, **kwargs):  # what a read-only directory does (root ignores modes)
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(_store.os, "open", refuse)
    with pytest.raises(
        PermissionError,
        match=r"cannot write the search spec \(search.pt\) at .*artifacts/s/search.pt: Permission "
        r"denied. The search's artifact_dir .* must be a directory that every process",
    ):
        _shared(tmp_path, artifact_dir=tmp_path / "artifacts").fit(X, y)


def test_a_read_only_artifact_dir_names_the_path(tmp_path):
    """The same fault for real: a 0555 directory, in a process on which file modes bind (as
    root too, see tests/_unprivileged.py)."""
    (tmp_path / "artifacts" / "s").mkdir(parents=True)
    (tmp_path / "artifacts" / "s").chmod(0o555)
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from automl_nas import AutoNASClassifier\n"
        "X = np.random.default_rng(0).normal(size=(40, 3)); y = np.r_[np.zeros(20), np.ones(20)]\n"
        "try:\n"
        "    AutoNASClassifier(n_trials=1, max_epochs=2, storage=sys.argv[1], study_name='s',\n"
        "                      artifact_dir=sys.argv[2]).fit(X, y)\n"
        "except PermissionError as exc:\n"
        "    print(exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    try:
        done = subprocess.run(
            unprivileged([sys.executable, "-c", code, f"sqlite:///{tmp_path / 'search.db'}",
                          str(tmp_path / "artifacts")]),
            capture_output=True, text=True, env=env, timeout=300, check=False,
        )
    finally:
        (tmp_path / "artifacts" / "s").chmod(0o755)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(
        r"cannot write the search spec \(search.pt\) at .*artifacts/s/search.pt: Permission "
        r"denied. The search's artifact_dir .* must be a directory that every process",
        done.stdout,
    ), done.stdout + done.stderr[-3000:]
    assert not (tmp_path / "artifacts" / "s" / "search.pt").exists()


def test_an_unopenable_sqlite_storage_names_the_path_and_cause(tmp_path, monkeypatch):
    from automl_nas.distributed import make_storage

    with pytest.raises(ValueError, match=r"directory .*/nowhere of the SQLite file does not exist"):
        make_storage(f"sqlite:///{tmp_path}/nowhere/search.db")
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(ValueError, match=r"dir.db is a directory, not an SQLite file"):
        AutoNASClassifier(storage=f"sqlite:///{tmp_path}/dir.db", n_trials=1).fit(X, y)
    make_storage(f"sqlite:///{tmp_path}/ro.db")  # a database, then made read-only
    (tmp_path / "ro.db").chmod(0o444)
    if os.geteuid() == 0:  # root may write anyway: let os.access answer as for another user
        monkeypatch.setattr(os, "access", lambda path, mode: not str(path).endswith("ro.db"))
    with pytest.raises(ValueError, match=r"the SQLite file .*/ro.db is read-only for this process"):
        make_storage(f"sqlite:///{tmp_path}/ro.db")


def test_cli_quiet_prints_no_optuna_traceback_for_failed_trials(tmp_path):
    """``-q``: failed trials (batch size 0 in half the proposals) print nothing on stderr."""
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=np.where(y > 0, "p", "n"))
    frame.to_csv(tmp_path / "d.csv", index=False)
    code = (
        "import sys\n"
        "from automl_nas import AutoNASClassifier, MLPSpace\n"
        "AutoNASClassifier._default_space = lambda self, stages: (\n"
        "    MLPSpace(max_layers=1).replace(batch_size=[0, 16]))\n"
        "from automl_nas.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    args = ["fit", "d.csv", "--target", "label", "--n-trials", "6", "--max-epochs", "2",
            "--sampler", "random", "--random-state", "0", "-o", "m.pkl"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    loud = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, check=False,
                          text=True, env=env, timeout=300)
    assert loud.returncode == 0, loud.stderr
    assert "failed" in loud.stderr  # without -q the failures are shown ...
    quiet = subprocess.run([sys.executable, "-c", code, *args, "-q"], cwd=tmp_path, check=False,
                           capture_output=True, text=True, env=env, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and quiet.stdout == ""  # ... with -q nothing but errors
