"""FamilySpace: the model family as one more choice, each trial sampling its family's params."""

import logging

import optuna
import pytest

from automl_nas.nn import LinearModel, TabularNet, TreeEnsemble
from automl_nas.space import (
    FAMILIES,
    BoostingSpace,
    DataFacts,
    FamilySpace,
    LinearSpace,
    MLPSpace,
    TabularSpace,
    family_space,
)
from automl_nas.space._families import portfolio

FACTS = DataFacts(
    n_rows=4000, n_features=12, continuous=(0, 1, 2), task="classification", n_outputs=3
)


def test_each_trial_samples_only_its_familys_parameters():
    space = FamilySpace()
    own = {name: set(space.family_space(name).distributions) for name in FAMILIES}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        params = space.sample(trial)
        family = params.pop("family")
        seen.add(family)
        assert set(params) == own[family] | set(space.family_space(family).fixed)
        study.tell(trial, 0.0)
    assert seen == set(FAMILIES)
    assert set(space.distributions) == {"family"} | set().union(*own.values())


def test_builds_the_model_of_the_drawn_family():
    space = FamilySpace(portfolio=False).for_data(FACTS)
    models = [space.build(params, (12,), 3) for params in space.start_params()]
    assert [type(m) for m in models] == [TreeEnsemble, TabularNet, LinearModel]
    assert [p["family"] for p in space.start_params()] == list(FAMILIES)
    assert space.default_params() == space.start_params()[0]


def test_replace_routes_parameters_to_their_family_and_narrows_families():
    space = FamilySpace().replace(linear_alpha=0.1, gbdt_learning_rate=(0.05, 0.2), width=128)
    assert space.family_space("linear").fixed == {"linear_alpha": 0.1}
    assert space.distributions["gbdt_learning_rate"].high == 0.2
    assert space.family_space("nn").fixed["width"] == 128
    narrowed = space.replace(family=["gbdt", "linear"])
    assert narrowed.families == ("gbdt", "linear")
    assert "width" not in narrowed.distributions and "width" not in narrowed.fixed
    one = space.replace(family="linear")
    assert one.families == ("linear",) and one.fixed["family"] == "linear"
    assert one.start_params() == [{}]  # every parameter fixed
    assert one.sample(optuna.create_study().ask()) == {"family": "linear", "linear_alpha": 0.1}
    with pytest.raises(ValueError, match="no family has a parameter 'units_0'"):
        space.replace(units_0=64)
    with pytest.raises(ValueError, match="unknown family"):
        space.replace(family=["forest"])


def test_clashing_families_are_refused():
    with pytest.raises(ValueError, match="given twice"):
        FamilySpace([TabularSpace(), MLPSpace()])
    with pytest.raises(ValueError, match="parameter 'lr' of family 'gbdt' is also in family 'nn'"):
        FamilySpace([TabularSpace(), BoostingSpace().replace(lr=0.1)])


def test_for_data_adapts_each_family_and_drops_those_that_cannot_fit():
    space = FamilySpace().for_data(FACTS)
    assert space.family_space("nn").continuous == (0, 1, 2)  # TabularSpace sized to the data
    several_targets = DataFacts(
        n_rows=500, n_features=5, continuous=(0,), task="regression", n_outputs=2
    )
    assert FamilySpace().for_data(several_targets).families == ("nn", "linear")
    with pytest.raises(ValueError, match="none of the families"):
        FamilySpace([BoostingSpace()]).for_data(several_targets)
    assert FamilySpace([LinearSpace(), BoostingSpace()]).families == ("linear", "gbdt")


def test_the_shipped_portfolio_starts_the_search_and_holds_each_familys_default():
    entries = portfolio()
    assert entries and {e["family"] for e in entries} <= set(FAMILIES)
    space = FamilySpace().for_data(FACTS)
    starts = space.start_params()
    assert len(starts) == len(entries) + len(set(FAMILIES) - {e["family"] for e in entries})
    for entry, start in zip(entries, starts):  # every entry drawable by the default space
        assert {k: v for k, v in entry.items() if k in start} == {
            k: v for k, v in start.items() if k in entry
        }
    for family in {e["family"] for e in entries}:  # a family's default: its first entry
        first = next(e for e in entries if e["family"] == family)
        default = family_space(family).default_params()
        assert {k: default[k] for k in first if k in default} == {
            k: v for k, v in first.items() if k in default
        }
    assert FamilySpace(portfolio=False).start_params() == [
        {"family": name, **family_space(name).default_params()} for name in FAMILIES
    ]


def test_a_portfolio_entry_outside_a_narrowed_space_is_skipped_with_a_debug_message(caplog):
    gbdt = [e for e in portfolio() if e["family"] == "gbdt"]
    rate = gbdt[0]["gbdt_learning_rate"]
    narrowed = FamilySpace().replace(family=["gbdt"], gbdt_learning_rate=(rate * 1.01, 0.3))
    with caplog.at_level(logging.DEBUG, logger="automl_nas.space._families"):
        starts = narrowed.start_params()
    assert "skipped: gbdt_learning_rate=" in caplog.text
    assert all(s["gbdt_learning_rate"] > rate for s in starts)  # the default fills in if none left


def test_used_params_are_the_chosen_familys():
    space = FamilySpace([TabularSpace(), LinearSpace()])
    params = {"family": "nn", **space.family_space("nn").default_params(), "embedding": "none"}
    assert space.used_params(params) == set(params) - {"d_embedding"}
    shallow = FamilySpace([MLPSpace(max_layers=2)])
    params = {"family": "nn", **MLPSpace(max_layers=2).default_params(), "n_layers": 1}
    assert shallow.used_params(params) == set(params) - {"units_1"}
