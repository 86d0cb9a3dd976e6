"""Issue 5: the greedy ensemble vs the single best trial of the same search, and its memory.

Usage:
    nice python benchmarks/ensemble.py [--data DIR] [--time-budget 30]
        [--seeds 0 1 2] [--metrics accuracy log_loss] [--out benchmarks/results/ensemble.csv]
    nice python benchmarks/ensemble.py --memory [--memory-rows 50000] [--memory-candidates 20]
    python benchmarks/ensemble.py --summarize benchmarks/results/ensemble.csv

Quality: each PMLB classification table is subsampled (stratified, seed 0) to ``--max-rows``
rows, split 75/25 (stratified, seed 0, the same test rows for every search) and searched once per
seed and search metric with ``--time-budget`` seconds. Both contenders come from the SAME fit,
so they had the same search budget and trials: ``ensemble_`` (what ``predict`` uses) and
``best_model_`` (the best trial alone). One CSV row per (dataset, metric, seed) with test
balanced accuracy and log-loss of each; a markdown summary is printed.

Memory (``--memory``): a ``--memory-rows`` subsample of connect_4 (42 features, 3 classes), a
search of one-epoch trials whose ``--memory-candidates`` (20) best keep networks and validation
outputs; prints peak RSS (``resource.getrusage``) before and after the fit and the bytes the
candidates hold. Run it again with ``--memory-candidates 1`` (``ensemble_size=1``, one kept
model) for the baseline: peak RSS is per process, so each measurement needs its own run.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from harness import (
    add_data_option,
    data_dir,
    holdout_split,
    load_table,
    machine,
    markdown_table,
    result_path,
    write_csv,
)
from sklearn.metrics import balanced_accuracy_score, log_loss
from sklearn.model_selection import train_test_split

from automl_nas import AutoNASClassifier
from automl_nas.ensemble import greedy_ensemble
from automl_nas.search import predict_output
from automl_nas.training import CLASSIFICATION_METRICS

DATASETS = ["credit_g", "phoneme", "kr_vs_kp", "car", "churn", "banana"]


def load(data: Path, name: str, max_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    """A PMLB table as (features, target), stratified-subsampled to ``max_rows`` (seed 0)."""
    X, y, _ = load_table(name, data)
    X, y = X.to_numpy(dtype=np.float64), y.to_numpy()
    if max_rows is not None and len(y) > max_rows:
        X, _, y, _ = train_test_split(X, y, train_size=max_rows, stratify=y, random_state=0)
    return X, y


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def single_best_proba(clf: AutoNASClassifier, X: np.ndarray) -> np.ndarray:
    """Test probabilities of the best trial alone (the same fit's ``best_model_``), preprocessed
    and decoded as the ensemble's members are."""
    features = np.asarray(clf.preprocessor_.transform(X), dtype=np.float32)
    return clf.ensemble_.decode(predict_output(clf.best_model_, features))


def quality(args: argparse.Namespace) -> None:
    data, where = data_dir(args.data), machine()
    rows = []
    for name in args.datasets:
        X, y = load(data, name, args.max_rows)
        X_tr, X_te, y_tr, y_te = holdout_split(X, y, classification=True, seed=0)
        for metric in args.metrics:
            for seed in args.seeds:
                started = time.monotonic()
                clf = AutoNASClassifier(
                    metric=metric, time_budget=args.time_budget, random_state=seed
                ).fit(X_tr, y_tr)
                seconds = time.monotonic() - started
                board = clf.leaderboard()
                row = {
                    "dataset": name, "metric": metric, "seed": seed, "n_train": len(y_tr),
                    "n_test": len(y_te), "time_budget": args.time_budget,
                    "fit_seconds": round(seconds, 1), "n_trials": len(board),
                    "n_complete": int((board["state"] == "COMPLETE").sum()),
                    "n_members": len(clf.ensemble_weights_),
                    "best_weight": clf.ensemble_weights_.get(clf.best_trial_number_, 0.0),
                }
                labels = np.arange(len(clf.classes_))
                codes = np.searchsorted(clf.classes_, y_te)
                for kind, proba in (
                    ("single", single_best_proba(clf, X_te)), ("ensemble", clf.predict_proba(X_te))
                ):
                    row[f"{kind}_bal_acc"] = balanced_accuracy_score(codes, proba.argmax(1))
                    row[f"{kind}_log_loss"] = log_loss(codes, proba, labels=labels)
                rows.append(row)
                print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()},
                      flush=True)
                write_csv(args.out, rows)
    print(f"\n{where.summary()}; torch threads per trial: 1\n")
    print(summary(pd.DataFrame(rows)))


def summary(frame: pd.DataFrame) -> str:
    """Markdown: per dataset and search metric, mean over seeds, and ensemble wins/ties/losses."""
    lines = markdown_table(
        ["dataset", "search metric", "trials (complete)", "members", "bal. acc. single",
         "bal. acc. ensemble", "W/T/L", "log-loss single", "log-loss ensemble", "W/T/L"], []
    )
    groups = list(frame.groupby(["metric", "dataset"], sort=False))
    groups += [((metric, "mean"), g) for metric, g in frame.groupby("metric", sort=False)]
    groups.append((("all", "mean"), frame))
    for (metric, name), g in groups:
        ba = _wtl(g["ensemble_bal_acc"] - g["single_bal_acc"])
        ll = _wtl(g["single_log_loss"] - g["ensemble_log_loss"])
        lines.append(
            f"| {name} | {metric} | {g['n_trials'].mean():.1f} ({g['n_complete'].mean():.1f}) | "
            f"{g['n_members'].mean():.1f} | {g['single_bal_acc'].mean():.4f} | "
            f"{g['ensemble_bal_acc'].mean():.4f} | {ba} | {g['single_log_loss'].mean():.4f} | "
            f"{g['ensemble_log_loss'].mean():.4f} | {ll} |"
        )
    return "\n".join(lines)


def _wtl(gain: pd.Series) -> str:
    """Ensemble wins / ties / losses, from its gain over the single best (positive: better)."""
    return f"{(gain > 1e-12).sum()}/{(gain.abs() <= 1e-12).sum()}/{(gain < -1e-12).sum()}"


def memory(args: argparse.Namespace) -> None:
    X, y = load(data_dir(args.data), "connect_4", args.memory_rows)
    base = peak_rss_mib()
    started = time.monotonic()
    k = args.memory_candidates
    clf = AutoNASClassifier(
        metric="log_loss", ensemble_candidates=k, ensemble_size=20 if k > 1 else 1,
        n_trials=args.memory_trials, max_epochs=1, pruner="none",
        time_budget=args.time_budget * 10, random_state=0,
    ).fit(X, y)
    seconds = time.monotonic() - started
    peak = peak_rss_mib()
    board = clf.leaderboard()
    complete = board[board["state"] == "COMPLETE"].head(k)
    n_val = int(np.ceil(clf.validation_fraction * len(y)))
    model_mib = complete["n_params"].sum() * 4 / 2**20  # float32 weights while searching
    output_mib = len(complete) * n_val * len(clf.classes_) * 8 / 2**20
    # The selection itself at this size: K=20 candidates' validation outputs, 20 rounds.
    rng = np.random.default_rng(0)
    preds = rng.dirichlet(np.ones(3), size=(20, n_val))
    tic = time.perf_counter()
    greedy_ensemble(preds, rng.integers(0, 3, n_val), CLASSIFICATION_METRICS["log_loss"], 20)
    selection_seconds = time.perf_counter() - tic
    print(
        f"connect_4 {len(y)} rows x {X.shape[1]}: {len(board)} trials ({len(complete)} kept), "
        f"fit {seconds:.0f} s\n"
        f"peak RSS before fit {base:.0f} MiB, after fit {peak:.0f} MiB (+{peak - base:.0f} MiB)\n"
        f"kept networks {model_mib:.1f} MiB (largest {complete['n_params'].max() * 4 / 2**20:.1f} "
        f"MiB), validation outputs {output_mib:.1f} MiB ({n_val} rows)\n"
        f"greedy selection, 20 candidates x 20 rounds x {n_val} rows: {selection_seconds:.2f} s\n"
        f"ensemble members {len(clf.ensemble_weights_)}; {machine().summary()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_option(parser, "--data-dir")
    parser.add_argument("--datasets", nargs="+", default=DATASETS[:5])
    parser.add_argument("--metrics", nargs="+", default=["accuracy", "log_loss"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--time-budget", type=float, default=30.0)
    parser.add_argument("--max-rows", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=result_path("ensemble.csv"))
    parser.add_argument("--memory", action="store_true", help="measure memory instead")
    parser.add_argument("--summarize", type=Path, help="print the summary of a results CSV")
    parser.add_argument("--memory-rows", type=int, default=50_000)
    parser.add_argument("--memory-trials", type=int, default=24)
    parser.add_argument("--memory-candidates", type=int, default=20)
    args = parser.parse_args()
    if args.summarize:
        print(summary(pd.read_csv(args.summarize)))
    elif args.memory:
        memory(args)
    else:
        quality(args)


if __name__ == "__main__":
    main()
