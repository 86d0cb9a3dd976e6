"""Batched trials (issue 16): trials per minute batched vs one at a time, and equal quality.

``throughput``: the same search (TPE, seed 0, the tabular space narrowed to networks that
stack: no embedding weights, one ensemble member) with ``stages=["tpe"]`` and with
``stages=[BatchStage("tpe")]``, on each table, each in its own process, one after the other.
Reports finished trials per minute of search (from the first trial's start to the last
one's end, in the study), epochs per trial, and the test balanced accuracy of the fitted
estimator. ``--max-rows`` caps a large table (stratified sample).

``equal``: 20 training recipes (lr, weight decay, dropout, label smoothing, schedule, gradient
clipping; random, seed 0) on the space's default architecture, each trained alone and as a
member of a batch of 10, with the same initialisation and batch order; validation balanced
accuracy and loss side by side, with the sampled dropout and with dropout 0 (where the
batched member must match its solo run up to floating-point rounding).

``ceiling``: why batching gains less on a large table. The space's default network for the
table (at the batch size the space picks for its rows) trains a few epochs alone (``train``)
and as P = 2, 4, 8, 16 members of one batch (``train_stacked``); each run's arithmetic rate
(6 x multiply-adds of its linear layers x rows, per second) is set against the machine's
float32 matrix-product rate (``torch.mm`` of 2,048 x 2,048, the same threads). One network
that already runs near that rate leaves batching little to gain: the most it can give is
peak / one network's rate.

    python benchmarks/batched_trials.py throughput --data ../shared/data --tables phoneme connect_4 --budget 60 --out benchmarks/results/batched_throughput
    python benchmarks/batched_trials.py ceiling --data ../shared/data --tables phoneme connect_4 --out benchmarks/results/batched_ceiling
    python benchmarks/batched_trials.py equal --data ../shared/data --table phoneme --out benchmarks/results/batched_equal
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from harness import (
    add_data_option,
    data_dir,
    holdout_split,
    load1,
    load_table,
    machine,
    row_in_own_process,
    write_csv,
    write_json,
)

MODES = ("sequential", "batched")


def narrowed_space():
    from automl_nas import TabularSpace

    return TabularSpace().replace(embedding="none", ensemble_k=1)


def sample(X: pd.DataFrame, y: pd.Series, max_rows: int | None, seed: int = 0):
    if max_rows is None or len(X) <= max_rows:
        return X, y
    from sklearn.model_selection import train_test_split

    X, _, y, _ = train_test_split(X, y, train_size=max_rows, random_state=seed, stratify=y)
    return X, y


def run_one(table: str, mode: str, budget: float, data: Path, max_rows: int | None) -> dict:
    """One search in this process; the row of the throughput table."""
    from optuna.trial import TrialState
    from sklearn.metrics import balanced_accuracy_score

    from automl_nas import AutoNASClassifier
    from automl_nas.stages import BatchStage

    X, y, task = load_table(table, data)
    if task != "classification":
        raise SystemExit(f"{table}: a classification table, please")
    X, y = sample(X, y, max_rows)
    X_train, X_test, y_train, y_test = holdout_split(X, y, classification=True, seed=0)
    stage = "tpe" if mode == "sequential" else BatchStage("tpe")
    started = time.perf_counter()
    clf = AutoNASClassifier(
        space=narrowed_space(), stages=[stage], time_budget=budget, random_state=0, verbose=0
    ).fit(X_train, y_train)
    fit_s = time.perf_counter() - started
    finished = [t for t in clf.study_.trials if t.state.is_finished()]
    first = min(t.datetime_start for t in finished)
    last = max(t.datetime_complete for t in finished)
    search_s = (last - first).total_seconds()
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    epochs = [t.user_attrs.get("epochs", 0) for t in complete]
    return {
        "table": table,
        "rows": len(y_train),
        "mode": mode,
        "budget_s": budget,
        "fit_s": round(fit_s, 1),
        "search_s": round(search_s, 1),
        "finished": len(finished),
        "complete": len(complete),
        "pruned": sum(t.state == TrialState.PRUNED for t in finished),
        "failed": sum(t.state == TrialState.FAIL for t in finished),
        "trials_per_min": round(60 * len(finished) / max(search_s, 1e-9), 1),
        "median_epochs": float(np.median(epochs)) if epochs else 0.0,
        "best_val": round(max(t.value for t in complete), 4),
        "test_bal_acc": round(balanced_accuracy_score(y_test, clf.predict(X_test)), 4),
    }


def throughput(args: argparse.Namespace) -> None:
    data = data_dir(args.data)
    rows = []
    for table in args.tables:
        for mode in MODES:
            extra = [str(args.max_rows)] if args.max_rows else []
            row = row_in_own_process(__file__, table, mode, str(args.budget), str(data), *extra)
            print(row, flush=True)
            rows.append(row)
    frame = pd.DataFrame(rows)
    pivot = frame.pivot(index="table", columns="mode", values="trials_per_min")
    speedup = (pivot["batched"] / pivot["sequential"]).round(2).to_dict()
    print("batched / sequential trials per minute:", speedup)
    save(rows, args.out, {"speedup": speedup, "load1_end": load1(), "budget_s": args.budget})


def scaled_split(table: str, data: str | None, max_rows: int | None = None):
    """``table``'s holdout split (seed 0), standardised on its training rows, as CPU tensors;
    with the training and validation labels as arrays."""
    import torch
    from sklearn.preprocessing import StandardScaler

    from automl_nas.training import TensorData

    X, y, _ = load_table(table, data_dir(data))
    if max_rows:
        X, y = sample(X, y, max_rows)
    X_train, X_val, y_train, y_val = holdout_split(
        X.to_numpy(np.float32), pd.factorize(y)[0], classification=True, seed=0
    )
    scaler = StandardScaler().fit(X_train)
    tensors = TensorData(
        torch.tensor(scaler.transform(X_train), dtype=torch.float32), torch.tensor(y_train),
        torch.tensor(scaler.transform(X_val), dtype=torch.float32), torch.tensor(y_val),
    )
    return tensors, y_train, y_val


def equal(args: argparse.Namespace) -> None:
    import optuna
    import torch
    from sklearn.metrics import balanced_accuracy_score

    from automl_nas.space._base import DataFacts
    from automl_nas.training import train, train_stacked

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(2)
    tensors, y_train, y_val = scaled_split(args.table, args.data)
    n_classes = int(y_train.max()) + 1
    d = tensors.X_train.shape[1]
    space = narrowed_space().for_data(DataFacts(len(y_train), d, tuple(range(d)), "classification", n_classes))
    default = {**space.fixed, **space.start_params()[0]}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    recipes = []
    for _ in range(args.configs):
        params = space.sample(study.ask())
        recipes.append({**default, **{k: params[k] for k in ("lr", "weight_decay", "dropout",
                        "label_smoothing", "schedule", "grad_clip")}, "epochs": args.epochs})

    def score(out: torch.Tensor) -> float:
        return balanced_accuracy_score(y_val, out.argmax(1).numpy())

    def build(config: dict, seed: int):
        torch.manual_seed(seed)
        return space.build(config, (d,), n_classes)

    common = {"loss_fn": torch.nn.CrossEntropyLoss(), "max_epochs": args.epochs, "patience": args.epochs}
    rows = []
    for dropout in ("sampled", "zero"):
        configs = [r if dropout == "sampled" else {**r, "dropout": 0.0} for r in recipes]
        batched = []
        for start in range(0, len(configs), args.members):
            part = configs[start : start + args.members]
            nets = [build(c, start + i) for i, c in enumerate(part)]
            batched += train_stacked(nets, part, tensors, score_fns=[score] * len(part), seed=0, **common)
        for i, config in enumerate(configs):
            solo = train(build(config, i), config, tensors, score_fn=score, seed=0, **common)
            member = batched[i]
            rows.append({
                "dropout": dropout, "config": i, "lr": config["lr"], "dropout_rate": config["dropout"],
                "schedule": config["schedule"], "solo_score": round(solo.score, 4),
                "batched_score": round(member.score, 4),
                "solo_val_loss": round(min(h["val_loss"] for h in solo.history), 5),
                "batched_val_loss": round(min(h["val_loss"] for h in member.history), 5),
            })
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    for dropout, part in frame.groupby("dropout"):
        diff = (part["batched_score"] - part["solo_score"]).abs()
        loss = (part["batched_val_loss"] - part["solo_val_loss"]).abs()
        print(f"dropout {dropout}: |score diff| mean {diff.mean():.4f} max {diff.max():.4f}; "
              f"|best val loss diff| mean {loss.mean():.5f} max {loss.max():.5f}; "
              f"score correlation {part['batched_score'].corr(part['solo_score']):.3f}")
    save(rows, args.out, {"table": args.table, "epochs": args.epochs, "load1_end": load1()})


def ceiling(args: argparse.Namespace) -> None:
    import torch

    from automl_nas.space._base import DataFacts
    from automl_nas.training import train, train_stacked

    torch.set_num_threads(args.threads)
    size = 2048
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    start, repeats = time.perf_counter(), 20
    for _ in range(repeats):
        torch.mm(a, b)
    peak = 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9
    print(f"torch.mm {size}^2 float32, {args.threads} threads: {peak:.1f} GFLOP/s", flush=True)
    rows = []
    for table in args.tables:
        tensors, y_train, _ = scaled_split(table, args.data, args.max_rows)
        n_classes, d = int(y_train.max()) + 1, tensors.X_train.shape[1]
        space = narrowed_space().for_data(
            DataFacts(len(y_train), d, tuple(range(d)), "classification", n_classes))
        config = {**space.fixed, **space.start_params()[0], "epochs": args.epochs, "dropout": 0.1}

        def build(seed: int, space=space, config=config, d=d, n_classes=n_classes) -> torch.nn.Module:
            torch.manual_seed(seed)
            return space.build(config, (d,), n_classes)

        def score(out: torch.Tensor, y_val=tensors.y_val) -> float:
            return (out.argmax(1) == y_val).float().mean().item()

        macs = sum(m.in_features * m.out_features for m in build(0).modules()
                   if isinstance(m, torch.nn.Linear))
        flop_epoch = 6 * macs * len(y_train)
        common = {"loss_fn": torch.nn.CrossEntropyLoss(), "max_epochs": args.epochs,
                  "patience": args.epochs + 1}
        train(build(0), config, tensors, score_fn=score, seed=0, **{**common, "max_epochs": 1})  # warm-up
        for members in args.members:
            started = time.perf_counter()
            if members == 1:
                train(build(0), config, tensors, score_fn=score, seed=0, **common)
            else:
                train_stacked([build(i) for i in range(members)], [config] * members, tensors,
                              score_fns=[score] * members, seed=0, **common)
            epoch_s = (time.perf_counter() - started) / args.epochs
            gflop_s = members * flop_epoch / epoch_s / 1e9
            rows.append({
                "table": table, "rows": len(y_train), "block": config["block"],
                "width": config["width"], "n_blocks": config["n_blocks"],
                "batch_size": config["batch_size"], "members": members,
                "epoch_s": round(epoch_s, 3), "member_epoch_s": round(epoch_s / members, 4),
                "gflop_s": round(gflop_s, 1), "share_of_mm_peak": round(gflop_s / peak, 3),
                "load1": load1(),
            })
            print(rows[-1], flush=True)
        single = next(r for r in rows if r["table"] == table and r["members"] == 1)
        for row in rows:
            if row["table"] == table:
                row["speedup_per_member"] = round(single["epoch_s"] / row["member_epoch_s"], 2)
    save(rows, args.out, {"mm_peak_gflop_s": round(peak, 1), "threads": args.threads,
                          "epochs": args.epochs})


def save(rows: list[dict], out: str, facts: dict) -> None:
    """``<out>.csv`` (the rows) and ``<out>.json`` (machine, date, load and ``facts``)."""
    write_csv(f"{out}.csv", rows)
    write_json(f"{out}.json", {**machine().as_dict(), **facts})
    print(f"wrote {out}.csv and {out}.json")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_one":  # one search, in its own process
        table, mode, budget, data = argv[1:5]
        max_rows = int(argv[5]) if len(argv) > 5 else None
        print(json.dumps(run_one(table, mode, float(budget), Path(data), max_rows)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("throughput", help="trials per minute, batched vs sequential")
    add_data_option(run)
    run.add_argument("--tables", nargs="+", default=["phoneme", "connect_4"])
    run.add_argument("--budget", type=float, default=60.0)
    run.add_argument("--max-rows", type=int, default=50_000)
    run.add_argument("--out", required=True)
    same = commands.add_parser("equal", help="batched members against the same recipes alone")
    add_data_option(same)
    same.add_argument("--table", default="phoneme")
    same.add_argument("--configs", type=int, default=20)
    same.add_argument("--members", type=int, default=10)
    same.add_argument("--epochs", type=int, default=15)
    same.add_argument("--out", required=True)
    roof = commands.add_parser("ceiling", help="one network's arithmetic rate against batches")
    add_data_option(roof)
    roof.add_argument("--tables", nargs="+", default=["phoneme", "connect_4"])
    roof.add_argument("--max-rows", type=int, default=50_000)
    roof.add_argument("--members", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    roof.add_argument("--epochs", type=int, default=2)
    roof.add_argument("--threads", type=int, default=2)
    roof.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    {"throughput": throughput, "equal": equal, "ceiling": ceiling}[args.command](args)


if __name__ == "__main__":
    main()
