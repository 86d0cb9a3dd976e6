"""Tabular preprocessing: time and peak memory of the numeric branch, before and after
MedianImputeScaler.

    python benchmarks/preprocessing.py                    # ~4 min on 2 cores
    python benchmarks/preprocessing.py --before-repeats 0 --repeats 1   # after only, ~30 s

Cases: 50,000 x 2,000 float64 without missing values, as a numpy array and as a DataFrame, and
200,000 x 50 with 5% NaN, both ways too. "before" is the numeric branch as it was, built here
from scikit-learn classes: ``SimpleImputer(strategy="median", add_indicator=True,
keep_empty_features=True)`` then ``StandardScaler()``, inside a ``ColumnTransformer`` for a
DataFrame as ``make_preprocessor`` built it (``ToNumbers``, a pass-through for numeric columns,
left out). "after" is ``make_preprocessor(X)``.

Each run is a fresh process that builds the data and then measures three phases, each ending
with the cast to float32 that the estimator does (``np.asarray(out, dtype=np.float32)``, free
when the output already is float32):

- ``fit_transform``: a new preprocessor's ``fit_transform(X)``;
- ``transform``: ``transform(X)`` with the preprocessor fitted in the phase before;
- ``fit + transform``: a new preprocessor's ``fit(X)`` then ``transform(X)``, what
  ``AutoNAS*.fit`` does today.

Per phase: wall seconds, CPU user and system seconds, and the peak RSS above the RSS before
the phase (the kernel's peak is reset for each phase through ``/proc/self/clear_refs``, so
Linux only), in MiB and as a multiple of X's size. Threads are left as a user gets them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
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

#: name: (rows, columns, share of NaN, as a DataFrame)
CASES = {
    "50k x 2,000, numpy": (50_000, 2_000, 0.0, False),
    "50k x 2,000, DataFrame": (50_000, 2_000, 0.0, True),
    "200k x 50, 5% NaN, numpy": (200_000, 50, 0.05, False),
    "200k x 50, 5% NaN, DataFrame": (200_000, 50, 0.05, True),
}
PIPELINES = ("before", "after")
PHASES = ("fit_transform", "transform", "fit + transform")


def _data(case: str) -> Any:
    import pandas as pd

    rows, columns, nan, frame = CASES[case]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, columns))
    if nan:
        X[rng.random(X.shape) < nan] = np.nan
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(columns)]) if frame else X


def _preprocessor(pipeline: str, X: Any) -> Any:
    import pandas as pd
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from automl_nas.data import make_preprocessor

    if pipeline == "after":
        return make_preprocessor(X)
    numeric = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )
    if not isinstance(X, pd.DataFrame):
        return numeric
    selector = make_column_selector(dtype_exclude=["object", "string", "category", "bool"])
    return ColumnTransformer([("numeric", numeric, selector)], sparse_threshold=0.0)


def _phase(run: Callable[[], Any]) -> tuple[dict, Any]:
    """Time ``run`` and its peak RSS above the RSS before it."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    peak, out = peak_rss_of(run)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_s": round(wall, 3),
        "user_s": round(after.ru_utime - before.ru_utime, 3),
        "sys_s": round(after.ru_stime - before.ru_stime, 3),
        "peak_mib": round(peak / 2**20, 1),
    }, out


def _as_float32(out: Any) -> np.ndarray:
    """The estimator's cast of the preprocessed rows (free for a float32 array)."""
    return np.asarray(out, dtype=np.float32)


def worker(case: str, pipeline: str) -> dict:
    """One run: the three phases on freshly built data, as a dict of figures per phase."""
    X = _data(case)
    x_mib = X.shape[0] * X.shape[1] * 8 / 2**20
    first = _preprocessor(pipeline, X)
    second = _preprocessor(pipeline, X)
    results, shapes = {}, []
    for phase, run in [
        ("fit_transform", lambda: _as_float32(first.fit_transform(X))),
        ("transform", lambda: _as_float32(first.transform(X))),
        ("fit + transform", lambda: _as_float32(second.fit(X).transform(X))),
    ]:
        results[phase], out = _phase(run)
        results[phase]["peak_x"] = round(results[phase]["peak_mib"] / x_mib, 2)
        shapes.append((list(out.shape), bool(out.flags.c_contiguous)))
        del out
    return {"x_mib": x_mib, "out_shape": shapes[0][0], "c_contiguous": shapes[0][1], **results}


def _run(case: str, pipeline: str) -> dict:
    load = load1()
    cmd = [sys.executable, __file__, "--worker", case, pipeline]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{case} / {pipeline} failed:\n{done.stderr}")
    return {"load1": load, **json.loads(done.stdout)}


def _median(runs: list[dict], phase: str, key: str) -> float:
    return statistics.median(run[phase][key] for run in runs)


def _loads(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def _report(results: dict, args: argparse.Namespace, loads: tuple[list, list]) -> list[str]:
    info = machine()
    lines = [
        "# Tabular preprocessing: numeric branch before and after MedianImputeScaler",
        "",
        f"Machine: {info.summary()}.",
        "",
        (
            f"Load average (1, 5, 15 min): {_loads(loads[0])} before the runs, {_loads(loads[1])} "
            "after; other work shared the cores."
        ),
        "",
        (
            f"Command: `{command(__file__)}`. Medians over {args.repeats} run(s) after and "
            f"{args.before_repeats} before, each a fresh process. Seconds are wall-clock, with "
            "(user + system) CPU seconds; peak is the RSS above the RSS before the phase, in MiB "
            "and as a multiple of X's float64 size. Every phase ends with the estimator's cast to "
            "float32; the script's docstring says what each phase runs."
        ),
        "",
    ]
    rows = []
    for case, by_pipeline in results.items():
        for pipeline, runs in by_pipeline.items():
            if not runs:
                continue
            cells = [case, pipeline, "x".join(map(str, runs[0]["out_shape"]))]
            for phase in PHASES:
                wall, user, sys_ = (_median(runs, phase, k) for k in ("wall_s", "user_s", "sys_s"))
                peak, peak_x = _median(runs, phase, "peak_mib"), _median(runs, phase, "peak_x")
                cells += [f"{wall:.2f} ({user:.2f} + {sys_:.2f})", f"{peak:.0f} ({peak_x:.2f}x)"]
            cells.append(f"{statistics.median(run['load1'] for run in runs):.2f}")
            rows.append(cells)
    header = ["case", "pipeline", "output"]
    for phase in PHASES:
        header += [f"{phase} s", f"{phase} peak MiB"]
    return [*lines, *markdown_table([*header, "load1"], rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of 'after' per case")
    parser.add_argument("--before-repeats", type=int, default=1, help="runs of 'before' per case")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--out", type=Path, default=result_path("preprocessing.md"))
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "PIPELINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    loads_before = list(os.getloadavg())
    results: dict = {}
    rows = []
    for case in args.cases:
        results[case] = {}
        for pipeline, repeats in (("before", args.before_repeats), ("after", args.repeats)):
            results[case][pipeline] = []
            for repeat in range(repeats):
                run = _run(case, pipeline)
                results[case][pipeline].append(run)
                print(case, pipeline, repeat, json.dumps(run), flush=True)
                rows += [
                    {
                        "case": case,
                        "pipeline": pipeline,
                        "repeat": repeat,
                        "phase": phase,
                        "load1": run["load1"],
                        **run[phase],
                    }
                    for phase in PHASES
                ]
    text = _report(results, args, (loads_before, list(os.getloadavg())))
    write_csv(args.out.with_suffix(".csv"), rows)
    print(write_text(args.out, text))


if __name__ == "__main__":
    main()
