"""Members of a batch are tracked like any trial: one nested MLflow run each, with its epochs."""

from __future__ import annotations

from optuna.trial import TrialState

from automl_nas.search import TrialAttr
from tests.tracking._checks import check_search_record


def test_every_member_of_a_batch_has_its_own_nested_run(clean_mlflow_env):
    import mlflow
    from sklearn.datasets import load_iris

    from automl_nas import AutoNASClassifier, TabularSpace
    from automl_nas.stages import BatchStage

    X, y = load_iris(return_X_y=True, as_frame=True)
    space = TabularSpace().replace(embedding="none", ensemble_k=1, width=[16, 32], epochs=[3, 6])
    est = AutoNASClassifier(
        space=space, stages=[BatchStage("tpe", members=3)], n_trials=7, max_epochs=6,
        time_budget=120, random_state=0, verbose=0, cv=None, register_model="iris-batched",
    ).fit(X, y)
    batched = [t for t in est.study_.trials if TrialAttr.BATCH in t.user_attrs]
    assert len(batched) >= 3 and all(t.state == TrialState.COMPLETE for t in batched)
    uri = f"sqlite:///{clean_mlflow_env / 'mlflow.db'}"
    experiment = mlflow.get_experiment_by_name("automl_nas")
    check_search_record(uri, experiment.experiment_id, est, "iris-batched", X)
