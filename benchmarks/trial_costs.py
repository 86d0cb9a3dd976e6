"""Where a short budget goes on 1-8k-row tables: the cost of every trial of one search.

    python benchmarks/trial_costs.py [--budget 30] [--datasets phoneme car 197_cpu_act 503_wind]

The head-to-head (``head_to_head.py``) found that a 30 s search on these tables runs only a few
trials. This runs one default search per dataset (75/25 split, ``random_state=0``, one torch
thread, PMLB tables from ../shared/data) and writes every trial's stage, state, training
seconds, epochs trained (over all folds), best epoch, why it stopped and its sampled size and
schedule parameters (``param_*``) to
``results_trial_costs.csv``, and a per-dataset summary (trials, the default first trial's share
of the budget, median trial seconds, seconds spent in trials the deadline cut) to
``results_trial_costs.md``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from _provenance import cpu_model, package_version
from automl_nas import AutoNASClassifier, AutoNASRegressor

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "pmlb"


def trial_rows(name: str, budget: float) -> tuple[list[dict], dict]:
    """One search on ``name``: a row per trial and the search's summary."""
    frame = pd.read_csv(DATA / f"{name}.tsv.gz", sep="\t")
    X, y = frame.drop(columns="target"), frame["target"]
    regression = y.nunique() > 20
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=None if regression else y
    )
    Estimator = AutoNASRegressor if regression else AutoNASClassifier
    est = Estimator(time_budget=budget, random_state=0)
    started = time.monotonic()
    est.fit(X_tr, y_tr)
    wall = time.monotonic() - started
    rows = []
    for t in est.study_.trials:
        attrs = t.user_attrs
        rows.append({
            "dataset": name,
            "trial": t.number,
            "stage": attrs.get("stage"),
            "state": t.state.name,
            "value": t.value,
            "train_seconds": round(attrs.get("train_seconds", np.nan), 2),
            "epochs_trained": attrs.get("epochs", len(attrs.get("history") or [])),
            "best_epoch": attrs.get("best_epoch"),
            "stopped_by": attrs.get("stopped_by"),
            **{
                f"param_{k}": t.params.get(k)
                for k in ("n_layers", "units_0", "batch_size", "epochs", "lr")
            },
        })
    trials = pd.DataFrame(rows)
    summary = {
        "dataset": name,
        "train_rows": len(X_tr),
        "fit_s": round(wall, 1),
        "trials": len(rows),
        "complete": int((trials["state"] == "COMPLETE").sum()),
        "first_trial_s": trials["train_seconds"].iloc[0],
        "first_trial_share": round(trials["train_seconds"].iloc[0] / budget, 2),
        "median_trial_s": round(float(trials["train_seconds"].median()), 2),
        "deadline_cut_s": round(
            float(trials.loc[trials["stopped_by"] == "time_budget", "train_seconds"].sum()), 2
        ),
        "test_score": round(est.score(X_te, y_te), 4),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    return rows, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument(
        "--datasets", nargs="+", default=["phoneme", "car", "197_cpu_act", "503_wind"]
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows, summaries = [], []
    for name in args.datasets:
        trials, summary = trial_rows(name, args.budget)
        print(summary, flush=True)
        rows += trials
        summaries.append(summary)
    pd.DataFrame(rows).to_csv(HERE / "results_trial_costs.csv", index=False)
    header = (
        f"# Trial costs of one {args.budget:.0f} s search per dataset\n\n"
        f"{cpu_model()}, {os.cpu_count()} cores, one torch thread, automl_nas "
        f"{package_version()}, {time.strftime('%Y-%m-%d')}. Per-trial rows: "
        f"`results_trial_costs.csv`.\n\n"
    )
    columns = list(summaries[0])
    table = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(str(s[c]) for c in columns) + " |" for s in summaries),
    ]
    (HERE / "results_trial_costs.md").write_text(header + "\n".join(table) + "\n")


if __name__ == "__main__":
    main()
