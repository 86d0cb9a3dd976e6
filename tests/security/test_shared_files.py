"""Files and paths a shared search reads from its storage and artifact directory run no code.

Anyone who can write to the Optuna database can change the spec path announced in the study,
and anyone who can write to the artifact directory can replace a file in it. Each attack
below plants a pickle whose loading would run a shell command (creating a marker file); the
search must refuse it with a clear error and the marker must never appear.
"""

import os

import optuna
import pytest
import torch
from sklearn.datasets import load_iris

from automl_nas import AutoNASClassifier
from automl_nas.distributed import make_storage, run_worker
from automl_nas.search import DiskTrialStore, SearchSpec, StudyAttr, UnsafeFileError


class Payload:
    """Runs ``touch marker`` when unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def planted(tmp_path):
    """A shared study whose announced spec is a malicious pickle: (storage, artifacts, marker)."""
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    artifacts = tmp_path / "artifacts"
    (artifacts / "s").mkdir(parents=True)
    marker = tmp_path / "payload-ran"
    torch.save(Payload(marker), artifacts / "s" / "search.pt")
    study = optuna.create_study(study_name="s", storage=make_storage(storage))
    study.set_user_attr(StudyAttr.SPEC, str(artifacts / "s" / "search.pt"))
    study.set_user_attr(StudyAttr.DEADLINE, 4e9)
    return storage, artifacts, marker


def test_the_payload_would_run_if_the_spec_were_unpickled(planted):
    _, artifacts, marker = planted
    torch.load(artifacts / "s" / "search.pt", weights_only=False)  # what b14c3a2 did
    assert marker.exists()


def test_a_worker_refuses_a_planted_spec_and_runs_nothing(planted):
    storage, artifacts, marker = planted
    with pytest.raises(UnsafeFileError, match="refused to read the search spec .*Nothing from it"):
        run_worker(storage, "s", artifact_dir=artifacts, wait=5)
    assert not marker.exists()


def test_a_resumed_fit_refuses_a_planted_spec_and_runs_nothing(planted):
    storage, artifacts, marker = planted
    X, y = load_iris(return_X_y=True)
    clf = AutoNASClassifier(
        n_trials=1, max_epochs=2, storage=storage, study_name="s", artifact_dir=artifacts
    )
    with pytest.raises(UnsafeFileError, match="refused to read the search spec"):
        clf.fit(X, y)
    assert not marker.exists()


def test_a_spec_path_outside_the_artifact_directory_is_not_followed(planted, tmp_path):
    storage, artifacts, marker = planted
    elsewhere = tmp_path / "elsewhere"
    with pytest.raises(UnsafeFileError, match="outside the artifact directory"):
        run_worker(storage, "s", artifact_dir=elsewhere, wait=5)
    X, y = load_iris(return_X_y=True)
    clf = AutoNASClassifier(n_trials=1, storage=storage, study_name="s", artifact_dir=elsewhere)
    with pytest.raises(UnsafeFileError, match="outside the artifact directory"):
        clf.fit(X, y)
    study = optuna.load_study(study_name="s", storage=make_storage(storage))
    study.set_user_attr(StudyAttr.SPEC, str(artifacts / "s" / ".." / ".." / "x" / "search.pt"))
    with pytest.raises(UnsafeFileError, match="outside the artifact directory"):
        run_worker(storage, "s", artifact_dir=artifacts, wait=5)
    assert not marker.exists()


def test_a_planted_trial_file_is_refused_and_runs_nothing(tmp_path):
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    artifacts = tmp_path / "artifacts"
    X, y = load_iris(return_X_y=True)
    clf = AutoNASClassifier(
        n_trials=2, max_epochs=3, storage=storage, study_name="s", artifact_dir=artifacts,
        random_state=0,
    ).fit(X, y)
    spec = SearchSpec.load(artifacts / "s" / "search.pt")  # a genuine spec reads back
    store = DiskTrialStore(str(artifacts / "s"), 2, clf.study_, spec.build)
    genuine = store.load(0)
    assert genuine.params == clf.study_.trials[0].params
    marker = tmp_path / "payload-ran"
    torch.save(Payload(marker), store.path(0))
    with pytest.raises(UnsafeFileError, match="refused to read the model file of trial 0"):
        store.load(0)
    assert not marker.exists()


def test_a_spec_with_a_class_workers_would_refuse_fails_before_it_is_published(tmp_path):
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    X, y = load_iris(return_X_y=True)
    clf = AutoNASClassifier(
        sampler=optuna.samplers.RandomSampler(seed=0), n_trials=1, storage=storage,
        study_name="s", artifact_dir=tmp_path / "artifacts",
    )
    with pytest.raises(UnsafeFileError, match="RandomSampler.*Pass samplers and stages by name"):
        clf.fit(X, y)
    assert not (tmp_path / "artifacts" / "s" / "search.pt").exists()
