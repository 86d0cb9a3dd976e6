"""The least epoch the trainer judges a network by, against the epoch it really takes.

    python benchmarks/least_epoch.py      # 14 networks of the tabular space, 40,000 x 50

Before a probed network's first step, ``train`` gives it up as too slow when even
``least_epoch_seconds`` (its forward operations per row, counted by torch, three passes over
the training rows and one over the validation rows, at ``RATE_MARGIN`` x the machine's measured
matrix-product rate) is over half its time limit. That is safe only if a real epoch always
takes longer. This script draws networks of the tabular space at random (the first is the
space's default), sized to ``--rows`` x ``--columns`` synthetic rows, and for each records the
counted operations, the least epoch and the seconds one epoch of ``train`` takes, on
``--threads`` threads; networks whose least epoch is over ``--max-least`` seconds are counted
but not trained. The ratio real / least is the margin the rule keeps.
"""

from __future__ import annotations

import argparse
import time

from harness import command, load1, machine, markdown_table, result_path, write_csv, write_text


def measure(args: argparse.Namespace) -> list[dict]:
    """One row per network: operations, least epoch, timed epoch (None past ``max_least``)."""
    import optuna
    import torch
    from torch import nn

    from automl_nas.space import DataFacts, TabularSpace
    from automl_nas.training import (
        TensorData,
        dense_rate,
        forward_flops_per_row,
        least_epoch_seconds,
        train,
    )

    torch.set_num_threads(args.threads)
    n, d = args.rows, args.columns
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n + n // 4, d, generator=g)
    y = (X[:, 0] > 0).long()
    data = TensorData(X[:n], y[:n], X[n:], y[n:])
    space = TabularSpace().for_data(DataFacts(n, d, tuple(range(d)), "classification", 2))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=args.seed))
    rate = dense_rate(X.device)
    rows = []
    for i in range(args.networks):
        params = dict(space.default_params() if i == 0 else space.sample(study.ask()))
        params["epochs"] = 1
        torch.manual_seed(0)
        model = space.build(params, (d,), 2)
        model.init_from_data(data.X_train)
        flops = forward_flops_per_row(model, data.X_train)
        least = least_epoch_seconds(model, data.X_train, len(data.X_val))
        seconds = None
        if least <= args.max_least:
            load = load1()
            started = time.perf_counter()
            train(model, params, data, loss_fn=nn.CrossEntropyLoss(), score_fn=lambda out: 0.0,
                  max_epochs=1, patience=1, seed=0)
            seconds = time.perf_counter() - started
        row = {
            "network": f"{params['block']} {params['n_blocks']} x {params['width']}, "
                       f"k={params['ensemble_k']}, {params['embedding']}"
                       + (f" {params['d_embedding']}" if params["embedding"] != "none" else ""),
            "batch_size": params["batch_size"],
            "forward_mflop_per_row": round(flops / 1e6, 3),
            "least_epoch_s": round(least, 3),
            "epoch_s": None if seconds is None else round(seconds, 2),
            "real_over_least": None if seconds is None else round(seconds / least, 1),
            "gflop_per_s": None if seconds is None
            else round(flops * (3 * n + len(data.X_val)) / seconds / 1e9, 1),
            "dense_rate_gflop_per_s": round(rate / 1e9, 1),
            "load1_before": None if seconds is None else load,
        }
        rows.append(row)
        print(row, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--networks", type=int, default=14)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1, help="the random sampler's seed")
    parser.add_argument("--max-least", type=float, default=40.0,
                        help="networks with a longer least epoch (s) are not trained")
    parser.add_argument("--out", default=str(result_path("least_epoch")))
    args = parser.parse_args()
    rows = measure(args)
    write_csv(f"{args.out}.csv", rows)
    timed = [r["real_over_least"] for r in rows if r["real_over_least"] is not None]
    lines = [
        "# The least epoch against the real one", "",
        f"Machine: {machine().summary()}.", "", f"Command: `{command(__file__)}`.", "",
        f"{args.rows:,} x {args.columns} synthetic rows ({args.rows // 4:,} validation rows), "
        f"{args.threads} thread(s), networks of the tabular space drawn at random (the first "
        "is its default), one epoch each. Real / least over the trained networks: "
        + (f"{min(timed)}-{max(timed)}." if timed else "none trained."), "",
        *markdown_table(
            ["network", "batch", "forward MFLOP / row", "least epoch s", "epoch s",
             "real / least", "GFLOP/s", "load1"],
            [[r["network"], r["batch_size"], r["forward_mflop_per_row"], r["least_epoch_s"],
              r["epoch_s"], r["real_over_least"], r["gflop_per_s"], r["load1_before"]]
             for r in rows]),
    ]
    print(write_text(f"{args.out}.md", lines))


if __name__ == "__main__":
    main()
