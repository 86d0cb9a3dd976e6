"""DARTS-derived cell vs random cells of the same CellSpace on a CPU-sized Fashion-MNIST subset.

Data (nothing is downloaded at run time): ``apt-get install -y dataset-fashion-mnist`` puts the
four idx ``.gz`` files in /usr/share/datasets/fashion-mnist/ (read here with gzip + numpy).

Usage: nice -n 10 python benchmarks/darts_fashion_mnist.py [--n-train 5000] [--n-test 2000]
    [--n-random 6] [--search-epochs 5] [--epochs 8] [--unguarded] [--out-dir benchmarks/results]

One Optuna study, the same classes ``fit`` uses: a ``DartsStage`` searches the cell's six edge
operations and enqueues its argmax cell, then a ``SamplerStage("random")`` draws ``--n-random``
cells; ``--unguarded`` adds a second DARTS search with ``max_skip=None``. Every other parameter
is fixed (channels, cells, optimizer, lr, batch size, dropout, epochs), and every trial is
trained by the same ``TrialObjective`` for exactly ``--epochs`` epochs (no pruning, no early
stopping), keeping its best-validation-epoch weights, which are then scored on the test subset.
Images are average-pooled 2x2 to 14x14 to fit the CPU budget. Writes
``darts_fashion_mnist.csv`` (one row per trial) and ``.md`` to ``--out-dir``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from harness import command, machine, result_path, write_csv, write_text

from automl_nas.data import ImageScaler, train_validation_split
from automl_nas.search import MemoryTrialStore, SearchContext, TrialObjective, predict_output
from automl_nas.space import CellSpace
from automl_nas.stages import DartsStage, SamplerStage
from automl_nas.training import CLASSIFICATION_METRICS, TensorData

DATA_DIR = Path("/usr/share/datasets/fashion-mnist")


def read_idx(path: Path) -> np.ndarray:
    """An idx file (gzip-compressed) as a numpy array of its declared shape."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n_dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def load(
    data_dir: Path, split: str, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` stratified images of ``split`` ("train"/"t10k"), pooled 2x2 to (n, 1, 14, 14)."""
    files = [
        data_dir / f"{split}-{kind}-idx{d}-ubyte.gz" for kind, d in (("images", 3), ("labels", 1))
    ]
    if not all(f.exists() for f in files):
        raise SystemExit(
            f"Fashion-MNIST not found in {data_dir}: apt-get install -y dataset-fashion-mnist"
        )
    images, labels = read_idx(files[0]), read_idx(files[1])
    per_class = n // 10
    idx = np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)]
    )
    x = images[idx].astype(np.float32) / 255.0
    x = x.reshape(len(idx), 14, 2, 14, 2).mean(axis=(2, 4))
    return x.reshape(len(idx), 1, 14, 14), labels[idx].astype(np.int64)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--n-train", type=int, default=5000, help="train+validation images")
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--n-random", type=int, default=6)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--n-cells", type=int, default=1)
    parser.add_argument("--search-epochs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=8, help="training epochs of every cell")
    parser.add_argument(
        "--unguarded", action="store_true", help="also run DARTS with max_skip=None"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a shared CPU)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=result_path(""))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.monotonic()

    rng = np.random.default_rng(args.seed)
    X, y = load(args.data_dir, "train", args.n_train, rng)
    X_test, y_test = load(args.data_dir, "t10k", args.n_test, rng)
    scaler = ImageScaler().fit(X.reshape(len(X), -1))
    X_flat, X_test_flat = (
        scaler.transform(X.reshape(len(X), -1)),
        scaler.transform(X_test.reshape(len(X_test), -1)),
    )
    train_idx, val_idx = train_validation_split(len(X), 0.2, y, args.seed)
    data = TensorData(
        torch.as_tensor(X_flat[train_idx]),
        torch.as_tensor(y[train_idx]),
        torch.as_tensor(X_flat[val_idx]),
        torch.as_tensor(y[val_idx]),
    )
    fixed = {
        "channels": args.channels,
        "n_cells": args.n_cells,
        "lr": 3e-3,
        "weight_decay": 1e-4,
        "batch_size": 64,
        "optimizer": "adamw",
        "dropout": 0.1,
        "epochs": args.epochs,
    }
    space = CellSpace().replace(**fixed)
    deadline = time.monotonic() + 24 * 3600
    store = MemoryTrialStore(keep=1000, maximize=True)
    context = SearchContext(
        space=space,
        deadline=deadline,
        seed=args.seed,
        data=data,
        loss_fn=torch.nn.CrossEntropyLoss(),
        input_shape=(1, 14, 14),
        n_outputs=10,
        max_epochs=args.epochs,
    )
    context.objective = TrialObjective(
        context,
        y_folds=[y[val_idx]],
        metric=CLASSIFICATION_METRICS["accuracy"],
        decode=softmax,
        patience=args.epochs,
        seed=args.seed,
        store=store,
    )
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    stages = [("darts", DartsStage(epochs=args.search_epochs))]
    if args.unguarded:
        stages.append(("darts-unguarded", DartsStage(epochs=args.search_epochs, max_skip=None)))
    stages.append(("random", SamplerStage("random", n_trials=args.n_random)))
    search_seconds, traces, source = {}, {}, {}
    for label, stage in stages:
        t0 = time.monotonic()
        n_before = len(study.trials)
        stage.run(study, context, n_trials=None)
        search_seconds[label] = time.monotonic() - t0
        source.update({t.number: label for t in study.trials[n_before:]})
        if isinstance(stage, DartsStage):
            traces[label] = stage.history_
        print(f"{label}: {search_seconds[label]:.0f} s", flush=True)

    models = {m.number: m for m in store.ranked()}
    rows = []
    for t in study.trials:
        model = models.get(t.number)
        test_acc = float("nan")
        if model is not None:
            test_acc = float((predict_output(model.model, X_test_flat).argmax(1) == y_test).mean())
        rows.append(
            {
                "source": source[t.number],
                "trial": t.number,
                "state": t.state.name,
                "cell": " ".join(t.params.get(f"op_{e}", "?") for e in range(space.n_edges)),
                "n_params": t.user_attrs.get("n_params"),
                "val_accuracy": t.value,
                "test_accuracy": test_acc,
                "train_seconds": round(t.user_attrs.get("train_seconds", float("nan")), 1),
                "darts_stopped_by": t.user_attrs.get("darts_stopped_by", ""),
                "darts_capped": " ".join(t.user_attrs.get("darts_capped", [])),
            }
        )
    write_csv(args.out_dir / "darts_fashion_mnist.csv", rows)

    random_acc = [r["test_accuracy"] for r in rows if r["source"] == "random"]
    darts = next(r for r in rows if r["source"] == "darts")
    lines = [
        "# DARTS vs random cells on Fashion-MNIST",
        "",
        f"{machine().summary()}; torch threads={args.threads}, nice {os.nice(0)}.",
        "",
        (f"Subset: {args.n_train} train images (80/20 train/validation split), {args.n_test} test "
         f"images, pooled to 14x14; CellSpace with channels={args.channels}, n_cells="
         f"{args.n_cells} fixed and the 6 edge operations searched; every cell trained "
         f"{args.epochs} epochs with AdamW lr 3e-3, batch 64, dropout 0.1; the best validation "
         "epoch is scored on test."),
        "",
        f"Command: `{command(__file__)}`",
        "",
        "| source | cell (op_0 .. op_5) | params | val acc | test acc | train s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['source']} | {r['cell']} | {r['n_params']} "
        f"| {r['val_accuracy'] or float('nan'):.4f} | {r['test_accuracy']:.4f} "
        f"| {r['train_seconds']} |"
        for r in rows
    ]
    lines += [
        "",
        (f"DARTS test accuracy {darts['test_accuracy']:.4f} vs median of {len(random_acc)} "
         f"random cells {np.median(random_acc):.4f} "
         f"(min {min(random_acc):.4f}, max {max(random_acc):.4f})."),
        "",
    ]
    for label, trace in traces.items():
        entropies = ", ".join(f"{r['entropy']:.3f}" for r in trace)
        skips = ", ".join(str(r["n_skip"]) for r in trace)
        lines.append(
            f"{label}: search {search_seconds[label]:.0f} s (incl. training its cell); entropy per "
            f"epoch {entropies}; edges led by skip per epoch {skips}; stopped by "
            f"{next(r['darts_stopped_by'] for r in rows if r['source'] == label)}."
        )
    lines += ["", f"Wall time: {(time.monotonic() - started) / 60:.1f} min."]
    print(write_text(args.out_dir / "darts_fashion_mnist.md", lines), end="")


if __name__ == "__main__":
    main()
