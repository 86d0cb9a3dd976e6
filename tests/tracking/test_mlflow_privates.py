"""The three MLflow private names tracking relies on, each where MLflow has no public way.

The code degrades quietly when one of them goes (slower, or a URI not restored exactly): these
tests are what fails, loudly, when an MLflow release renames or changes one.
"""

from __future__ import annotations

import inspect

import pytest

pytest.importorskip("mlflow")


@pytest.mark.parametrize("scheme", ["sqlite", "http"])
def test_mlflow_client_still_exposes_the_store_that_terminate_calls(tmp_path, scheme):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}" if scheme == "sqlite" else "http://127.0.0.1:9"
    store = getattr(
        getattr(MlflowClient(tracking_uri=uri), "_tracking_client", None), "store", None
    )
    assert callable(getattr(store, "update_run_info", None)), (
        "MLflow no longer has MlflowClient()._tracking_client.store.update_run_info: terminate() "
        "in automl_nas/tracking/_store.py now falls back to set_terminated (one more request and "
        "a printed line per trial on a server); find where the tracking store moved"
    )
    parameters = set(inspect.signature(store.update_run_info).parameters)
    assert {"run_id", "run_status", "end_time", "run_name"} <= parameters, (
        f"MLflow changed {type(store).__name__}.update_run_info's parameters to {parameters}: "
        "update terminate() in automl_nas/tracking/_store.py"
    )


def test_terminate_ends_a_run_in_the_store_without_set_terminated(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from automl_nas.tracking._store import terminate

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("terminate"), start_time=1_000)

    def fallback(*args, **kwargs):
        pytest.fail("terminate() fell back to MlflowClient.set_terminated: see the test above")

    monkeypatch.setattr(client, "set_terminated", fallback)
    terminate(client, run.info.run_id, "KILLED", 2_000)
    info = client.get_run(run.info.run_id).info
    assert (info.status, info.end_time) == ("KILLED", 2_000)


def test_mlflow_still_reads_the_package_map_the_writer_seeds(monkeypatch):
    from mlflow.utils import requirements_utils

    from automl_nas.tracking._logged_model import pip_requirements, seed_package_map

    assert hasattr(requirements_utils, "_MODULES_TO_PACKAGES"), (
        "MLflow renamed or removed mlflow.utils.requirements_utils._MODULES_TO_PACKAGES: "
        "seed_package_map() in automl_nas/tracking/_logged_model.py now does nothing, and each "
        "writer process scans every installed distribution (seconds of CPU) to log the model"
    )
    # Both maps are restored after the test: other tests' models see MLflow's own.
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)
    monkeypatch.setattr(requirements_utils, "_PACKAGES_TO_MODULES", None)
    seed_package_map()
    assert requirements_utils._MODULES_TO_PACKAGES["sklearn"] == ["scikit-learn"]

    scans = []
    monkeypatch.setattr(
        requirements_utils.importlib_metadata,
        "packages_distributions",
        lambda: scans.append(1) or {},
    )
    requirements_utils.warn_dependency_requirement_mismatches(pip_requirements())
    assert scans == [], (
        "MLflow's requirement check scanned every installed distribution although "
        "_MODULES_TO_PACKAGES was seeded: it builds its map elsewhere now; update "
        "seed_package_map() in automl_nas/tracking/_logged_model.py or drop it"
    )


def test_global_tracking_uri_restores_the_global_uri_itself(clean_mlflow_env, monkeypatch):
    import mlflow
    from mlflow.tracking._tracking_service import utils as tracking_utils

    from automl_nas.tracking._logged_model import global_tracking_uri

    first, other = (f"sqlite:///{clean_mlflow_env / name}" for name in ("first.db", "other.db"))
    mlflow.set_tracking_uri(first)
    assert getattr(tracking_utils, "_tracking_uri", None) == first, (
        "MLflow no longer keeps its global tracking URI in "
        "mlflow.tracking._tracking_service.utils._tracking_uri: global_tracking_uri() in "
        "automl_nas/tracking/_logged_model.py cannot tell it from MLFLOW_TRACKING_URI any more"
    )
    with global_tracking_uri(mlflow, other):
        assert mlflow.get_tracking_uri() == other
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    assert mlflow.get_tracking_uri() == first  # the global URI is back, not only the variable

    mlflow.set_tracking_uri(None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", first)
    with global_tracking_uri(mlflow, other):
        assert mlflow.get_tracking_uri() == other
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    assert mlflow.get_tracking_uri() == "sqlite:///elsewhere.db"  # no global URI was left set
