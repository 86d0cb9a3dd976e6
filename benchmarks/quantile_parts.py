"""The quantile transform's part size against its time: 12,500 rows x 2,000 columns, one thread.

    python benchmarks/quantile_parts.py          # ~1 minute

A network with ``numeric_transform="quantile"`` maps every continuous value through its
column's 128 quantile knots at every forward pass (``automl_nas.nn.FeatureEncoder``). On a
2,000-column table the validation pass of one trial (12,500 rows, in parts of 8,192 rows)
took 9 of a first trial's 11 s. This script times the transform of 12,500 x 2,000 synthetic
normal values in row parts of several sizes (``QUANTILE_PART_CELLS`` set to each), each size in
a fresh process on one thread: the first pass (as a trial's validation pass meets it: the large temporaries come fresh from the
operating system, page by page) and the best of three more (the allocator then reuses them),
and the peak RSS the passes added above the input and the fitted encoder (Linux: the kernel's
peak is reset first), output included (12,500 x 2,000 float32 values: 95 MiB).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from harness import command, load1, machine, markdown_table, result_path, write_csv, write_text

ROWS, COLUMNS, REPEATS = 12_500, 2_000, 3
PARTS = (12_500, 8_192, 4_096, 1_024, 524, 262, 131, 64)


def one(part: int) -> dict:
    """Seconds of the first pass and the best of ``REPEATS`` more, in parts of ``part`` rows."""
    import torch

    from automl_nas.nn import FeatureEncoder
    from automl_nas.nn import _numeric

    # the transform cuts its input into parts of this many cells; 524 rows is the default's
    _numeric.QUANTILE_PART_CELLS = part * COLUMNS
    torch.set_num_threads(1)
    x = torch.randn(ROWS, COLUMNS, generator=torch.Generator().manual_seed(0))
    encoder = FeatureEncoder(COLUMNS, list(range(COLUMNS)), transform="quantile")
    encoder.init_from_data(x)
    times = []
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mib("VmRSS")
    for _ in range(1 + REPEATS):
        started = time.perf_counter()
        with torch.no_grad():
            encoder._transform_float32(x)
        times.append(time.perf_counter() - started)
    return {
        "first_s": round(times[0], 2),
        "best_later_s": round(min(times[1:]), 2),
        "peak_mib": round(_status_mib("VmHWM") - before),
    }


def _status_mib(key: str) -> float:
    """``key``'s value in /proc/self/status, in MiB."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(key))
    return int(line.split()[1]) / 1024


def main() -> None:
    rows = []
    for part in PARTS:
        load = load1()
        out = subprocess.run(
            [sys.executable, __file__, "_one", str(part)], capture_output=True, text=True,
            check=True,
        ).stdout
        rows.append({"part_rows": part, "part_cells": part * COLUMNS, **json.loads(out),
                     "load1_before": load})
        print(rows[-1], flush=True)
    path = result_path("quantile_parts")
    write_csv(f"{path}.csv", rows)
    table = [
        [r["part_rows"], f"{r['part_cells']:,}", r["first_s"], r["best_later_s"], r["peak_mib"],
         r["load1_before"]]
        for r in rows
    ]
    lines = [
        f"# The quantile transform of {ROWS:,} x {COLUMNS:,} values in row parts, one thread",
        "", f"Machine: {machine().summary()}.", "", f"Command: `{command(__file__)}`.", "",
        "Each part size in a fresh process: the first pass, then the best of three more.", "",
        *markdown_table(
            ["part rows", "part cells", "first pass s", "best later pass s", "peak MiB", "load1"],
            table,
        ),
    ]
    print(write_text(f"{path}.md", lines))


if __name__ == "__main__":
    if sys.argv[1:2] == ["_one"]:
        print(json.dumps(one(int(sys.argv[2]))))
    else:
        main()
