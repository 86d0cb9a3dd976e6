"""Issue 2's quality bar: a fixed CPU budget on digits, breast_cancer and diabetes.

Usage: python benchmarks/core_tabular.py [--time-budget 60] [--device auto] [--refit auto]
       [--cv auto] [--split-seeds 0 1 2] [--seeds 0 1 2] [--out benchmarks/results/core_tabular.csv]

Each dataset gets a stratified (classification) 75/25 split per ``--split-seeds`` value (the
issue's split is random_state=0) and one search of ``--time-budget`` seconds per estimator
``random_state`` in ``--seeds`` (one search's test score moves by a test row or two with the
seed, so a bar is judged on the mean over seeds and splits). The script prints test score, a
linear reference on the same split (LogisticRegression / RidgeCV), trials by state, wall time,
the machine's load, the mean seconds per training epoch, how trials were validated (holdout or
k-fold) and the automl_nas commit, appends one CSV row per search as it ends, and ends with the
mean test score per dataset against its bar. benchmarks/results/core_tabular_v1.csv and
core_tabular_v2.csv hold earlier rows (other columns: before the commit and validation columns;
v2 is the holdout-only estimator up to commit 4e79c0a).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import optuna
import torch
from harness import holdout_split, load1, machine, result_path, write_csv
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from automl_nas import AutoNASClassifier, AutoNASRegressor
from automl_nas.nn import FoldBag

DATASETS = {
    "digits": (load_digits, AutoNASClassifier, 0.975),
    "breast_cancer": (load_breast_cancer, AutoNASClassifier, 0.96),
    "diabetes": (load_diabetes, AutoNASRegressor, 0.42),
}


def seconds_per_epoch(study: optuna.Study) -> float:
    """Mean training seconds per epoch of one network, over finished trials.

    A cross-validated trial trains one network per fold: its ``epochs`` attribute counts them
    all; a pruned trial trained only its first fold, whose epochs are its ``history``.
    """
    secs, epochs = 0.0, 0
    for t in study.trials:
        if t.user_attrs.get("history"):
            secs += t.user_attrs["train_seconds"]
            epochs += t.user_attrs.get("epochs", len(t.user_attrs["history"]))
    return secs / max(epochs, 1)


def cv_option(text: str) -> str | int | None:
    """``--cv``: "auto", "none" (holdout) or a fold count; anything else is an argparse error."""
    if text.lower() in ("auto", "none"):
        return None if text.lower() == "none" else "auto"
    if text.isdigit() and int(text) >= 2:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected auto, none or a fold count >= 2, got {text!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument(
        "--refit", choices=["auto", "true", "false"], default="auto",
        help="the estimator's refit (default: its own default, auto)",
    )
    parser.add_argument(
        "--cv", type=cv_option, default="auto",
        help="the estimator's cv: auto (its default), none or a fold count",
    )
    parser.add_argument("--split-seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0],
                        help="the estimator's random_state, one search per value")
    parser.add_argument("--out", default=str(result_path("core_tabular.csv")))
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    where = machine()
    label = torch.cuda.get_device_name() if device.type == "cuda" else where.label()
    refit = {"auto": "auto", "true": True, "false": False}[args.refit]
    rows = []
    runs = [(n, s, r) for n in args.datasets for s in args.split_seeds for r in args.seeds]
    for name, split_seed, seed in runs:
        load, Estimator, target = DATASETS[name]
        X, y = load(return_X_y=True)
        stratify = y if Estimator is AutoNASClassifier else None
        X_tr, X_te, y_tr, y_te = holdout_split(
            X, y, classification=stratify is not None, seed=split_seed
        )
        linear = make_pipeline(
            StandardScaler(),
            LogisticRegression(max_iter=2000) if stratify is not None else RidgeCV(),
        ).fit(X_tr, y_tr)
        est = Estimator(
            time_budget=args.time_budget, random_state=seed, device=args.device, refit=refit,
            cv=args.cv,
        )
        start = time.monotonic()
        est.fit(X_tr, y_tr)
        wall = time.monotonic() - start
        states = [t.state.name for t in est.study_.trials]
        row = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": label,
            "device": device.type,
            "dataset": name,
            "metric": "accuracy" if stratify is not None else "r2",
            "split_seed": split_seed,
            "random_state": seed,
            "test_score": round(est.score(X_te, y_te), 4),
            "linear_reference": round(linear.score(X_te, y_te), 4),
            "target": target,
            "time_budget_s": args.time_budget,
            "refit": args.refit,
            "validation": (
                f"{len(est.best_model_.members)}-fold cv"
                if isinstance(est.best_model_, FoldBag) else "holdout"
            ),
            "fit_wall_s": round(wall, 2),
            "trials": len(states),
            "complete": states.count("COMPLETE"),
            "pruned": states.count("PRUNED"),
            "failed": states.count("FAIL"),
            "s_per_epoch": round(seconds_per_epoch(est.study_), 4),
            "load_1min": load1(),
            "commit": where.commit,
        }
        print(row, flush=True)
        rows.append(row)
        write_csv(args.out, [row], append=True)
    print(f"appended {len(rows)} rows to {args.out}")
    for name in args.datasets:
        scores = [r["test_score"] for r in rows if r["dataset"] == name]
        mean, target = float(np.mean(scores)), DATASETS[name][2]
        verdict = "meets" if mean >= target else "BELOW"
        print(f"{name}: mean test score {mean:.4f} over {len(scores)} searches, {verdict} {target}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
