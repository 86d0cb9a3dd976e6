"""Tables with missing values: a default ``fit``'s test scores, trials and peak memory, by commit.

    python benchmarks/missing_values.py --data ../shared/data --refs 16661bf e360994 --seeds 0 1

PMLB has no missing values, so the head-to-head says nothing about how the search handles
them. Here each table (``--tables``, numeric PMLB tables; default six of the tuning tables:
four classification, two regression) gets ``--nan`` of its feature values (default 10 %)
replaced by NaN, completely at random (the same cells for every commit: the generator is
seeded by the table's name and the seed), in the training and the test rows alike. Each fit is
``AutoNASClassifier`` / ``AutoNASRegressor(time_budget=B, random_state=seed)``, every other
parameter at its default, in a fresh interpreter whose ``automl_nas`` is the commit named by
``--refs`` (as ``fit_footprint.py``).

Per fit: test balanced accuracy and log loss (classification) or R^2 and RMSE (regression);
``fit`` seconds; trials finished and complete; the peak RSS ``fit`` added above the RSS before
it; the 1-minute load before the fit. The report lists the mean score per table and commit and
the commits' differences.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from harness import (
    TUNING_TABLES,
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

#: the tables run unless ``--tables`` names others
DEFAULT_TABLES = ("churn", "spambase", "satimage", "twonorm", "227_cpu_small", "537_houses")
MIB = 2**20


def with_missing(X, share: float, name: str, seed: int):
    """``X`` as floats with ``share`` of its cells NaN, drawn from the table's name and seed."""
    rng = np.random.default_rng([zlib.crc32(name.encode()), seed])
    X = X.astype(float)
    return X.mask(rng.random(X.shape) < share)


def one_fit(name: str, seed: int, budget: float, share: float, data: Path) -> dict:
    """One default fit on ``name`` with missing values, in this process; its row."""
    from optuna.trial import TrialState
    from sklearn.metrics import balanced_accuracy_score, log_loss, mean_squared_error, r2_score

    import automl_nas
    from automl_nas import AutoNASClassifier, AutoNASRegressor

    X, y, task = load_table(name, data)
    classification = task == "classification"
    X = with_missing(X, share, name, seed)
    X_tr, X_te, y_tr, y_te = holdout_split(X, y, classification=classification, seed=seed)
    kind = AutoNASClassifier if classification else AutoNASRegressor
    est = kind(time_budget=budget, random_state=seed, verbose=0)
    load = load1()
    started = time.monotonic()
    peak, _ = peak_rss_of(lambda: est.fit(X_tr, y_tr))
    fit_s = time.monotonic() - started
    if classification:
        score = balanced_accuracy_score(y_te, est.predict(X_te))
        secondary = log_loss(y_te, est.predict_proba(X_te), labels=est.classes_)
    else:
        predicted = est.predict(X_te)
        score = r2_score(y_te, predicted)
        secondary = float(np.sqrt(mean_squared_error(y_te, predicted)))
    states = [t.state for t in est.study_.trials]
    return {
        "table": name,
        "task": task,
        "library": str(Path(automl_nas.__file__).parent.parent),
        "seed": seed,
        "budget_s": budget,
        "nan_share": share,
        "train_rows": X_tr.shape[0],
        "columns": X_tr.shape[1],
        "fit_s": round(fit_s, 2),
        "finished": sum(s.is_finished() for s in states),
        "complete": states.count(TrialState.COMPLETE),
        "peak_mib": round(peak / MIB, 1),
        "score": round(float(score), 4),
        "secondary": round(float(secondary), 4),
        "load1_before": load,
    }


def report(rows: list[dict], refs: list[str], loads: tuple[float, float]) -> list[str]:
    """Mean score per table and commit, the last commit against the first, and the medians."""
    first, last = refs[0], refs[-1]
    lines = [
        f"# Tables with {rows[0]['nan_share']:.0%} missing values: default "
        f"{rows[0]['budget_s']:.0f} s fits by commit",
        "",
        f"Machine: {machine().summary()}.",
        "",
        f"Command: `{command(__file__)}`. 1-minute load {loads[0]:.2f} before, {loads[1]:.2f} "
        "after. Score: balanced accuracy (classification) or R^2 (regression); secondary: log "
        "loss or RMSE (lower is better). Means over the seeds; per-fit rows in the CSV.",
        "",
    ]
    header = ["table", *(f"{ref}: score / secondary" for ref in refs),
              f"{last} - {first}: score", "complete trials (median)", "peak MiB (median)"]
    table, differences = [], []
    for name in dict.fromkeys(row["table"] for row in rows):
        means, cells = {}, []
        for ref in refs:
            runs = [r for r in rows if r["table"] == name and r["ref"] == ref]
            means[ref] = statistics.mean(r["score"] for r in runs)
            secondary = statistics.mean(r["secondary"] for r in runs)
            cells.append(f"{means[ref]:.4f} / {secondary:.4f}")
        differences.append(means[last] - means[first])
        per_ref = [[r for r in rows if r["table"] == name and r["ref"] == ref] for ref in refs]
        complete = " / ".join(f"{statistics.median(r['complete'] for r in runs):.0f}"
                              for runs in per_ref)
        peak = " / ".join(f"{statistics.median(r['peak_mib'] for r in runs):.0f}"
                          for runs in per_ref)
        table.append([name, *cells, f"{differences[-1]:+.4f}", complete, peak])
    better = sum(d > 0 for d in differences)
    worse = sum(d < 0 for d in differences)
    fit_s = [r["fit_s"] for r in rows]
    summary = [
        "",
        f"- {last} against {first}: {better} tables better, {worse} worse, mean difference "
        f"{statistics.mean(differences):+.4f}.",
        f"- `fit` took {min(fit_s):.1f}-{max(fit_s):.1f} s.",
    ]
    return [*lines, *markdown_table(header, table), *summary]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_one":
        name, seed, budget, share, data = sys.argv[2:7]
        print(json.dumps(one_fit(name, int(seed), float(budget), float(share), Path(data))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refs", nargs="+", default=["HEAD"],
                        help="commits of automl_nas to run ('worktree': the checkout as it is)")
    parser.add_argument("--tables", nargs="+", choices=list(TUNING_TABLES),
                        default=list(DEFAULT_TABLES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--nan", type=float, default=0.1, help="share of cells made missing")
    add_data_option(parser)
    parser.add_argument("--out", default=str(result_path("missing_values")),
                        help="prefix of the .csv and .md outputs")
    args = parser.parse_args()
    data = data_dir(args.data)
    rows, load_before = [], load1()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tables:
            for seed in args.seeds:
                for i, ref in enumerate(args.refs):  # commits side by side, under like load
                    library = None
                    if ref != "worktree":
                        library = Path(tmp) / f"ref{i}"
                        if not library.exists():
                            print(snapshot(ref, library), flush=True)
                    fit = row_in_own_process(__file__, name, str(seed), str(args.budget),
                                             str(args.nan), str(data), library=library)
                    row = {"ref": ref, **fit}
                    print(json.dumps(row), flush=True)
                    write_csv(Path(f"{args.out}.csv"), [row], append=bool(rows))  # as it goes
                    rows.append(row)
    print(write_text(f"{args.out}.md", report(rows, args.refs, (load_before, load1()))))


if __name__ == "__main__":
    main()
