"""trials_frame: one table of a search's trials, its cells as the trials' networks read them."""

from __future__ import annotations

import optuna
import pandas as pd
import pytest

from automl_nas.search import trial_counts, trials_frame
from automl_nas.space import FamilySpace, LinearSpace, MLPSpace, TabularSpace


def _study(space, configurations: list[dict]) -> optuna.Study:
    """An in-memory study holding one complete trial per configuration, scores 0, 1, ..."""
    study = optuna.create_study(direction="maximize")
    dists = space.distributions
    for score, params in enumerate(configurations):
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions={name: dists[name] for name in params},
                value=float(score),
            )
        )
    return study


def test_widths_of_absent_layers_are_empty_cells_and_the_trials_keep_them():
    space = MLPSpace(max_layers=3)
    shallow = {**space.default_params(), "n_layers": 1, "units_1": 64, "units_2": 32}
    deep = {**shallow, "n_layers": 3}
    study = _study(space, [shallow, deep])
    board = trials_frame(study, space=space).set_index("trial")
    assert pd.isna(board.loc[0, "units_1"]) and pd.isna(board.loc[0, "units_2"])
    assert board.loc[0, "units_0"] == shallow["units_0"]
    assert board.loc[1, ["units_1", "units_2"]].tolist() == [64, 32]
    assert str(board["units_2"].dtype) == "Int64"  # 32, not 32.0, beside an empty cell
    assert study.trials[0].params == shallow  # samplers still see what was sampled
    raw = trials_frame(study).set_index("trial")  # without the space: every sampled value
    assert raw.loc[0, "units_2"] == 32


def test_a_fixed_depth_still_hides_the_widths_it_does_not_use():
    space = MLPSpace(max_layers=2).replace(n_layers=1)
    study = _study(space, [{**space.default_params(), "units_1": 64}])
    assert pd.isna(trials_frame(study, space=space).loc[0, "units_1"])


@pytest.mark.parametrize("embedding", ["none", "periodic"])
def test_a_family_search_shows_only_the_chosen_familys_used_values(embedding):
    space = FamilySpace([TabularSpace(), LinearSpace()])
    network = {"family": "nn", **space.family_space("nn").default_params(), "embedding": embedding}
    linear = {"family": "linear", **space.family_space("linear").default_params()}
    board = trials_frame(_study(space, [network, linear]), space=space).set_index("trial")
    assert pd.isna(board.loc[1, "d_embedding"]) and pd.isna(board.loc[0, "linear_alpha"])
    assert pd.isna(board.loc[0, "d_embedding"]) == (embedding == "none")
    assert board.columns[board.columns.get_loc("best_epoch") + 1] == "family"


def test_trial_counts_add_up_to_the_study():
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(value=1.0))
    assert trial_counts(study) == "1 complete, 0 pruned, 0 failed"
    study.enqueue_trial({})  # a start configuration the budget never reached
    assert trial_counts(study) == "1 complete, 0 pruned, 0 failed, 1 not started"
