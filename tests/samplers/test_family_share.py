"""FamilyShareSampler: a family under its floor share of the trial-seconds is drawn first."""

from __future__ import annotations

import datetime

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial, TrialState
from sklearn.datasets import make_classification

from automl_nas import AutoNASClassifier
from automl_nas.samplers import FamilyShareSampler, family_seconds
from automl_nas.stages import PromoteStage, SamplerStage

FAMILIES = ("gbdt", "nn", "linear")
FAMILY = CategoricalDistribution(FAMILIES)
X_DIST = FloatDistribution(0.0, 1.0)
T0 = datetime.datetime(2026, 1, 1, 12, 0, 0)


def add(study: optuna.Study, family: str, seconds: float, start: float = 0.0) -> None:
    """A finished trial of ``family`` that trained ``seconds``."""
    begin = T0 + datetime.timedelta(seconds=start)
    study.add_trial(FrozenTrial(
        number=0, trial_id=0, state=TrialState.COMPLETE, value=0.5, values=None,
        datetime_start=begin, datetime_complete=begin + datetime.timedelta(seconds=seconds),
        params={"family": family, "x": 0.5}, distributions={"family": FAMILY, "x": X_DIST},
        user_attrs={}, system_attrs={}, intermediate_values={},
    ))


class Always(optuna.samplers.RandomSampler):
    """Draws ``family`` as ``choice`` always, everything else at random."""

    def __init__(self, choice: str) -> None:
        super().__init__(seed=0)
        self.choice = choice

    def sample_independent(self, study, trial, param_name, param_distribution):
        if param_name == "family":
            return self.choice
        return super().sample_independent(study, trial, param_name, param_distribution)


def draw(study: optuna.Study) -> dict:
    trial = study.ask()
    params = {"family": trial.suggest_categorical("family", FAMILIES),
              "x": trial.suggest_float("x", 0.0, 1.0)}
    study.tell(trial, 0.5)
    return params


def test_family_seconds_counts_each_family_s_trials():
    study = optuna.create_study()
    add(study, "gbdt", 3.0)
    add(study, "gbdt", 1.5)
    add(study, "nn", 2.0)
    assert family_seconds(study) == pytest.approx({"gbdt": 4.5, "nn": 2.0})


def test_the_family_under_its_floor_is_drawn_and_the_rest_by_the_wrapped_sampler():
    study = optuna.create_study()
    add(study, "gbdt", 9.0)
    add(study, "nn", 1.0)  # nn has 10% of the time, under its 50% floor
    study.sampler = FamilyShareSampler(Always("linear"), {"nn": 0.5}, families=FAMILIES)
    params = draw(study)
    assert params["family"] == "nn"
    assert 0.0 <= params["x"] <= 1.0
    stored = study.trials[-1]
    assert stored.params["family"] == "nn"  # an ordinary value the wrapped sampler learns from
    assert stored.distributions["family"] == FAMILY


def test_the_wrapped_sampler_chooses_while_every_family_is_at_its_floor():
    study = optuna.create_study()
    add(study, "gbdt", 4.0)
    add(study, "nn", 6.0)  # 60% >= 50%
    study.sampler = FamilyShareSampler(Always("linear"), {"nn": 0.5}, families=FAMILIES)
    assert draw(study)["family"] == "linear"
    empty = optuna.create_study(sampler=FamilyShareSampler(Always("gbdt"), {"nn": 0.5},
                                                           families=FAMILIES))
    assert draw(empty)["family"] == "gbdt"  # nothing trained yet: no share to judge


def test_the_family_furthest_under_its_floor_goes_first():
    study = optuna.create_study()
    add(study, "linear", 8.0)
    add(study, "gbdt", 1.0)
    add(study, "nn", 1.0)  # both at 10%: nn is 0.3 under its floor, gbdt 0.1
    sampler = FamilyShareSampler(Always("linear"), {"gbdt": 0.2, "nn": 0.4}, families=FAMILIES)
    study.sampler = sampler
    assert draw(study)["family"] == "nn"
    assert sampler.short_family(study) == "nn"  # the drawn trial took no time
    add(study, "nn", 10.0, start=20.0)  # nn at 55%; gbdt at 5% < 20%
    assert draw(study)["family"] == "gbdt"


def test_over_many_trials_the_floor_holds_in_seconds():
    """Cheap trials of one family, expensive ones of the other: the floor is on seconds."""
    study = optuna.create_study(sampler=FamilyShareSampler(Always("gbdt"), {"nn": 0.5},
                                                           families=FAMILIES))
    clock = 0.0
    for _ in range(60):
        family = draw(study)["family"]  # a trial that took no time
        cost = 2.0 if family == "nn" else 0.1
        add(study, family, cost, start=clock)  # the time the search would have spent on it
        clock += cost
    seconds = family_seconds(study)
    assert seconds["nn"] / sum(seconds.values()) >= 0.45


def test_floors_are_checked_and_narrowed_to_the_space():
    with pytest.raises(ValueError, match="shares in"):
        FamilyShareSampler(Always("nn"), {"nn": 1.5}, families=FAMILIES)
    with pytest.raises(ValueError, match="more than 1"):
        FamilyShareSampler(Always("nn"), {"nn": 0.7, "gbdt": 0.6}, families=FAMILIES)
    sampler = FamilyShareSampler(Always("nn"), {"nn": 0.5, "tree": 0.2}, families=("gbdt", "nn"))
    assert sampler.floors == {"nn": 0.5}


def test_floors_are_a_sampler_stage_s_choice_and_not_the_default():
    timed = AutoNASClassifier(time_budget=5, random_state=0, verbose=0)._stages()
    assert isinstance(timed[0], SamplerStage) and isinstance(timed[1], PromoteStage)
    assert timed[0].family_floors is None  # measured: no gain (benchmarks/README.md)
    stage = SamplerStage("tpe", time_share=0.7, family_floors={"nn": 0.5})
    assert repr(stage) == (
        "SamplerStage('tpe', n_trials=None, time_share=0.7, family_floors={'nn': 0.5})"
    )
    with pytest.raises(ValueError, match="more than 1"):  # when the stage is made, not in fit
        SamplerStage("tpe", family_floors={"nn": 0.7, "gbdt": 0.6})


def test_a_timed_fit_gives_networks_their_floor_though_the_sampler_never_draws_them():
    X, y = make_classification(600, 8, n_informative=5, random_state=0)
    stage = SamplerStage(Always("gbdt"), family_floors={"nn": 0.5})
    clf = AutoNASClassifier(time_budget=8, random_state=0, verbose=0, cv=None,
                            stages=[stage]).fit(X, y)
    sampled = [t for t in clf.study_.trials if t.user_attrs.get("stage") == "Always"]
    assert {t.params["family"] for t in sampled} == {"gbdt", "nn"}
    seconds = family_seconds(clf.study_)
    share = seconds["nn"] / sum(seconds.values())
    assert share >= 0.4, (share, seconds)  # 0.5, less the last network trial cut short
