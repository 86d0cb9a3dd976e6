"""DartsStage: the alphas move, the derived architecture is valid and trained, the guard acts.

Tiny data (400 digits, 4-channel one-cell supernets) so the whole file runs in seconds; the
Fashion-MNIST comparison with random cells is benchmarks/darts_fashion_mnist.py.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import optuna
import pytest
import torch
from optuna.trial import TrialState
from sklearn.datasets import load_digits

from automl_nas import AutoNASClassifier
from automl_nas.nn import SuperMLP, SuperNetwork
from automl_nas.search import MemoryTrialStore, TrialObjective
from automl_nas.space import CellSpace, MLPSpace, SearchSpace, training_distributions
from automl_nas.stages import SearchContext
from automl_nas.stages._darts import DartsStage, derive, entropy
from automl_nas.training import CLASSIFICATION_METRICS, TensorData, cpu_threads

OPS = ("conv_3x3", "sep_conv_3x3", "avg_pool_3x3", "skip", "zero")
CELL = CellSpace(ops=OPS).replace(channels=4, n_cells=1, epochs=3)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread, as ``fit`` trains: tiny convolutions gain nothing from more."""
    with cpu_threads(torch.device("cpu"), 1):
        yield


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    X = ((X - X.mean()) / X.std()).astype(np.float32)
    return X[:400], y[:400]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def make_context(space: SearchSpace, X, y, input_shape, seed: int = 0) -> SearchContext:
    """The context ``fit`` builds, on a 75/25 split, with the estimator's own objective."""
    cut = int(0.75 * len(X))
    data = TensorData(*(torch.as_tensor(a) for a in (X[:cut], y[:cut], X[cut:], y[cut:])))
    deadline = time.monotonic() + 120
    context = SearchContext(
        space=space,
        deadline=deadline,
        seed=seed,
        data=data,
        loss_fn=torch.nn.CrossEntropyLoss(),
        input_shape=input_shape,
        n_outputs=10,
        max_epochs=3,
    )
    context.objective = TrialObjective(
        context,
        y_folds=[y[cut:]],
        metric=CLASSIFICATION_METRICS["accuracy"],
        decode=softmax,
        patience=3,
        seed=seed,
        store=MemoryTrialStore(1, True),
    )
    return context


def run_stage(stage: DartsStage, space: SearchSpace, data, input_shape) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    stage.run(study, make_context(space, *data, input_shape), n_trials=None)
    return study


def in_space(space: SearchSpace, params: dict) -> bool:
    return all(
        dist._contains(dist.to_internal_repr(params[name]))
        for name, dist in space.distributions.items()
    )


class SkipBiased(DartsStage):
    """DARTS whose alphas start strongly in favour of ``skip``: the collapsed regime."""

    def _build_supernet(self, context):
        supernet = super()._build_supernet(context)
        with torch.no_grad():
            for name, alpha in supernet.alphas.items():
                alpha[list(supernet.decisions[name]).index("skip")] += 4.0
        return supernet


def test_alphas_move_and_entropy_falls(digits):
    stage = DartsStage(epochs=4, arch_lr=0.03, batch_size=32)
    run_stage(stage, CELL, digits, (1, 8, 8))
    entropies = [record["entropy"] for record in stage.history_]
    assert len(entropies) == 5 and entropies[0] == pytest.approx(np.log(len(OPS)), abs=1e-3)
    assert entropies[-1] < entropies[0] - 0.05, entropies
    assert sum(b < a for a, b in itertools.pairwise(entropies)) >= 3, entropies
    assert max(max(p) for p in stage.history_[-1]["probs"].values()) > 1.5 / len(OPS)


def test_derived_cell_is_a_valid_trial_trained_like_any_other(digits):
    stage = DartsStage(epochs=2, arch_lr=0.03, batch_size=32)
    study = run_stage(stage, CELL, digits, (1, 8, 8))
    (trial,) = study.trials
    assert trial.state == TrialState.COMPLETE and 0.0 <= trial.value <= 1.0
    assert trial.user_attrs["stage"] == "darts"
    assert trial.user_attrs["darts_entropy"] == [round(r["entropy"], 5) for r in stage.history_]
    assert trial.user_attrs["history"] and trial.user_attrs["n_params"] > 0
    assert in_space(CELL, trial.params)
    assert sorted(stage.params_) == [f"op_{e}" for e in range(6)]
    assert {k: trial.params[k] for k in stage.params_} == stage.params_
    assert "zero" not in stage.params_.values()
    defaults = CELL.default_params()
    assert all(trial.params[k] == defaults[k] for k in defaults if k not in stage.params_)


def test_tabular_supernet_derives_an_mlp_space_config(digits):
    space = MLPSpace(max_layers=2, max_units=64).replace(epochs=3)
    stage = DartsStage(epochs=3, arch_lr=0.03, batch_size=32)
    study = run_stage(stage, space, digits, (64,))
    (trial,) = study.trials
    assert trial.state == TrialState.COMPLETE and trial.user_attrs["stage"] == "darts"
    assert in_space(space, trial.params)
    assert set(stage.params_) == {"n_layers", "units_0", "units_1", "activation", "norm", "skip"}
    assert stage.history_[-1]["entropy"] < stage.history_[0]["entropy"]


def test_guard_stops_skip_collapse(digits):
    plain = SkipBiased(epochs=2, batch_size=32, max_skip=None)
    run_stage(plain, CELL, digits, (1, 8, 8))
    assert list(plain.params_.values()) == ["skip"] * 6  # unguarded DARTS collapses

    capped = SkipBiased(epochs=2, batch_size=32, max_skip=2, early_stop=False)
    study = run_stage(capped, CELL, digits, (1, 8, 8))
    assert list(capped.params_.values()).count("skip") == 2
    assert set(capped.params_.values()) - {"skip"} <= {"conv_3x3", "sep_conv_3x3"}
    assert len(study.trials[0].user_attrs["darts_capped"]) == 4

    stopped = SkipBiased(epochs=2, batch_size=32, max_skip=2)
    study = run_stage(stopped, CELL, digits, (1, 8, 8))
    assert study.trials[0].user_attrs["darts_stopped_by"] == "skip_dominance"
    assert len(stopped.history_) == 2  # the start and the first epoch, then it stopped
    assert list(stopped.params_.values()).count("skip") == 2


def test_derive_excludes_zero_and_caps_skips_by_confidence():
    decisions = {f"op_{e}": ("skip", "zero", "avg_pool_3x3", "conv_3x3") for e in range(3)}
    probs = {
        "op_0": [0.5, 0.3, 0.1, 0.1],
        "op_1": [0.3, 0.4, 0.2, 0.1],
        "op_2": [0.1, 0.8, 0.06, 0.04],
    }
    assert derive(probs, decisions) == ({"op_0": "skip", "op_1": "skip", "op_2": "skip"}, [])
    params, capped = derive(probs, decisions, max_skip=1)
    assert params == {"op_0": "skip", "op_1": "conv_3x3", "op_2": "conv_3x3"}
    assert capped == ["op_1", "op_2"]
    only_free = {"op_0": ("skip", "avg_pool_3x3")}
    assert derive({"op_0": [0.9, 0.1]}, only_free, max_skip=0)[0] == {"op_0": "avg_pool_3x3"}
    assert entropy({"a": [0.5, 0.5], "fixed": [1.0]}) == pytest.approx(np.log(2))


def test_same_seed_same_search(digits):
    runs = []
    for _ in range(2):
        stage = DartsStage(epochs=1, batch_size=32)
        run_stage(stage, CELL.replace(epochs=1), digits, (1, 8, 8))
        runs.append(stage.history_[-1]["probs"])
    assert runs[0] == runs[1]


def test_supernets_by_space_and_a_clear_error_otherwise():
    assert isinstance(CELL.relaxed((1, 8, 8), 10), SuperNetwork)
    mlp = MLPSpace(max_layers=3).replace(n_layers=(1, 2)).relaxed((5,), 2)
    assert isinstance(mlp, SuperMLP) and "units_2" not in mlp.decisions
    assert mlp.decisions["units_0"] == (16, 32, 64, 128, 256, 512)

    class Other(SearchSpace):
        def _defaults(self):
            return {}

        def build(self, params, input_shape, n_outputs):
            return torch.nn.Identity()

    with pytest.raises(TypeError, match="Other has no relaxed form.*use a sampler stage"):
        Other({}).relaxed((5,), 2)


def test_darts_asks_the_space_and_names_the_fix_for_one_without_a_relaxed_form(digits):
    """A family that implements ``build`` but not ``relaxed`` stops DartsStage before any trial."""

    class LinearSpace(SearchSpace):
        def _defaults(self):
            return {}

        def build(self, params, input_shape, n_outputs):
            return torch.nn.Linear(int(np.prod(input_shape)), n_outputs)

    study = optuna.create_study(direction="maximize")
    context = make_context(LinearSpace(training_distributions()), *digits, (64,))
    with pytest.raises(TypeError, match="LinearSpace has no relaxed form.*DartsStage"):
        DartsStage(epochs=1).run(study, context, n_trials=None)
    assert study.trials == []


def test_darts_inside_fit_on_digit_images(digits):
    X, y = digits
    clf = AutoNASClassifier(
        space=CELL,
        stages=[DartsStage(epochs=1, batch_size=32), "random"],
        n_trials=3,
        max_epochs=2,
        time_budget=60,
        random_state=0,
    ).fit(X.reshape(-1, 8, 8), y)
    stages = [t.user_attrs["stage"] for t in clf.study_.trials]
    assert stages[:2] == ["default", "darts"] and set(stages[2:]) == {"random"}
    darts = clf.study_.trials[1]
    assert darts.state == TrialState.COMPLETE and "darts_entropy" in darts.user_attrs
    assert clf.predict(X[:5].reshape(-1, 8, 8)).shape == (5,)
