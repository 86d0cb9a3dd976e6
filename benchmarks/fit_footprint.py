"""What one default ``fit`` uses: trials per budget, first trial's share, time, peak memory.

For one or more commits of the library (issue 14's must-shows 3 and 5):

    python benchmarks/fit_footprint.py --data ../shared/data                      # HEAD, seed 0
    python benchmarks/fit_footprint.py --data ../shared/data --refs 08f4c10 HEAD --seeds 0 1 2

Cases (a 25 % test split is held out of each, stratified, at the seed):

- ``phoneme``: PMLB's 5,404 rows (4,053 to train on), 5 numeric columns: "a 5k-row table";
- ``connect_4``: PMLB's 67,557 rows (50,667 to train on), 42 columns: "a 50k-row table";
- ``200k x 50``: 266,667 x 50 float64 with 5 % NaN (200,000 to train on), binary target;
- ``50k x 2,000``: 66,667 x 2,000 float64 (50,000 to train on), binary target;
- by name only (``--cases``), the same shapes at other sizes, to see how the peak grows with
  the rows: ``50k x 50`` and ``800k x 50`` (5 % NaN); ``200k x 50, no NaN`` and
  ``800k x 50, no NaN`` (the same rows without missing values, so without indicator columns);
  ``25k x 2,000`` and ``100k x 2,000``; ``50k x 2,000, 5 % NaN`` (a wide table with missing
  values in every column);
- by name only, each synthetic shape's columns with 2,000 training rows (``2k x 50``,
  ``2k x 50, no NaN``, ``2k x 2,000``, ``2k x 2,000, 5 % NaN``): what the same search adds when the data is small, that
  is the trials' working memory (activations, optimizer state, boosting buffers, two trials at
  once on 2 cores), which does not grow with the rows. Run beside the large case at the same
  seeds, it gives a second check: peak at most 2 x float32 + models + the small case's peak.

Each fit is ``AutoNASClassifier(time_budget=B, random_state=seed)`` with every other
parameter at its default (threads, ``n_jobs`` unless ``--n-jobs``, the families unless
``--families``, the space, the portfolio),
in a fresh interpreter whose ``automl_nas`` is the commit named by ``--refs`` (``git archive``
into a temporary folder put first on ``PYTHONPATH``; ``worktree`` is the checkout as it is).
Per fit: ``fit`` wall seconds; trials finished, complete, pruned and failed; the first trial's
seconds (its ``duration`` in the study) and share of the budget; the peak RSS that ``fit`` adds
above the RSS before it (data built, the library and torch imported; the kernel's peak reset
first, so Linux only), against the training rows' float32 size and the pickled estimator's
size (the models it keeps); the test balanced accuracy; the 1-minute load before the fit.

The issue's bars, checked in the report: at least 20 complete trials per 30 s on the 5k-row
table and 5 on the 50k-row one (2 cores); the first trial at most 10 % of the budget on
5k-50k rows; peak memory at most twice the float32 input plus the models (and, where the
2,000-row case of the same columns ran at the same seed, plus that case's peak).
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from harness import (
    add_data_option,
    command,
    data_dir,
    holdout_split,
    load1,
    load_table,
    machine,
    markdown_table,
    peak_rss_of,
    result_path,
    row_in_own_process,
    snapshot,
    write_csv,
    write_text,
)

#: case: (PMLB table, None) or (None, (training rows, columns, share of NaN))
CASES: dict[str, tuple[str | None, tuple[int, int, float] | None]] = {
    "phoneme": ("phoneme", None),
    "connect_4": ("connect_4", None),
    "200k x 50": (None, (200_000, 50, 0.05)),
    "50k x 2,000": (None, (50_000, 2_000, 0.0)),
    "50k x 50": (None, (50_000, 50, 0.05)),
    "800k x 50": (None, (800_000, 50, 0.05)),
    "200k x 50, no NaN": (None, (200_000, 50, 0.0)),
    "800k x 50, no NaN": (None, (800_000, 50, 0.0)),
    "25k x 2,000": (None, (25_000, 2_000, 0.0)),
    "100k x 2,000": (None, (100_000, 2_000, 0.0)),
    "2k x 50": (None, (2_000, 50, 0.05)),
    "2k x 50, no NaN": (None, (2_000, 50, 0.0)),
    "2k x 2,000": (None, (2_000, 2_000, 0.0)),
    "50k x 2,000, 5 % NaN": (None, (50_000, 2_000, 0.05)),
    "2k x 2,000, 5 % NaN": (None, (2_000, 2_000, 0.05)),
}
#: the 2,000-row case of each synthetic case's columns and missing values (its working memory)
SMALL: dict[str, str] = {
    case: small
    for case, (_, shape) in CASES.items() if shape is not None and shape[0] > 2_000
    for small, (_, like) in CASES.items() if like == (2_000, *shape[1:])
}
#: the cases run unless ``--cases`` names others
DEFAULT_CASES = ("phoneme", "connect_4", "200k x 50", "50k x 2,000")
#: complete trials per budget the issue asks for, by case (at 30 s on 2 cores)
TRIALS_BAR = {"phoneme": 20, "connect_4": 5}
FIRST_TRIAL_SHARE_BAR = 0.10
MIB = 2**20


def synthetic(
    train_rows: int, columns: int, nan: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``train_rows / 0.75`` rows of standard normal columns, ``nan`` of them missing, and a
    binary target from the first ten columns plus noise (learnable, not trivial)."""
    rng = np.random.default_rng(seed)
    rows = round(train_rows / 0.75)
    X = rng.normal(size=(rows, columns))
    weights = rng.normal(size=min(10, columns))
    y = (X[:, : len(weights)] @ weights + rng.normal(size=rows) > 0).astype(np.int64)
    if nan:
        X[rng.random(X.shape) < nan] = np.nan
    return X, y


def one_fit(case: str, seed: int, budget: float, data: Path, chosen: dict) -> dict:
    """One fit, default but for the ``chosen`` estimator parameters, in this process; its row."""
    from optuna.trial import TrialState
    from sklearn.metrics import balanced_accuracy_score

    import automl_nas
    from automl_nas import AutoNASClassifier

    name, shape = CASES[case]
    if name is not None:
        X, y, _ = load_table(name, data)
    else:
        X, y = synthetic(*shape, seed=0)
    X_tr, X_te, y_tr, y_te = holdout_split(X, y, classification=True, seed=seed)
    del X, y
    est = AutoNASClassifier(time_budget=budget, random_state=seed, **chosen)
    load = load1()
    started = time.monotonic()
    peak, _ = peak_rss_of(lambda: est.fit(X_tr, y_tr))
    peak_mib = peak / MIB
    fit_s = time.monotonic() - started
    trials = est.study_.trials
    states = [t.state for t in trials]
    first = min(trials, key=lambda t: t.number)
    first_s = first.duration.total_seconds() if first.duration is not None else float("nan")
    x32_mib = X_tr.shape[0] * X_tr.shape[1] * 4 / MIB
    model_mib = len(pickle.dumps(est)) / MIB
    return {
        "case": case,
        "library": str(Path(automl_nas.__file__).parent.parent),
        "seed": seed,
        "budget_s": budget,
        "n_jobs": chosen.get("n_jobs", "default"),
        "families": "+".join(chosen.get("families", ["default"])),
        "train_rows": X_tr.shape[0],
        "columns": X_tr.shape[1],
        "fit_s": round(fit_s, 2),
        "finished": sum(s.is_finished() for s in states),
        "complete": states.count(TrialState.COMPLETE),
        "pruned": states.count(TrialState.PRUNED),
        "failed": states.count(TrialState.FAIL),
        "first_trial_s": round(first_s, 2),
        "first_trial_share": round(first_s / budget, 3),
        "peak_mib": round(peak_mib, 1),
        "x_float32_mib": round(x32_mib, 1),
        "model_mib": round(model_mib, 1),
        "peak_bound_mib": round(2 * x32_mib + model_mib, 1),
        "balanced_accuracy": round(balanced_accuracy_score(y_te, est.predict(X_te)), 4),
        "load1_before": load,
    }


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def report(rows: list[dict], budget: float, loads: tuple[float, float]) -> list[str]:
    """The summary table (medians over seeds per ref and case) and the issue's bars."""
    lines = [
        f"# What one default {budget:.0f} s fit uses: trials, first trial, peak memory",
        "",
        f"Machine: {machine().summary()}.",
        "",
        f"Command: `{command(__file__)}`. 1-minute load {loads[0]:.2f} before, {loads[1]:.2f} "
        "after. Medians over the seeds (each fit a fresh process, its own test split); "
        "per-fit rows in the CSV. Peak: the RSS `fit` added above the RSS before it; bound: "
        "2 x the training rows as float32 + the pickled estimator.",
        "",
    ]
    table, checks = [], []
    frame = pd.DataFrame(rows)
    for (ref, case, n_jobs, families), group in frame.groupby(
        ["ref", "case", "n_jobs", "families"], sort=False
    ):
        runs = group.to_dict("records")
        cells = [
            ref, case, n_jobs, families,
            f"{runs[0]['train_rows']:,} x {runs[0]['columns']:,}", len(runs),
            f"{_median(runs, 'fit_s'):.1f}", f"{_median(runs, 'complete'):g}",
            f"{_median(runs, 'pruned'):g}", f"{_median(runs, 'failed'):g}",
            f"{_median(runs, 'first_trial_s'):.2f} ({_median(runs, 'first_trial_share'):.0%})",
            f"{_median(runs, 'peak_mib'):.0f}", f"{_median(runs, 'peak_bound_mib'):.0f}",
            f"{_median(runs, 'peak_mib') / _median(runs, 'x_float32_mib'):.2f}",
            f"{_median(runs, 'balanced_accuracy'):.4f}",
        ]
        table.append(cells)
        chosen = [f"{k}={v}" for k, v in (("n_jobs", n_jobs), ("families", families))
                  if v != "default"]
        label = ", ".join([ref, case, *chosen])
        least = int(group["complete"].min())
        if case in TRIALS_BAR:
            bar = TRIALS_BAR[case]
            checks.append(f"- {label}: complete trials {least}-{int(group['complete'].max())}"
                          f" (bar {bar} per 30 s): {'met' if least >= bar else 'NOT met'}")
        over = group[group["peak_mib"] > group["peak_bound_mib"]]
        checks.append(f"- {label}: peak within 2 x float32 + models on "
                      f"{len(group) - len(over)} of {len(group)} fits")
        small = frame[(frame["ref"] == ref) & (frame["case"] == SMALL.get(case))
                      & (frame["n_jobs"] == n_jobs) & (frame["families"] == families)]
        if len(small):
            work = small.set_index("seed")["peak_mib"]
            paired = group[group["seed"].isin(work.index)]
            bound = paired["peak_bound_mib"] + work.loc[paired["seed"]].to_numpy()
            within = int((paired["peak_mib"] <= bound).sum())
            checks.append(
                f"- {label}: peak within 2 x float32 + models + the {SMALL[case]} fit's peak "
                f"at the same seed on {within} of {len(paired)} fits (peak - that bound, MiB: "
                + ", ".join(f"{d:+.0f}" for d in paired["peak_mib"] - bound) + ")"
            )
        share = group["first_trial_share"].max()
        checks.append(f"- {label}: first trial at most {share:.0%} of the budget "
                      f"(bar {FIRST_TRIAL_SHARE_BAR:.0%})")
    header = ["ref", "case", "n_jobs", "families", "train rows x columns", "fits", "fit s",
              "complete", "pruned", "failed", "first trial s (share)", "peak MiB", "bound MiB",
              "peak / float32 X", "balanced accuracy"]
    return [*lines, *markdown_table(header, table), "", *checks]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_one":
        case, seed, budget, data, chosen = sys.argv[2:7]
        print(json.dumps(one_fit(case, int(seed), float(budget), Path(data), json.loads(chosen))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refs", nargs="+", default=["HEAD"],
                        help="commits of automl_nas to run ('worktree': the checkout as it is)")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(DEFAULT_CASES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="the estimator's n_jobs (default: its own default, None)")
    parser.add_argument("--families", nargs="+", default=None,
                        help="the estimator's families (default: its own default, all)")
    add_data_option(parser)
    parser.add_argument("--out", default=str(result_path("fit_footprint")),
                        help="prefix of the .csv and .md outputs")
    args = parser.parse_args()
    data = data_dir(args.data)
    rows, load_before = [], load1()
    chosen = {}  # an older commit may not take n_jobs=None or families
    if args.n_jobs is not None:
        chosen["n_jobs"] = args.n_jobs
    if args.families is not None:
        chosen["families"] = args.families
    with tempfile.TemporaryDirectory() as tmp:
        for i, ref in enumerate(args.refs):
            library = None
            if ref != "worktree":
                library = Path(tmp) / f"ref{i}"
                label = snapshot(ref, library)
                print(label, flush=True)
            for case in args.cases:
                for seed in args.seeds:
                    fit = row_in_own_process(__file__, case, str(seed), str(args.budget),
                                             str(data), json.dumps(chosen), library=library)
                    row = {"ref": ref, **fit}
                    print(json.dumps(row), flush=True)
                    write_csv(Path(f"{args.out}.csv"), [row], append=bool(rows))  # as it goes
                    rows.append(row)
    print(write_text(f"{args.out}.md", report(rows, args.budget, (load_before, load1()))))


if __name__ == "__main__":
    main()
