"""Where a short budget goes on 1-8k-row tables: the cost of every trial of one search.

    python benchmarks/trial_costs.py [--budget 30] [--datasets phoneme car 197_cpu_act 503_wind]
        [--data DIR] [--out benchmarks/results/trial_costs]

The head-to-head (``head_to_head.py``) found that a 30 s search on these tables runs only a few
trials. This runs one default search per dataset (75/25 split, stratified for classification,
``random_state=0``, one torch thread, PMLB tables from ``--data``) and writes every trial's
stage, state, training seconds, epochs trained (over all folds), best epoch, why it stopped and
its sampled size and schedule parameters (``param_*``) to ``OUT.csv``, and a per-dataset summary
(trials, the default first trial's share of the budget, median trial seconds, seconds spent in
trials the deadline cut) to ``OUT.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from harness import (
    add_data_option,
    data_dir,
    holdout_split,
    load1,
    load_table,
    machine,
    markdown_table,
    result_path,
    write_text,
)

from automl_nas import AutoNASClassifier, AutoNASRegressor


def trial_rows(name: str, data: Path, budget: float) -> tuple[list[dict], dict]:
    """One search on ``name``: a row per trial and the search's summary."""
    X, y, task = load_table(name, data)
    regression = task == "regression"
    X_tr, X_te, y_tr, y_te = holdout_split(X, y, classification=not regression, seed=0)
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
        "load_1min": load1(),
    }
    return rows, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument(
        "--datasets", nargs="+", default=["phoneme", "car", "197_cpu_act", "503_wind"]
    )
    add_data_option(parser)
    parser.add_argument("--out", default=str(result_path("trial_costs")),
                        help="prefix of the .csv and .md outputs")
    args = parser.parse_args()
    data = data_dir(args.data)
    torch.set_num_threads(1)
    where = machine()
    rows, summaries = [], []
    for name in args.datasets:
        trials, summary = trial_rows(name, data, args.budget)
        print(summary, flush=True)
        rows += trials
        summaries.append(summary)
    csv_path = Path(f"{args.out}.csv")
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(csv_path, index=False)
    columns = list(summaries[0])
    write_text(f"{args.out}.md", [
        f"# Trial costs of one {args.budget:.0f} s search per dataset",
        "",
        f"{where.summary()}; one torch thread. Per-trial rows: `{csv_path.name}`.",
        "",
        *markdown_table(columns, ([s[c] for c in columns] for s in summaries)),
    ])


if __name__ == "__main__":
    main()
