"""The quantile transform's part size against its time: 12,500 rows x 2,000 columns, one thread.

    python benchmarks/quantile_parts.py          # ~30 s

A network with ``numeric_transform="quantile"`` maps every continuous value through its
column's 128 quantile knots at every forward pass (``automl_nas.nn.FeatureEncoder``). On a
2,000-column table the validation pass of one trial (12,500 rows, in parts of 8,192 rows)
took 9 of a first trial's 11 s. This script times the transform of 12,500 x 2,000 synthetic
normal values in row parts of several sizes, three repeats each, best kept, in one process on
one thread: the interpolation's temporaries grow with the part, and large ones cost far more
per cell than small ones.
"""

from __future__ import annotations

import time

import torch
from harness import command, load1, machine, markdown_table, result_path, write_csv, write_text

ROWS, COLUMNS, REPEATS = 12_500, 2_000, 3
PARTS = (8_192, 4_096, 1_024, 512, 128)


def main() -> None:
    from automl_nas.nn import FeatureEncoder

    torch.set_num_threads(1)
    x = torch.randn(ROWS, COLUMNS, generator=torch.Generator().manual_seed(0))
    encoder = FeatureEncoder(COLUMNS, list(range(COLUMNS)), transform="quantile")
    encoder.init_from_data(x)
    rows = []
    for part in PARTS:
        load = load1()
        best = float("inf")
        for _ in range(REPEATS):
            started = time.perf_counter()
            with torch.no_grad():
                for chunk in x.split(part):
                    encoder._transform_float32(chunk)
            best = min(best, time.perf_counter() - started)
        rows.append({"part_rows": part, "part_cells": part * COLUMNS,
                     "seconds": round(best, 2), "load1_before": load})
        print(rows[-1], flush=True)
    path = result_path("quantile_parts")
    write_csv(f"{path}.csv", rows)
    table = [[r["part_rows"], f"{r['part_cells']:,}", r["seconds"], r["load1_before"]] for r in rows]
    lines = [
        f"# The quantile transform of {ROWS:,} x {COLUMNS:,} values in row parts, one thread",
        "", f"Machine: {machine().summary()}.", "", f"Command: `{command(__file__)}`.", "",
        *markdown_table(["part rows", "part cells", "seconds (best of 3)", "load1"], table),
    ]
    print(write_text(f"{path}.md", lines))

if __name__ == "__main__":
    main()
