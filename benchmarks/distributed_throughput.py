"""Completed trials per minute of one search with 1 training process vs 2 (coordinator + worker).

The same search each time: digits, an MLP space with every architecture and training choice
fixed except the learning rate (so trials cost about the same and the sampler still works), no
pruning, a journal-file (or SQLite) storage (shared mode: spec, artifact files, study
attributes, exactly as with workers). "1 process": the coordinator's ``fit`` alone. "2
processes": the same ``fit`` plus one ``automl-nas worker`` started (and imported) before it.
``--storage sqlite`` runs the same on a SQLite file. Runs alternate between the two settings
so background load affects both alike.

    python benchmarks/distributed_throughput.py --budget 60 --repeats 3
        [--out benchmarks/results/distributed_throughput]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import numpy as np
from harness import command, load1, machine, result_path, write_csv, write_text
from optuna.trial import TrialState
from sklearn.datasets import load_digits

from automl_nas import AutoNASClassifier, MLPSpace


def space() -> MLPSpace:
    """Fixed architecture and schedule; only ``lr`` is searched."""
    return MLPSpace(max_layers=2).replace(
        n_layers=2, units_0=256, units_1=128, activation="relu", norm="none", skip=False,
        weight_decay=1e-4, batch_size=64, optimizer="adamw", dropout=0.1, epochs=15,
    )


def run(n_processes: int, budget: float, seed: int, kind: str) -> dict:
    """One search; returns its completed trials per minute and who ran them."""
    X, y = load_digits(return_X_y=True)
    with tempfile.TemporaryDirectory() as tmp:
        storage = f"journal:{tmp}/search.log" if kind == "journal" else f"sqlite:///{tmp}/search.db"
        workers = []
        for _ in range(n_processes - 1):
            worker = subprocess.Popen(
                [sys.executable, "-m", "automl_nas", "worker", "--storage", storage,
                 "--study", "throughput", "--artifact-dir", f"{tmp}/artifacts"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            workers.append(worker)
        for worker in workers:  # imports done, polling for the search
            assert "waiting for search" in worker.stderr.readline()
        clf = AutoNASClassifier(
            space=space(), time_budget=budget, max_epochs=15, patience=15, pruner="none",
            storage=storage, study_name="throughput", artifact_dir=f"{tmp}/artifacts",
            random_state=seed,
        )
        started = time.monotonic()
        clf.fit(X, y)
        wall = time.monotonic() - started
        for worker in workers:
            worker.communicate(timeout=120)
        trials = clf.study_.get_trials(states=(TrialState.COMPLETE,))
        by_worker = sum("worker" in t.user_attrs for t in trials)
        seconds = [t.user_attrs["train_seconds"] for t in trials]
    return {
        "storage": kind,
        "processes": n_processes,
        "seed": seed,
        "budget_s": budget,
        "fit_wall_s": round(wall, 2),
        "complete": len(trials),
        "by_workers": by_worker,
        "trials_per_min": round(len(trials) / budget * 60, 2),
        "median_train_s": round(float(np.median(seconds)), 3),
        "load_1min": load1(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--storage", choices=["journal", "sqlite"], default="journal")
    parser.add_argument("--out", default=str(result_path("distributed_throughput")),
                        help="prefix of the .csv and .md outputs")
    args = parser.parse_args()
    rows = []
    for seed in range(args.repeats):
        for n in (1, 2):
            row = run(n, args.budget, seed, args.storage)
            print(row, flush=True)
            rows.append(row)
    write_csv(f"{args.out}.csv", rows)
    rate = {n: [r["trials_per_min"] for r in rows if r["processes"] == n] for n in (1, 2)}
    ratios = [b / a for a, b in zip(rate[1], rate[2])]
    lines = [
        "# Distributed throughput: completed trials per minute, 1 vs 2 training processes",
        "",
        (
            f"Machine: {machine().summary()}. Budget {args.budget:g} s per search; "
            f"{args.storage} storage; digits, fixed 256-128 MLP, 15 epochs, only lr searched, no "
            "pruning."
        ),
        f"Command: `{command(__file__)}`",
        "",
        "| repeat | 1 process: trials/min | 2 processes: trials/min | ratio | load (1 min) |",
        "|---|---|---|---|---|",
    ]
    for i, (a, b) in enumerate(zip(rows[0::2], rows[1::2])):
        lines.append(
            f"| {i} | {a['trials_per_min']} | {b['trials_per_min']} "
            f"({b['by_workers']} by the worker) | "
            f"{b['trials_per_min'] / a['trials_per_min']:.2f} | "
            f"{a['load_1min']} / {b['load_1min']} |"
        )
    lines += [
        "",
        f"Median ratio: **{np.median(ratios):.2f}x** (mean {np.mean(ratios):.2f}x).",
    ]
    print(write_text(f"{args.out}.md", lines), end="")


if __name__ == "__main__":
    main()
