"""Seeded searches of a fixed number of trials: waves of a trial per core against one at a time.

A search with ``random_state`` and ``n_trials`` repeats. With ``n_jobs=None`` it trains one
trial at a time on every core; with ``n_jobs`` > 1 it trains single-threaded trials side by side
in waves (``automl_nas.search.optimize_in_waves``): each wave's parameters drawn in trial order,
its trials told in trial order when the slowest ends. On each table, each run in its own
process, one after the other, the default search (every family) with ``n_trials``, epochs
capped by ``--max-epochs`` (each trial then takes seconds, not minutes, on 2 cores), one
holdout split (``cv=None``: the budget below would make ``cv="auto"`` cross-validate) and a
time budget too large to bind:

- ``serial``: ``n_jobs=1``, one trial at a time on every core (what ``n_jobs=None`` does);
- ``waves``: ``n_jobs=2``, twice, to check that the two runs hold the same trials (params,
  states, values) and the same test predictions;
- ``waves_refit_one_at_a_time`` (with ``--modes``): the same waves, the ensemble's members then
  refitted one after the other on one thread (as before 7be9dc8, instead of side by side);
  its trials and predictions must equal the waves runs', and its refit seconds compare
  member for member.

Reports ``fit()`` seconds, the refit's seconds within them and how many members it refitted
side by side, trials per minute of ``fit``, complete / pruned trials and the test score
(balanced accuracy / R^2), with the machine and load.

    python benchmarks/waves.py --data ../shared/data --tables churn spambase --n-trials 16 --max-epochs 20 --out benchmarks/results/waves
    python benchmarks/waves.py --data ../shared/data --tables churn spambase --modes waves waves_refit_one_at_a_time --out benchmarks/results/waves_refit
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time

import numpy as np
import pandas as pd
from harness import add_data_option, data_dir, holdout_split, load1, load_table, machine, row_in_own_process, write_csv, write_json
from refit import time_refits

MODES = {"serial": 1, "waves": 2, "waves_refit_one_at_a_time": 2}


def run_one(table: str, mode: str, n_trials: int, max_epochs: int, data: str) -> dict:
    """One fit in this process; its row."""
    from optuna.trial import TrialState
    from sklearn.metrics import balanced_accuracy_score, r2_score

    from automl_nas import AutoNASClassifier, AutoNASRegressor

    refits = time_refits(one_at_a_time=mode == "waves_refit_one_at_a_time")
    X, y, task = load_table(table, data_dir(data))
    classification = task == "classification"
    X_train, X_test, y_train, y_test = holdout_split(X, y, classification=classification, seed=0)
    estimator = AutoNASClassifier if classification else AutoNASRegressor
    load_before = load1()
    started = time.perf_counter()
    model = estimator(
        n_trials=n_trials, max_epochs=max_epochs, time_budget=3600, cv=None, random_state=0,
        n_jobs=MODES[mode], verbose=0,
    ).fit(X_train, y_train)
    fit_s = time.perf_counter() - started
    trials = model.study_.trials
    predicted = model.predict(X_test)
    score = balanced_accuracy_score if classification else r2_score
    record = [(t.params, t.state.name, t.values) for t in trials]
    return {
        "table": table,
        "rows": len(y_train),
        "mode": mode,
        "n_jobs": MODES[mode],
        "max_epochs": max_epochs,
        "fit_s": round(fit_s, 1),
        "refit_s": round(sum(r["refit_s"] for r in refits), 2),
        "refit_at_once": refits[0]["at_once"] if refits else 0,
        "members": len(model.ensemble_weights_),
        "refitted": len(model.refitted_),
        "trials": len(trials),
        "trials_per_min": round(60 * len(trials) / fit_s, 1),
        "complete": sum(t.state == TrialState.COMPLETE for t in trials),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "test_score": round(float(score(y_test, predicted)), 4),
        "trials_sha": hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:12],
        "predictions_sha": hashlib.sha256(np.ascontiguousarray(predicted).tobytes()).hexdigest()[:12],
        "load1_before": load_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", default=["churn", "spambase"])
    parser.add_argument("--n-trials", type=int, default=16)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=["serial", "waves", "waves"],
                        help="runs on each table, in this order (a mode may repeat)")
    parser.add_argument("--out", default="benchmarks/results/waves")
    add_data_option(parser)
    if len(sys.argv) > 1 and sys.argv[1] == "_one":
        table, mode, n_trials, max_epochs, data = sys.argv[2:7]
        print(json.dumps(run_one(table, mode, int(n_trials), int(max_epochs), data)))
        return
    args = parser.parse_args()
    data = str(data_dir(args.data))
    rows = []
    for table in args.tables:
        for mode in args.modes:
            rows.append(row_in_own_process(__file__, table, mode, str(args.n_trials), str(args.max_epochs), data))
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    summary = {}
    for table, part in frame.groupby("table", sort=False):
        serial, waves = part[part["mode"] == "serial"], part[part["mode"].str.startswith("waves")]
        summary[table] = {  # every waves run must hold the same trials and predictions
            "waves_repeat": bool(waves["trials_sha"].nunique() == 1 and waves["predictions_sha"].nunique() == 1)
            if len(waves) > 1 else None,
            "refit_s": {mode: float(runs["refit_s"].mean()) for mode, runs in part.groupby("mode", sort=False)},
        }
        plain = part[part["mode"] == "waves"]  # the speed-up is of the default refit, not the one-at-a-time one
        if len(serial) and len(plain):
            summary[table]["speedup_fit_s"] = round(float(serial["fit_s"].iloc[0] / plain["fit_s"].mean()), 2)
    print(json.dumps(summary, indent=1))
    write_csv(f"{args.out}.csv", rows)
    write_json(f"{args.out}.json", {**machine().as_dict(), "n_trials": args.n_trials,
                                    "max_epochs": args.max_epochs,
                                    "modes": args.modes, "summary": summary, "load1_end": load1()})
    print(f"wrote {args.out}.csv and {args.out}.json")


if __name__ == "__main__":
    main()
