"""Batched trials: members of one batch are ordinary trials, pruned, failed and tracked alone."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from sklearn.datasets import make_classification

from automl_nas import AutoNASClassifier, TabularSpace
from automl_nas.search import TrialAttr
from automl_nas.stages import BatchStage, batch_members, make_stage
from automl_nas.training import MEMBER_PARAMS

X, y = make_classification(400, 8, n_informative=5, random_state=0)
#: Networks only, small and quick; ``embedding="none"`` and one member keep every trial stackable.
SPACE = TabularSpace().replace(
    embedding="none", ensemble_k=1, width=[16, 32], n_blocks=[1, 2], epochs=[4, 8]
)


def fit(stage, **kwargs):
    options = {"space": SPACE, "time_budget": 60, "n_trials": 9, "cv": None, "random_state": 0,
               "verbose": 0, "max_epochs": 8}
    return AutoNASClassifier(stages=[stage], **{**options, **kwargs}).fit(X, y)


def architecture(trial):
    return {k: v for k, v in trial.params.items() if k not in MEMBER_PARAMS}


def test_members_share_the_leaders_architecture_and_are_ordinary_trials():
    clf = fit(BatchStage("tpe", members=4))
    trials = clf.study_.trials
    assert len(trials) == 9
    batched = [t for t in trials if TrialAttr.BATCH in t.user_attrs]
    assert len(batched) >= 4
    by_leader: dict[int, list] = {}
    for trial in batched:
        by_leader.setdefault(trial.user_attrs[TrialAttr.BATCH]["leader"], []).append(trial)
    for leader, members in by_leader.items():
        assert len(members) == members[0].user_attrs[TrialAttr.BATCH]["size"] > 1
        assert len({str(architecture(t)) for t in members}) == 1  # one shape per batch
        assert len({t.params["lr"] for t in members}) == len(members)  # own recipes
        assert all(t.user_attrs[TrialAttr.STAGE] == "batch" for t in members if t.number != leader)
        assert {t.state for t in members} <= {TrialState.COMPLETE, TrialState.PRUNED}
        assert all(len(t.user_attrs["history"]) == len(t.intermediate_values) > 0 for t in members)
    assert any(t.state == TrialState.COMPLETE for t in batched)
    board = clf.leaderboard()
    assert set(board["trial"]) == {t.number for t in trials}
    assert clf.score(X, y) > 0.8


class PruneOddTrials(optuna.pruners.BasePruner):
    """Prunes every odd-numbered trial at its second report."""

    def prune(self, study, trial):
        return trial.number % 2 == 1 and trial.last_step == 2


def test_a_pruned_member_leaves_its_batch_and_the_others_finish():
    clf = fit(BatchStage("random", members=4), pruner=PruneOddTrials())
    batched = [t for t in clf.study_.trials if TrialAttr.BATCH in t.user_attrs]
    odd = [t for t in batched if t.number % 2]
    even = [t for t in batched if not t.number % 2]
    assert odd and even
    assert all(t.state == TrialState.PRUNED and sorted(t.intermediate_values) == [1, 2] for t in odd)
    assert all(t.state == TrialState.COMPLETE for t in even)
    assert any(len(t.intermediate_values) > 2 for t in even)


def test_a_diverging_member_fails_alone():
    # A learning rate of 1e30 makes some members diverge: they fail, their batch goes on.
    space = SPACE.replace(lr=[1e-3, 1e30], optimizer="sgd")
    clf = fit(BatchStage("random", members=4), space=space)
    states = {t.number: t.state for t in clf.study_.trials}
    failed = [t for t in clf.study_.trials if t.state == TrialState.FAIL]
    assert failed and all(t.params["lr"] == 1e30 for t in failed)
    assert all("diverged" in t.user_attrs[TrialAttr.ERROR] for t in failed)
    assert TrialState.COMPLETE in states.values()


def test_the_stage_by_name_and_the_batch_size_rule():
    assert isinstance(make_stage("batch"), BatchStage)
    assert batch_members("cpu", 128, 81) == 16
    assert batch_members("cpu", 1024, 81) == 3
    assert batch_members("cpu", 1024, 512) == 2
    assert batch_members("cuda", 128, 81) == 64
    with pytest.raises(ValueError, match="members"):
        BatchStage(members=0)


def test_families_train_alone_and_networks_batch(tmp_path):
    clf = AutoNASClassifier(stages=["batch"], time_budget=20, n_trials=12, random_state=0, verbose=0,
                            max_epochs=5).fit(X, y)
    families = {t.params.get("family") for t in clf.study_.trials}
    assert "gbdt" in families
    assert not any(TrialAttr.BATCH in t.user_attrs for t in clf.study_.trials
                   if t.params.get("family") != "nn")
    assert np.isfinite(clf.predict_proba(X)).all()


def test_only_networks_trained_by_gradient_steps_are_batched():
    from automl_nas.space import FamilySpace

    clf = AutoNASClassifier(
        space=FamilySpace(portfolio=False).replace(family=["linear", "gbdt"]), stages=["batch"],
        n_trials=6, time_budget=30, random_state=0, verbose=0, cv=None,
    ).fit(X, y)
    assert {t.state for t in clf.study_.trials} == {TrialState.COMPLETE}
    assert not any(TrialAttr.BATCH in t.user_attrs for t in clf.study_.trials)
