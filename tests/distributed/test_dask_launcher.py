"""integrations/dask_workers.py: two Dask worker processes join a real search run by ``fit``."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path

import numpy as np
import optuna
from distributed import Client, LocalCluster
from sklearn.datasets import load_breast_cancer

from automl_nas import AutoNASClassifier

REPO = Path(__file__).resolve().parents[2]


def _load_launcher():
    """integrations/dask_workers.py as a module (integrations/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "dask_workers", REPO / "integrations" / "dask_workers.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_dask_workers_join_a_search_started_by_fit(sqlite_url, tmp_path):
    dask_workers = _load_launcher()
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:300], y[:300]
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as client:
        # Import torch and automl_nas in the workers now, so the 8 s search is spent on trials.
        client.run(importlib.import_module, "automl_nas.distributed")
        pids = client.run(os.getpid)
        futures = dask_workers.submit_workers(
            client, sqlite_url, "dask-search", wait=60, artifact_dir=str(tmp_path / "artifacts")
        )
        clf = AutoNASClassifier(
            storage=sqlite_url,
            study_name="dask-search",
            artifact_dir=str(tmp_path / "artifacts"),
            time_budget=8,
            max_epochs=5,
            random_state=0,
        ).fit(X, y)
        ran = dask_workers.gather_workers(client, futures)

    assert sorted(ran) == sorted(pids)
    assert all(n >= 1 for n in ran.values()), ran
    study = optuna.load_study(study_name="dask-search", storage=sqlite_url)
    host = socket.gethostname()
    for address, n in ran.items():
        mine = [t for t in study.trials if t.user_attrs.get("worker") == f"{host}:{pids[address]}"]
        assert len(mine) == n  # every trial a Dask worker reported is in the study, under its name
    assert len(study.trials) > sum(ran.values())  # the coordinator ran trials too
    assert np.mean(clf.predict(X) == y) > 0.8
