"""Trainer throughput: samples/s of ``automl_nas.training.train`` vs a bare PyTorch loop.

    python benchmarks/trainer_throughput.py              # ~2-3 min on 2 cores
    python benchmarks/trainer_throughput.py --repeats 3  # quicker

All loops train the same network (``MLPSpace().default_params()``: 2 x 256 units, ReLU, batch
norm, dropout 0.1, AdamW lr 2e-3 / weight decay 1e-4, cosine LR schedule over the epochs) from
the same initial weights, with the same batch size, epochs and number of torch threads (1, as
the estimator trains on CPU), on tensors already on the device. Per epoch every loop runs a
validation forward pass in eval mode with the validation loss and accuracy (the trainer's
``score_fn`` is the same torch accuracy), because the trainer always does.

The bare loop is what a user would write: ``randperm`` shuffle, slice batches, forward, loss,
``zero_grad``, backward, ``optimizer.step()`` with torch's default AdamW; after the epoch the
scheduler step and the validation pass. The "bare fused" loop is the same with
``AdamW(fused=True)``, the optimizer the trainer builds (``make_optimizer``), so trainer / bare
fused is the cost of the trainer's own loop. The trainer does more than both: it sums the
training loss per batch, checks its deadline per batch, keeps a copy of the best-validation
weights (a ``state_dict`` deep copy whenever the validation loss improves) and restores them at
the end; it never stops early here (patience > epochs).

Samples/s = training rows x epochs / wall seconds of the whole call (validation included).
Each repeat runs the three loops back to back in rotating order; the table shows medians over
repeats and the median of the per-repeat ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from harness import command, load1, machine, result_path, write_csv, write_text
from torch import nn

from automl_nas.space import MLPSpace
from automl_nas.training import TensorData, train


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """digits (standardised) and a larger synthetic 10-class table of 100 features."""
    from sklearn.datasets import load_digits, make_classification

    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(0)) / (X.std(0) + 1e-8)
    Xs, ys = make_classification(
        n_samples=25_000, n_features=100, n_informative=40, n_classes=10, random_state=0
    )
    return {"digits (1437 x 64)": (X, y), "synthetic (20000 x 100)": (Xs, ys)}


def tensor_data(X: np.ndarray, y: np.ndarray) -> TensorData:
    """80/20 split as float32 / int64 CPU tensors."""
    n_train = int(0.8 * len(X))
    X_t = torch.as_tensor(X, dtype=torch.float32)
    y_t = torch.as_tensor(y, dtype=torch.long)
    return TensorData(X_t[:n_train], y_t[:n_train], X_t[n_train:], y_t[n_train:])


def build(params: dict[str, Any], data: TensorData, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    n_classes = int(data.y_train.max()) + 1
    return MLPSpace().build(params, (data.X_train.shape[1],), n_classes)


def accuracy(y: torch.Tensor) -> Callable[[torch.Tensor], float]:
    return lambda out: (out.argmax(1) == y).float().mean().item()


def run_trainer(
    params: dict[str, Any], data: TensorData, epochs: int, seed: int
) -> tuple[float, float]:
    """Wall and CPU seconds of ``automl_nas.training.train`` for ``epochs`` epochs."""
    model = build(params, data, seed)
    t0, c0 = time.perf_counter(), time.process_time()
    result = train(
        model,
        params,
        data,
        loss_fn=nn.CrossEntropyLoss(),
        score_fn=accuracy(data.y_val),
        max_epochs=epochs,
        patience=epochs + 1,
        seed=seed,
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert len(result.history) == epochs, result.stopped_by
    return wall, cpu


def run_bare(
    params: dict[str, Any], data: TensorData, epochs: int, seed: int, fused: bool = False
) -> tuple[float, float]:
    """Wall and CPU seconds of the bare loop for ``epochs`` epochs (``fused``: AdamW's fused
    implementation, as the trainer uses; else torch's default, as a user writes it)."""
    model = build(params, data, seed)
    t0, c0 = time.perf_counter(), time.process_time()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=params["lr"], weight_decay=params["weight_decay"],
        **({"fused": True} if fused else {}),
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    generator = torch.Generator().manual_seed(seed)
    X, y, n, batch_size = data.X_train, data.y_train, len(data.X_train), params["batch_size"]
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss = loss_fn(model(X[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            out = model(data.X_val)
            loss_fn(out, data.y_val).item()
            (out.argmax(1) == data.y_val).float().mean().item()
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--out", default=str(result_path("trainer_throughput")),
                        help="prefix of the .csv and .md outputs")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    # Epochs per run: short runs (0.3-2 s each on one core), many repeats: less drift between
    # the loops of a repeat on a shared machine.
    epochs = {"digits (1437 x 64)": 10, "synthetic (20000 x 100)": 1}
    loops = {
        "trainer": run_trainer,
        "bare": run_bare,
        "bare_fused": lambda *a: run_bare(*a, fused=True),
    }
    data = {name: tensor_data(X, y) for name, (X, y) in datasets().items()}
    rows = []
    for name, d in data.items():
        for batch_size in args.batch_sizes:
            params = {
                **MLPSpace().default_params(), "batch_size": batch_size, "epochs": epochs[name]
            }
            for fn in loops.values():  # warm-up: lazy imports, allocator, first-call paths
                fn(params, d, 1, 0)
            for repeat in range(args.repeats):
                shift = repeat % len(loops)  # each loop takes each position in turn
                order = list(loops)[shift:] + list(loops)[:shift]
                for loop in order:
                    load = load1()
                    wall, cpu = loops[loop](params, d, epochs[name], repeat)
                    samples = len(d.X_train) * epochs[name]
                    rows.append({
                        "dataset": name, "batch_size": batch_size, "epochs": epochs[name],
                        "loop": loop, "repeat": repeat, "wall_s": round(wall, 4),
                        "cpu_s": round(cpu, 4), "samples_per_s": round(samples / wall, 1),
                        "samples_per_cpu_s": round(samples / cpu, 1),
                        "load1": load, "threads": args.threads,
                    })
                    print(rows[-1], flush=True)

    out = Path(args.out)
    write_csv(out.with_suffix(".csv"), rows)
    loads = [r["load1"] for r in rows]
    lines = [
        "# Trainer throughput vs a bare PyTorch loop",
        "",
        (f"{machine().summary()}; CPU tensors. 1-min load average {min(loads):.2f}-"
         f"{max(loads):.2f} during the runs; {args.threads} torch thread(s). Command: "
         f"`{command(__file__, argv)}`."),
        "",
        ("Network: `MLPSpace().default_params()` (2 x 256, ReLU, batch norm, dropout 0.1, AdamW "
         "lr 2e-3, wd 1e-4, cosine schedule), 10 classes, 80/20 train/validation split. All "
         "loops validate after every epoch (eval-mode forward, loss, accuracy)."),
        "",
        ("| data | batch | epochs | trainer samples/s | bare loop samples/s | **trainer / bare, "
         "wall** (min-max) | trainer / bare, CPU time | bare loop with fused AdamW, samples/s | "
         "trainer / bare fused, wall | load 1 min |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in data:
        for batch_size in args.batch_sizes:
            sel = [r for r in rows if r["dataset"] == name and r["batch_size"] == batch_size]
            speed = {
                loop: statistics.median(r["samples_per_s"] for r in sel if r["loop"] == loop)
                for loop in loops
            }

            def ratios(key: str, other: str, sel: list[dict] = sel) -> list[float]:
                return [
                    t[key] / b[key]
                    for t in sel if t["loop"] == "trainer"
                    for b in sel if b["loop"] == other and b["repeat"] == t["repeat"]
                ]

            wall, cpu = ratios("samples_per_s", "bare"), ratios("samples_per_cpu_s", "bare")
            fused = ratios("samples_per_s", "bare_fused")
            lines.append(
                f"| {name} | {batch_size} | {sel[0]['epochs']} | {speed['trainer']:,.0f} | "
                f"{speed['bare']:,.0f} | **{statistics.median(wall):.3f}** "
                f"({min(wall):.3f}-{max(wall):.3f}) | {statistics.median(cpu):.3f} | "
                f"{speed['bare_fused']:,.0f} | {statistics.median(fused):.3f} "
                f"({min(fused):.3f}-{max(fused):.3f}) | "
                f"{min(r['load1'] for r in sel):.2f}-{max(r['load1'] for r in sel):.2f} |"
            )
    lines += [
        "",
        (f"Medians over {args.repeats} repeats; a ratio is the median of per-repeat ratios, the "
         "three loops running back to back in rotating order. Wall time is what a user waits; "
         "CPU time (process) is the work done, less disturbed by other jobs on the machine. The "
         "trainer builds its optimizer fused where torch can (`make_optimizer`); the bare loop "
         "uses torch's default AdamW as a user writes it, and the fused bare loop isolates the "
         f"trainer's own loop overhead. Raw rows: `{out.with_suffix('.csv').name}`."),
    ]
    print(write_text(out.with_suffix(".md"), lines), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
