"""The refit after a trial-per-core search: members one at a time against side by side.

With ``n_jobs=None`` on CPU a time-budgeted search trains one single-threaded trial per core;
with ``refit="auto"`` (holdout data of at most 10,000 rows) the ensemble's members are then
retrained on train + validation rows in the budget's last 15 %. Until the members were refitted
side by side (as many at once as the search trained trials) they were refitted one at a time,
each on one thread, so all cores but one idled, and a member whose refit would not end in the
share kept its searched network. On each table, each fit in its own process, one after the
other, the default estimator at ``--budget`` seconds and ``random_state=seed``:

- ``one_at_a_time``: the members refitted one after the other (as before);
- ``side_by_side``: the default.

The two searches are not the same trials (a time-budgeted search does not repeat); what is
compared is the refit: its seconds, members refitted of the ensemble's, and the test score
(balanced accuracy / R^2), with ``fit()`` seconds, the machine and load.

    python benchmarks/refit.py --data ../shared/data --tables churn spambase satimage 227_cpu_small --budget 30 --out benchmarks/results/refit
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pandas as pd
from harness import add_data_option, data_dir, holdout_split, load1, load_table, machine, row_in_own_process, write_csv, write_json

MODES = ("one_at_a_time", "side_by_side")


def time_refits(one_at_a_time: bool) -> list[dict]:
    """Times the ensemble's refit of every ``fit`` in this process; the list fills as they run.

    ``one_at_a_time`` refits the members one after the other (``at_once=1``) whatever the
    search ran side by side; each refit depends on its trial's seed alone, so only the seconds
    change, not the refitted networks.
    """
    import automl_nas.estimator._base as estimator_base

    refit_members = estimator_base.BaseAutoNAS._refit_members
    refits = []

    def timed(self, entries, members, objective, deadline, at_once=1):
        """The refit as fit calls it (or one member at a time), timed."""
        at_once = 1 if one_at_a_time else at_once
        started = time.perf_counter()
        result = refit_members(self, entries, members, objective, deadline, at_once)
        refits.append({"refit_s": time.perf_counter() - started, "at_once": at_once})
        return result

    estimator_base.BaseAutoNAS._refit_members = timed
    return refits


def run_one(table: str, mode: str, budget: float, seed: int, data: str) -> dict:
    """One fit in this process; its row."""
    from optuna.trial import TrialState
    from sklearn.metrics import balanced_accuracy_score, r2_score

    from automl_nas import AutoNASClassifier, AutoNASRegressor

    refits = time_refits(one_at_a_time=mode == "one_at_a_time")
    X, y, task = load_table(table, data_dir(data))
    classification = task == "classification"
    X_train, X_test, y_train, y_test = holdout_split(X, y, classification=classification, seed=seed)
    estimator = AutoNASClassifier if classification else AutoNASRegressor
    load_before = load1()
    started = time.perf_counter()
    model = estimator(time_budget=budget, random_state=seed, verbose=0).fit(X_train, y_train)
    fit_s = time.perf_counter() - started
    score = balanced_accuracy_score if classification else r2_score
    trials = model.study_.trials
    refit = refits[0] if refits else {"refit_s": 0.0, "at_once": 0}
    return {
        "table": table,
        "rows": len(y_train),
        "mode": mode,
        "seed": seed,
        "budget": budget,
        "fit_s": round(fit_s, 1),
        "refit_s": round(refit["refit_s"], 2),
        "at_once": refit["at_once"],
        "members": len(model.ensemble_weights_),
        "refitted": len(model.refitted_),
        "complete": sum(t.state == TrialState.COMPLETE for t in trials),
        "test_score": round(float(score(y_test, model.predict(X_test))), 4),
        "load1_before": load_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", default=["churn", "spambase", "satimage", "227_cpu_small"])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", default="benchmarks/results/refit")
    add_data_option(parser)
    if len(sys.argv) > 1 and sys.argv[1] == "_one":
        table, mode, budget, seed, data = sys.argv[2:7]
        print(json.dumps(run_one(table, mode, float(budget), int(seed), data)))
        return
    args = parser.parse_args()
    data = str(data_dir(args.data))
    rows = []
    for seed in args.seeds:
        for table in args.tables:
            for mode in MODES:
                rows.append(row_in_own_process(__file__, table, mode, str(args.budget), str(seed), data))
                print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    summary = {
        mode: {
            "refit_s_median": float(part["refit_s"].median()),
            "refitted_of_members": f"{int(part['refitted'].sum())}/{int(part['members'].sum())}",
            "fit_s_max": float(part["fit_s"].max()),
        }
        for mode, part in frame.groupby("mode", sort=False)
    }
    print(json.dumps(summary, indent=1))
    write_csv(f"{args.out}.csv", rows)
    write_json(f"{args.out}.json", {**machine().as_dict(), "budget": args.budget, "seeds": args.seeds,
                                    "summary": summary, "load1_end": load1()})
    print(f"wrote {args.out}.csv and {args.out}.json")


if __name__ == "__main__":
    main()
