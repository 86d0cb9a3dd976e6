"""The tracker's pieces that need no tracking store: trial records, batching, the pyfunc wrapper."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from automl_nas.tracking._records import (
    mask_uri,
    search_params,
    search_summary,
    search_tags,
    trial_record,
)
from automl_nas.tracking._store import MAX_ENTITIES_PER_BATCH, batches

DISTS = {
    "lr": FloatDistribution(1e-4, 1.0, log=True),
    "act": CategoricalDistribution(("relu", "gelu")),
}
HISTORY = [
    {"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1), "val_score": 0.5 + e / 10}
    for e in range(3)
]


def make_trial(state: TrialState, **attrs) -> optuna.trial.FrozenTrial:
    return create_trial(
        state=state,
        value=0.7 if state == TrialState.COMPLETE else None,
        params={"lr": 0.01, "act": "gelu"},
        distributions=DISTS,
        user_attrs={
            "stage": "tpe",
            "history": HISTORY,
            "n_params": 1234,
            "train_seconds": 0.5,
            **attrs,
        },
        intermediate_values={e: 0.5 + e / 10 for e in range(3)},
    )


@pytest.mark.parametrize(
    "state, status",
    [(TrialState.COMPLETE, "FINISHED"), (TrialState.PRUNED, "KILLED"), (TrialState.FAIL, "FAILED")],
)
def test_trial_record_maps_state_params_and_history(state, status):
    record = trial_record(make_trial(state, error="ValueError: boom"), ["value"])
    assert record.status == status
    assert record.tags["automl_nas.state"] == state.name
    assert record.tags["automl_nas.stage"] == "tpe"
    assert record.tags["automl_nas.error"] == "ValueError: boom"
    assert record.params == {"lr": "0.01", "act": "gelu"}
    per_epoch = [(k, step) for k, _, _, step in record.metrics if k == "val_score"]
    assert per_epoch == [("val_score", 0), ("val_score", 1), ("val_score", 2)]
    names = {k for k, *_ in record.metrics}
    assert {"train_loss", "val_loss", "duration_s", "n_params", "train_seconds"} <= names
    assert ("value" in names) == (state == TrialState.COMPLETE)
    assert record.start_ms <= record.end_ms


def test_trial_without_history_logs_intermediate_values():
    trial = make_trial(TrialState.PRUNED, history=[])
    steps = [
        step
        for k, _, _, step in trial_record(trial, ["value"]).metrics
        if k == "intermediate_value"
    ]
    assert steps == [0, 1, 2]


def test_cross_validated_trial_logs_one_fold_score_per_fold():
    trial = make_trial(TrialState.COMPLETE, fold_scores=[0.9, 0.8, 1.0], partial_folds="3/5")
    record = trial_record(trial, ["value"])
    folds = [(value, step) for k, value, _, step in record.metrics if k == "fold_score"]
    assert folds == [(0.9, 0), (0.8, 1), (1.0, 2)]
    assert record.tags["automl_nas.partial_folds"] == "3/5"


def test_batches_respect_mlflow_limits():
    metrics = [("m", 1.0, 0, i) for i in range(2500)]
    params = {f"p{i}": "x" for i in range(230)}
    calls = list(batches(metrics, params, {"t": "v"}))
    assert sum(len(m) for m, _, _ in calls) == 2500
    assert sum(len(p) for _, p, _ in calls) == 230
    assert all(
        len(p) <= 100 and len(m) + len(p) + len(t) <= MAX_ENTITIES_PER_BATCH for m, p, t in calls
    )
    assert len(list(batches([("m", 1.0, 0, 0)], {"a": "b"}, {}))) == 1  # a usual trial: one call


def test_search_params_and_tags():
    info = {
        "estimator": "AutoNASClassifier",
        "params": {"time_budget": 60.0, "space": None},
        "dataset": {
            "n_samples": 10,
            "n_features": 3,
            "task": "classification",
            "fingerprint": "f" * 40,
        },
        "space": {"lr": "FloatDistribution(...)"},
        "stages": ["SamplerStage('tpe')"],
        "time_budget": 60.0,
        "versions": {"torch": "2.13"},
    }
    params, tags = search_params(info), search_tags(info)
    assert params["space.lr"] == "FloatDistribution(...)"
    assert params["dataset.fingerprint"] == "f" * 40 and params["space"] == "None"
    assert tags["automl_nas.fingerprint"] == "f" * 40
    assert tags["automl_nas.version.torch"] == "2.13"


def test_search_summary_tracks_the_best_value_and_counts_states():
    study = optuna.create_study(direction="maximize")
    params = {"lr": 0.01, "act": "gelu"}
    for state, value in [
        (TrialState.COMPLETE, 0.5),
        (TrialState.PRUNED, None),
        (TrialState.COMPLETE, 0.8),
        (TrialState.FAIL, None),
    ]:
        study.add_trial(create_trial(state=state, value=value, params=params, distributions=DISTS))
    finished = [(t.number, t.state, t.values and tuple(t.values)) for t in study.trials]
    metrics, tags = search_summary(finished[::-1], study)  # any order: sorted by number
    curve = [(value, step) for key, value, _, step in metrics if key == "best_value"]
    assert curve == [(0.5, 0), (0.5, 1), (0.8, 2), (0.8, 3)]
    counts = {key: value for key, value, _, _ in metrics if key.startswith("n_")}
    assert counts == {"n_trials": 4, "n_complete": 2, "n_pruned": 1, "n_failed": 1}
    assert tags["automl_nas.best_trial"] == "2"
    assert tags["mlflow.note.content"].startswith("Best trial 2: value 0.8")

    two = optuna.create_study(directions=["minimize", "minimize"])
    metrics, tags = search_summary([(0, TrialState.COMPLETE, (1.0, 2.0))], two)
    assert [key for key, *_ in metrics] == ["n_trials", "n_complete", "n_pruned", "n_failed"]
    assert tags == {}  # no single best trial


def test_mask_uri_hides_passwords():
    assert mask_uri("postgresql://me:secret@db:5432/x") == "postgresql://me:***@db:5432/x"
    assert mask_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_mlflow_stays_an_optional_import():
    # Plain scikit-learn use must not need mlflow: no module-level mlflow import on that path.
    package = Path(__file__).resolve().parents[2] / "automl_nas" / "tracking"
    model_code = ("_pyfunc.py", "_model_code.py")  # the logged model's code: MLflow loads it
    for name in sorted(p.name for p in package.glob("*.py") if p.name not in model_code):
        tree = ast.parse((package / name).read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        modules = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
        modules += [n.module for n in top if isinstance(n, ast.ImportFrom)]
        assert not [m for m in modules if m and m.split(".")[0] == "mlflow"], name


def test_tracker_pickles_as_its_configuration():
    from automl_nas.tracking import MlflowTracker

    tracker = MlflowTracker(experiment_name="e", registered_model_name="m")
    clone = pickle.loads(pickle.dumps(tracker))
    assert (clone.experiment_name, clone.registered_model_name, clone.run_id_) == ("e", "m", None)


def test_pyfunc_wrapper_serves_predict_and_predict_proba():
    pytest.importorskip("mlflow")
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from automl_nas.tracking._pyfunc import AutoNASPythonModel

    X, y = load_iris(return_X_y=True)
    model = AutoNASPythonModel()
    model.estimator = LogisticRegression(max_iter=300).fit(X, y)
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(4)])
    np.testing.assert_array_equal(model.predict(None, frame), model.estimator.predict(X))
    proba = model.predict(None, X, params={"method": "predict_proba"})
    np.testing.assert_allclose(proba, model.estimator.predict_proba(X))

    model.estimator = LinearRegression().fit(X, y)
    with pytest.raises(
        ValueError, match=r"method='predict_proba' is not available; choose from \['predict'\]"
    ):
        model.predict(None, frame, params={"method": "predict_proba"})
