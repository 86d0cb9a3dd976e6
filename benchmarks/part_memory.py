"""Training-part size against peak memory and time: one epoch of one network per fresh process.

    python benchmarks/part_memory.py                       # parts of 8,192 and 2,048, four networks

A step of ``batch_size`` rows is trained in parts of ``step_rows`` rows x ensemble members
(``automl_nas.training._trainer``), each part's activations kept for its backward pass. This
script trains one epoch of 20,480 synthetic rows x 100 columns (batches of 1,024, 4,096
validation rows) on one thread, with the CPU part size set to each value of ``--parts``, and
records the seconds and the peak RSS the training added (``harness.peak_rss_of``) for a wide
TabM-style MLP, a wide TabM-style residual network and two narrow networks.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from harness import (
    command,
    load1,
    machine,
    markdown_table,
    peak_rss_of,
    result_path,
    write_csv,
    write_text,
)

ROWS, COLUMNS, VAL_ROWS = 20_480, 100, 4_096
#: name: the network's parameters over the tabular space's default (batch 1,024 unless set)
NETWORKS = {
    "MLP 2 x 937, k=8, piecewise": dict(
        block="mlp", n_blocks=2, width=937, ensemble_k=8, embedding="piecewise", d_embedding=32,
        norm="batch", numeric_transform="robust_clip"),
    "residual 3 x 647, k=16": dict(
        block="resnet", n_blocks=3, width=647, ensemble_k=16, embedding="none", norm="batch",
        numeric_transform="standard"),
    "MLP 2 x 128, k=4, periodic": dict(
        block="mlp", n_blocks=2, width=128, ensemble_k=4, embedding="periodic", d_embedding=16,
        norm="none", numeric_transform="quantile"),
    "residual 2 x 256, k=1, batch 2,048": dict(
        block="resnet", n_blocks=2, width=256, ensemble_k=1, embedding="none", norm="batch",
        numeric_transform="standard", batch_size=2048),
}


def one(name: str, part_rows: int) -> dict:
    """One epoch of network ``name`` with CPU parts of ``part_rows``, in this process."""
    import torch
    from torch import nn

    import automl_nas.training._trainer as trainer
    from automl_nas.space import TabularSpace
    from automl_nas.space._base import DataFacts
    from automl_nas.training import TensorData, train

    torch.set_num_threads(1)
    trainer.CPU_STEP_ROWS = part_rows
    g = torch.Generator().manual_seed(0)
    X = torch.randn(ROWS + VAL_ROWS, COLUMNS, generator=g)
    y = (X[:, 0] > 0).long()
    data = TensorData(X[:ROWS], y[:ROWS], X[ROWS:], y[ROWS:])
    space = TabularSpace().for_data(
        DataFacts(ROWS, COLUMNS, tuple(range(COLUMNS)), "classification", 2))
    params = {**space.start_params()[0], "batch_size": 1024, **NETWORKS[name], "epochs": 1,
              "dropout": 0.1}
    torch.manual_seed(0)
    model = space.build(params, (COLUMNS,), 2)
    load = load1()
    started = time.perf_counter()
    peak, _ = peak_rss_of(lambda: train(
        model, params, data, loss_fn=nn.CrossEntropyLoss(), score_fn=lambda out: 0.0,
        max_epochs=1, patience=5, seed=0))
    return {"network": name, "part_rows": part_rows,
            "seconds": round(time.perf_counter() - started, 2),
            "peak_mib": round(peak / 2**20), "load1_before": load}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_one":
        print(json.dumps(one(sys.argv[2], int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", type=int, default=[8192, 2048])
    parser.add_argument("--out", default=str(result_path("part_memory")))
    args = parser.parse_args()
    rows = []
    for name in NETWORKS:
        for part_rows in args.parts:
            done = subprocess.run([sys.executable, __file__, "_one", name, str(part_rows)],
                                  capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    write_csv(f"{args.out}.csv", rows)
    table = [[r["network"], r["part_rows"], r["seconds"], r["peak_mib"], r["load1_before"]]
             for r in rows]
    lines = [
        "# Training-part size: peak memory and time of one epoch", "",
        f"Machine: {machine().summary()}.", "", f"Command: `{command(__file__)}`.",
        f"{ROWS:,} x {COLUMNS} synthetic rows, batches of 1,024 (unless the network sets one), "
        f"{VAL_ROWS:,} validation rows, one thread, one fresh process per row.", "",
        *markdown_table(["network", "part rows x members", "seconds", "peak MiB", "load1"], table),
    ]
    print(write_text(f"{args.out}.md", lines))


if __name__ == "__main__":
    main()
