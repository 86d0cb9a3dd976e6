"""No password of a storage URL reaches MLflow, a pickled model, the command line, the logs or
the estimator's repr.

The storage is the session's real PostgreSQL server (``postgres_url`` from tests/conftest.py:
a random password in the URL); MLflow tracks into a SQLite file in the test's directory. Each
place a secret could land is searched for the password itself: the params and tags of the
parent and trial runs, every byte of the run's artifacts, of the registered model and of the
whole MLflow store, the pickled estimator, the command line's stdout and stderr, log records,
warnings and whatever reached the process's file descriptors. Then the two ways to keep the
password out of the URL altogether: libpq's ``PGPASSWORD`` and password file.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import sklearn
import sqlalchemy
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from automl_nas import AutoNASClassifier
from automl_nas.cli import main
from automl_nas.distributed import make_storage
from automl_nas.masking import mask_uri
from automl_nas.tracking._records import clip, search_params, trial_record

#: The smallest search that still trains, tracks, ensembles and pickles.
TINY = {"n_trials": 2, "max_epochs": 2, "time_budget": 120, "cv": None, "refit": False}
TINY["random_state"] = 0


def _password(url: str) -> str:
    return sqlalchemy.engine.make_url(url).password


def _files_holding(root: Path, secret: bytes) -> list[str]:
    """The files under ``root`` whose bytes contain ``secret``."""
    return sorted(
        str(path.relative_to(root))
        for path in Path(root).rglob("*")
        if path.is_file() and secret in path.read_bytes()
    )


def _study_name() -> str:
    return f"secrets-{uuid.uuid4().hex[:10]}"  # the session's tests share one database


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}


def _cli(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m automl_nas ARGS`` as a shell runs it."""
    return subprocess.run(
        [sys.executable, "-m", "automl_nas", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=600,
        check=False,
    )


def _main(capsys, *args: object) -> tuple[int, str]:
    """``main(ARGS)`` in-process: (exit status, stdout + stderr)."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out + err


@pytest.fixture
def data() -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_classification(n_samples=80, n_features=5, n_informative=3, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]), y


# -- the masking function ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "postgresql+psycopg2://bob:s3cr3t@db.example:5432/hpo?sslmode=verify-full",
            "postgresql+psycopg2://bob:***@db.example:5432/hpo?sslmode=verify-full",
        ),
        ("postgresql://bob:p@ss/w:rd@db/hpo", "postgresql://bob:***@db/hpo"),  # raw '@' and '/'
        (
            "mysql+pymysql://root:s3cr3t@127.0.0.1:3306/hpo",
            "mysql+pymysql://root:***@127.0.0.1:3306/hpo",
        ),
        ("https://alice:tok3n@mlflow.example/", "https://alice:***@mlflow.example/"),
        ("http://alice:tok3n@127.0.0.1:5000", "http://alice:***@127.0.0.1:5000"),
        (
            "postgresql://db/hpo?user=bob&password=s3cr3t",
            "postgresql://db/hpo?user=bob&password=***",
        ),
        ("https://h/api?x=1&token=abc#top", "https://h/api?x=1&token=***#top"),
        (
            "https://h/api?access_token=abc&api_key=def",
            "https://h/api?access_token=***&api_key=***",
        ),
        ("host=db user=bob password=s3cr3t dbname=hpo", "host=db user=bob password=*** dbname=hpo"),
        (
            "cannot open storage 'postgresql://bob:s3cr3t@db/hpo': refused",
            "cannot open storage 'postgresql://bob:***@db/hpo': refused",
        ),
        ("a://u:1@h b://v:2@k", "a://u:***@h b://v:***@k"),  # every URL of a text
    ],
)
def test_mask_uri_hides_every_credential(text, masked):
    assert mask_uri(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "sqlite:///search.db",
        "sqlite:////tmp/a b/search.db",
        "journal:./search.log",
        "postgresql://bob@db:5432/hpo?sslmode=require",  # the password comes from libpq
        "postgresql+psycopg2://db/hpo",
        "http://127.0.0.1:5000",
        "https://mlflow.example:8443/path/x?run=1",
        "mailto:bob@example.org",
        "lr = 0.01, n_layers = 3",
        "",
    ],
)
def test_mask_uri_leaves_text_without_credentials_alone(text):
    assert mask_uri(text) == text


def test_tracking_records_mask_urls_even_where_they_are_cut():
    url = "postgresql://bob:s3cr3tpassword@db/hpo"
    params = search_params(
        {"params": {"storage": url, "mlflow_tracking_uri": "https://u:t0ken@mlflow/"}}
    )
    assert params["storage"] == "postgresql://bob:***@db/hpo"
    assert params["mlflow_tracking_uri"] == "https://u:***@mlflow/"
    # A cut between the password and its '@' would leave it whole: masking comes first.
    assert "s3cr3t" not in clip("x" * 20 + url, 20 + url.index("@") - 2)
    trial = optuna.trial.create_trial(
        state=optuna.trial.TrialState.FAIL, user_attrs={"error": f"OperationalError: {url}"}
    )
    assert "s3cr3t" not in str(trial_record(trial, ["value"]).as_dict())


# -- make_storage's errors ---------------------------------------------------------------------
def test_make_storage_errors_quote_no_password(monkeypatch):
    with pytest.raises(ValueError, match="not a database URL") as info:
        make_storage("postgresql:/bob:s3cr3t@db/hpo")  # a slash short of a URL
    assert "s3cr3t" not in str(info.value)

    from automl_nas.distributed import _storage

    def refuse(url, *args):  # a driver whose error quotes the URL, and one quoting the password
        raise RuntimeError(f"cannot reach {url}") from KeyError("s3cr3t")

    monkeypatch.setattr(_storage, "_rdb_storage", refuse)
    with pytest.raises(ValueError, match="cannot open storage") as info:
        make_storage("postgresql://bob:s3cr3t@db/hpo")
    assert "s3cr3t" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# -- a pickled estimator -----------------------------------------------------------------------
def test_a_pickle_masks_url_params_and_copies_a_stored_study_into_memory(data, tmp_path):
    X, y = data
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    clf = AutoNASClassifier(
        storage=storage,
        study_name="s",
        artifact_dir=str(tmp_path / "artifacts"),
        mlflow_tracking_uri=None,
        **TINY,
    ).fit(X, y)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)  # Optuna's default, as in a shell
    logging.getLogger("optuna").addHandler(handler)
    try:
        blob = pickle.dumps(clf)
    finally:
        logging.getLogger("optuna").removeHandler(handler)
        optuna.logging.set_verbosity(before)
    assert not records, [r.getMessage() for r in records]  # no "A new study created in memory"
    back = pickle.loads(blob)
    assert isinstance(back.study_._storage, optuna.storages.InMemoryStorage)  # Optuna private
    pd.testing.assert_frame_equal(back.leaderboard(), clf.leaderboard())
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    assert back.get_params() == clf.get_params()  # no credentials: nothing masked
    assert not isinstance(clf.study_._storage, optuna.storages.InMemoryStorage)  # untouched

    unfitted = AutoNASClassifier(
        storage="postgresql://bob:s3cr3t@db/hpo", mlflow_tracking_uri="https://u:t0ken@mlflow/"
    )
    blob = pickle.dumps(unfitted)
    assert b"s3cr3t" not in blob and b"t0ken" not in blob
    assert pickle.loads(blob).get_params()["storage"] == "postgresql://bob:***@db/hpo"
    assert unfitted.storage == "postgresql://bob:s3cr3t@db/hpo"  # the estimator itself keeps it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        as_object = AutoNASClassifier(storage=optuna.storages.RDBStorage(storage))
    blob = pickle.dumps(as_object)
    assert pickle.loads(blob).storage == storage


# -- what scikit-learn shows of an estimator ---------------------------------------------------
_SHOWN = {
    "storage": "postgresql://bob:s3cr3t@db.example/hpo",
    "mlflow_tracking_uri": "https://alice:tok3n@mlflow.example",
}


def test_repr_and_html_display_mask_url_params_nested_too():
    """scikit-learn prints parameters with repr(), in its own repr, nested in a Pipeline or a
    grid search, and in the HTML display's parameter table: none shows a password."""
    clf = AutoNASClassifier(**_SHOWN, time_budget=5)
    shown = {
        "repr": repr(clf),
        "str": str(clf),
        "pipeline": repr(make_pipeline(StandardScaler(), clf)),
        "grid search": repr(GridSearchCV(clf, {"time_budget": [5, 10]})),
    }
    with sklearn.config_context(display="diagram"):
        shown["html"] = clf._repr_html_()
        shown["pipeline html"] = make_pipeline(StandardScaler(), clf)._repr_html_()
        shown["mime bundle"] = str(clf._repr_mimebundle_())
    for where, text in shown.items():
        assert "s3cr3t" not in text and "tok3n" not in text, where
        assert "***" in text, where
    assert "storage='postgresql://bob:***@db.example/hpo'" in shown["repr"]
    assert "mlflow_tracking_uri='https://alice:***@mlflow.example'" in shown["repr"]


def test_masked_url_params_round_trip_through_get_params_clone_and_set_params():
    """Only the display is masked: get_params, clone and set_params carry the real URLs."""
    clf = AutoNASClassifier(**_SHOWN)
    params = clf.get_params()
    assert {k: params[k] for k in _SHOWN} == _SHOWN
    twin = clone(clf)
    assert twin.get_params() == params and repr(twin) == repr(clf)
    other = "postgresql://carol:hunter2@db.example/hpo"
    assert clf.set_params(storage=other).storage == other
    assert "hunter2" not in repr(clf)
    plain = "sqlite:///search.db"  # no credential: kept as the very object given
    assert clf.set_params(storage=plain).get_params()["storage"] is plain
    assert AutoNASClassifier(storage=None).storage is None


# -- the whole path, on a real PostgreSQL ------------------------------------------------------
def test_a_tracked_fit_on_postgres_leaks_the_password_nowhere(
    postgres_url, data, tmp_path, monkeypatch, caplog, capfd
):
    mlflow = pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    password = _password(postgres_url)
    secret = password.encode()
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root (./mlruns) lands here
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    caplog.set_level(logging.DEBUG)
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    X, y = data
    clf = AutoNASClassifier(
        storage=postgres_url,
        study_name=_study_name(),
        artifact_dir=str(tmp_path / "artifacts"),
        mlflow_tracking_uri=tracking,
        register_model="m",
        verbose=1,
        **TINY,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)

    # MLflow: params and tags of the parent run and of every trial run.
    client = MlflowClient(tracking_uri=tracking)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments)
    parents = [r for r in runs if r.data.tags.get("automl_nas.role") == "search"]
    assert len(parents) == 1 and len(runs) >= 3, [r.info.run_name for r in runs]
    parent = parents[0]
    assert parent.data.params["storage"] == mask_uri(postgres_url) != postgres_url
    for run in runs:
        for kind, values in (("param", run.data.params), ("tag", run.data.tags)):
            leaked = [key for key, value in values.items() if password in value]
            assert not leaked, f"{kind}s {leaked} of run {run.info.run_name} hold the password"

    # The run's artifacts and the registered model, downloaded, every file's bytes.
    run_files = Path(client.download_artifacts(parent.info.run_id, "", str(tmp_path / "run")))
    assert {"trials.csv", "leaderboard.csv"} <= {p.name for p in run_files.rglob("*")}
    assert _files_holding(run_files, secret) == []
    model_files = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri="models:/m@champion",
            dst_path=str(tmp_path / "model"),
            tracking_uri=tracking,
        )
    )
    assert any(p.name == "estimator.pkl" for p in model_files.rglob("*"))
    assert _files_holding(model_files, secret) == []
    # Everything written under the test's directory: the MLflow database and artifact store,
    # the search's artifact directory (spec, trial files).
    assert _files_holding(tmp_path, secret) == []

    # The pickled estimator, and what survives pickling.
    assert secret not in pickle.dumps(clf)
    back = pickle.loads(pickle.dumps(clf))
    pd.testing.assert_frame_equal(back.leaderboard(), clf.leaderboard())
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    assert back.get_params()["storage"] == mask_uri(postgres_url)
    assert clone(back).get_params() == back.get_params()
    assert clf.storage == postgres_url  # the fitted estimator itself is unchanged
    assert not isinstance(clf.study_._storage, optuna.storages.InMemoryStorage)  # Optuna private
    loaded = mlflow.sklearn.load_model("models:/m@champion")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert len(loaded.leaderboard()) == 2

    # What a notebook or a log shows of the fitted estimator: its repr and HTML display.
    with sklearn.config_context(display="diagram"):
        html = clf._repr_html_()
    assert "Fitted" in html and password not in html and password not in repr(clf)
    assert mask_uri(postgres_url) in repr(clf).replace("\n", "").replace(" ", "")

    # Logs, warnings and the process's own output (the MLflow writer process's too).
    assert password not in caplog.text
    assert not [str(w.message) for w in caught if password in str(w.message)]
    out, err = capfd.readouterr()
    assert password not in out and password not in err


def test_the_command_line_prints_no_password(postgres_url, data, tmp_path, capsys):
    password = _password(postgres_url)
    X, y = data
    X.assign(label=y).to_csv(tmp_path / "train.csv", index=False)
    study = _study_name()
    fit = _cli(
        "fit",
        "train.csv",
        "--target",
        "label",
        "--storage",
        postgres_url,
        "--study-name",
        study,
        "--artifact-dir",
        "artifacts",
        "--n-trials",
        2,
        "--max-epochs",
        2,
        "--cv",
        "none",
        "--refit",
        "false",
        "--output",
        "model.pkl",
        cwd=tmp_path,
    )
    assert fit.returncode == 0, fit.stderr
    assert password not in fit.stdout + fit.stderr
    assert password.encode() not in (tmp_path / "model.pkl").read_bytes()

    status, output = _main(capsys, "leaderboard", tmp_path / "model.pkl")
    assert status == 0 and password not in output
    status, output = _main(capsys, "leaderboard", "--storage", postgres_url, "--study", study)
    assert status == 0 and password not in output

    shown = mask_uri(postgres_url)
    status, output = _main(capsys, "leaderboard", "--storage", postgres_url, "--study", "nope")
    assert status == 1 and f"no study 'nope' in {shown}" in output
    assert password not in output
    wrong = postgres_url.replace(password, "Wr0ngPassw0rd")
    status, output = _main(capsys, "leaderboard", "--storage", wrong, "--study", study)
    assert status == 1 and "cannot open storage" in output and "password authentication" in output
    assert "Wr0ngPassw0rd" not in output
    status, output = _main(
        capsys, "worker", "--storage", postgres_url, "--study", "nope", "--wait", 0.5
    )
    assert status == 1 and password not in output


def test_a_url_without_password_takes_it_from_pgpassword_or_the_password_file(
    postgres_server, data, tmp_path, monkeypatch, capsys
):
    server = postgres_server
    bare = f"postgresql+psycopg2://{server.user}@127.0.0.1:{server.port}/{server.database}"
    for name in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-file"))  # not ~/.pgpass either
    with pytest.raises(sqlalchemy.exc.OperationalError, match="no password supplied"):
        make_storage(bare)

    monkeypatch.setenv("PGPASSWORD", server.password)
    X, y = data
    study = _study_name()
    clf = AutoNASClassifier(
        storage=bare, study_name=study, artifact_dir=str(tmp_path / "artifacts"), **TINY
    ).fit(X, y)
    assert len(clf.leaderboard()) == 2
    assert server.password.encode() not in pickle.dumps(clf)

    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(
        f"127.0.0.1:{server.port}:{server.database}:{server.user}:{server.password}\n"
    )
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    pgpass.chmod(0o644)
    with pytest.raises(sqlalchemy.exc.OperationalError, match="no password supplied"):
        make_storage(bare)  # libpq ignores a password file others can read
    pgpass.chmod(0o600)
    capsys.readouterr()  # the fit's progress lines, before the CLI's own output
    status, output = _main(capsys, "leaderboard", "--storage", bare, "--study", study, "--csv")
    assert status == 0, output
    assert len(pd.read_csv(io.StringIO(output))) == 2
