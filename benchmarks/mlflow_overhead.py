"""MLflow tracking overhead of a demo search: digits, 20 trials; no tracking, SQLite, server.

    python benchmarks/mlflow_overhead.py     # writes benchmarks/results/mlflow_overhead.{csv,md}
    python benchmarks/mlflow_overhead.py --trials 8 --max-epochs 20 --repeats 1   # quicker

For each repeat the same seeded search runs three times: without tracking, with the embedded
SQLite store (``sqlite:///mlflow.db`` in a temp dir) and against a local ``mlflow server``
(SQLite backend, started with mlflow/start_server.sh). Per trial it records:

- ``callback_ms``: time the search thread spends in the tracker callback (it only queues);
- ``write_ms``: time the background writer needs to write the trial's child run (create_run,
  log_batch, the run's end update); it runs beside training, and is charged here as if it did not;
- ``trial_s``: the trial's duration (Optuna start to complete).

``overhead %`` = median write_ms / median trial time, an upper bound of the per-trial cost. The
one-off costs per fit (open the parent run, log + register the model, plots) are listed apart.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import children_cpu_s, command, machine, result_path, write_csv, write_text

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed_tracker_class(store: list, server_cpu=lambda: 0.0):
    """An MlflowTracker that times its one-off steps and keeps itself in ``store``.

    It also reads the server's CPU when the search starts and when the model is logged, so the
    server's share of the per-trial cost leaves out the one-offs.
    """
    from automl_nas.tracking import MlflowTracker

    class TimedTracker(MlflowTracker):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            store.append(self)

        def _timed(self, name, fn, *args):
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                self.one_off = getattr(self, "one_off", {})
                self.one_off[name] = time.perf_counter() - t0

        def start_search(self, info):
            self._timed("start_search_s", super().start_search, info)
            self.server_cpu_start = server_cpu()

        def log_model(self, estimator, input_example):
            self.server_cpu_search = server_cpu() - self.server_cpu_start
            self._timed("log_model_s", super().log_model, estimator, input_example)

        def end_search(self, status):
            self._timed("end_search_s", super().end_search, status)

    return TimedTracker


def group_cpu_s(pgid: int | None) -> float:
    """CPU seconds used so far by the processes of group ``pgid`` (the tracking server)."""
    if pgid is None:
        return 0.0
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # fields: state ppid pgrp ... utime(11) stime(12)
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_search(
    X, y, trials: int, max_epochs: int, uri: str | None, workdir: Path, writer: str, server_pid
) -> dict:
    from automl_nas import AutoNASClassifier, tracking

    trackers: list = []
    original = tracking.MlflowTracker
    is_server = bool(uri and uri.startswith("http"))
    timed = timed_tracker_class(trackers, lambda: group_cpu_s(server_pid if is_server else None))
    # the estimator imports MlflowTracker at fit and passes no writer: set it here
    tracking.MlflowTracker = lambda *a, **k: timed(*a, writer=writer, **k)
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        est = AutoNASClassifier(
            n_trials=trials,
            max_epochs=max_epochs,
            time_budget=3600,
            random_state=0,
            mlflow_tracking_uri=uri,
            register_model="digits-demo" if uri else None,
        )
        t0, cpu0, kids0 = time.perf_counter(), time.process_time(), children_cpu_s()
        server0 = group_cpu_s(server_pid if is_server else None)
        est.fit(X, y)
        fit_s = time.perf_counter() - t0
        main_cpu = time.process_time() - cpu0
        writer_cpu = children_cpu_s() - kids0  # the writer process, reaped at end_search
        server_cpu = group_cpu_s(server_pid if is_server else None) - server0
    finally:
        os.chdir(cwd)
        tracking.MlflowTracker = original
    trial_s = [(t.datetime_complete - t.datetime_start).total_seconds() for t in est.study_.trials]
    result = {
        "fit_s": fit_s,
        "trial_s": trial_s,
        "n_trials": len(trial_s),
        "main_cpu_s": main_cpu,
        "writer_cpu_s": writer_cpu,
        "server_cpu_s": server_cpu,
        "n_params": [t.user_attrs.get("n_params") for t in est.study_.trials],
    }
    if trackers:
        tracker = trackers[0]
        result.update(tracker.timings)
        result.update(tracker.one_off)
        result["server_cpu_search_s"] = getattr(tracker, "server_cpu_search", 0.0)
    return result


def start_server(directory: Path) -> tuple[str, Path, int]:
    port = free_port()
    env = dict(os.environ, MLFLOW_BIN=str(Path(sys.executable).with_name("mlflow")))
    env.pop("MLFLOW_TRACKING_URI", None)
    subprocess.run(
        ["bash", str(REPO / "mlflow" / "start_server.sh"), str(directory), str(port)],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    return f"http://127.0.0.1:{port}", directory, int((directory / "server.pid").read_text())


def stop_server(directory: Path) -> None:
    subprocess.run(
        ["bash", str(REPO / "mlflow" / "stop_server.sh"), str(directory)], capture_output=True,
        check=False,
    )


def median_ms(values) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--max-epochs", type=int, nargs="+", default=[100, 20])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(result_path("mlflow_overhead")),
                        help="prefix of the .csv and .md outputs")
    args = parser.parse_args(argv)

    import optuna
    from sklearn.datasets import load_digits

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # "none" must mean no tracking
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    where = machine(["automl_nas", "torch", "optuna", "mlflow", "scikit-learn"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server_uri, server_dir, server_pid = start_server(tmp / "server")
        try:
            # A first, unmeasured fit pays torch's and MLflow's cold start.
            run_search(X[:300], y[:300], 2, 2, None, tmp, "process", None)
            for max_epochs, repeat in [
                (e, r) for e in args.max_epochs for r in range(args.repeats)
            ]:
                base = None
                for store, uri, writer in (
                    ("none", None, "process"),
                    ("sqlite", f"sqlite:///{tmp}/e{max_epochs}r{repeat}.db", "process"),
                    ("server", server_uri, "process"),
                    ("sqlite-thread", f"sqlite:///{tmp}/t{max_epochs}r{repeat}.db", "thread"),
                ):
                    res = run_search(X, y, args.trials, max_epochs, uri, tmp, writer, server_pid)
                    if base is None:
                        base = res
                    same = res["n_params"] == base["n_params"]  # same seeded trials, same work
                    n = res["n_trials"]
                    # CPU tracking added: in this process (callback, parent run, model, plots,
                    # a writer thread), in the writer process, in the server.
                    added_cpu = (
                        res["main_cpu_s"]
                        - base["main_cpu_s"]
                        + res["writer_cpu_s"]
                        + res["server_cpu_s"]
                    )

                    def med(key, digits=1, res=res):
                        return round(statistics.median(res[key]), digits) if res.get(key) else ""

                    train_cpu_ms = 1000 * base["main_cpu_s"] / n
                    # Recurring cost per trial: the writer's CPU for one child run, plus for a
                    # server its CPU between the start of the search and the model's logging.
                    per_trial = (
                        statistics.median(res["write_cpu_ms"])
                        + 1000 * res.get("server_cpu_search_s", 0.0) / n
                        if res.get("write_cpu_ms")
                        else None
                    )
                    row = {
                        "max_epochs": max_epochs,
                        "store": store,
                        "writer": writer if uri else "",
                        "repeat": repeat,
                        "n_trials": n,
                        "same_trials": same,
                        "fit_s": round(res["fit_s"], 2),
                        "trial_total_s": round(sum(res["trial_s"]), 2),
                        "median_trial_ms": round(median_ms(res["trial_s"]), 1),
                        "train_cpu_ms_per_trial": round(train_cpu_ms, 1),
                        "median_callback_ms": med("callback_ms", 3),
                        "median_write_ms": med("write_ms"),
                        "median_write_cpu_ms": med("write_cpu_ms"),
                        "per_trial_cpu_ms": round(per_trial, 1) if per_trial is not None else "",
                        "per_trial_cpu_pct": round(100 * per_trial / train_cpu_ms, 2)
                        if per_trial is not None
                        else "",
                        "added_cpu_s": round(added_cpu, 2) if uri else "",
                        "main_cpu_s": round(res["main_cpu_s"], 2),
                        "writer_cpu_s": round(res["writer_cpu_s"], 2),
                        "server_cpu_s": round(res["server_cpu_s"], 2),
                        "start_search_s": round(res.get("start_search_s", 0), 2) or "",
                        "log_model_s": round(res.get("log_model_s", 0), 2) or "",
                        "end_search_s": round(res.get("end_search_s", 0), 2) or "",
                    }
                    rows.append(row)
                    print(row, flush=True)
        finally:
            stop_server(server_dir)
    load_after = os.getloadavg()[0]

    out = Path(args.out)
    write_csv(out.with_suffix(".csv"), rows)

    def agg(store, key, max_epochs):
        values = [
            r[key]
            for r in rows
            if r["store"] == store and r["max_epochs"] == max_epochs and r[key] != ""
        ]
        return statistics.median(values) if values else float("nan")

    lines = [
        "# MLflow tracking overhead (demo search)",
        "",
        (f"{where.summary()}. Load average before/after: {where.load1:.1f} / "
         f"{load_after:.1f}."),
        "",
        (f"Search: AutoNASClassifier on sklearn digits ({X.shape[0]} x {X.shape[1]}), "
         f"{args.trials} trials, random_state=0, n_jobs=1, defaults otherwise (median pruner, "
         f"patience 10); max_epochs {' and '.join(map(str, args.max_epochs))}; {args.repeats} "
         f"interleaved repeats, medians over repeats. Command: `{command(__file__, argv)}`."),
    ]
    stores = ("sqlite", "server", "sqlite-thread")
    for e in args.max_epochs:
        base_total = agg("none", "trial_total_s", e)
        nones = [r["trial_total_s"] for r in rows if r["store"] == "none" and r["max_epochs"] == e]
        lines += [
            "",
            f"## max_epochs={e}",
            "",
            (f"Without tracking: median trial {agg('none', 'median_trial_ms', e):.0f} ms wall; "
             f"training CPU per trial (total / trials) "
             f"{agg('none', 'train_cpu_ms_per_trial', e):.0f} ms; sum of trial times "
             f"{base_total:.1f} s (untracked repeats alone: {min(nones):.1f} to "
             f"{max(nones):.1f} s). Same trials in every run: "
             f"{all(r['same_trials'] for r in rows if r['max_epochs'] == e)}."),
            "",
            ("| store (writer) | search waits, ms/trial | write, ms/trial wall | write CPU, "
             "ms/trial | per-trial tracking CPU, ms | per-trial CPU / training CPU | sum of "
             "trial times vs none (wall) | all added CPU per fit, s | open / model / close, s |"),
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for store in stores:
            writer = next((r["writer"] for r in rows if r["store"] == store), "")
            total = agg(store, "trial_total_s", e)
            lines.append(
                f"| {store.split('-')[0]} ({writer}) | {agg(store, 'median_callback_ms', e):.2f} "
                f"| {agg(store, 'median_write_ms', e):.0f} | "
                f"{agg(store, 'median_write_cpu_ms', e):.1f} | "
                f"{agg(store, 'per_trial_cpu_ms', e):.1f} | "
                f"**{agg(store, 'per_trial_cpu_pct', e):.1f} %** | "
                f"{100 * (total / base_total - 1):+.1f} % | {agg(store, 'added_cpu_s', e):.1f} | "
                f"{agg(store, 'start_search_s', e):.1f} / {agg(store, 'log_model_s', e):.1f} / "
                f"{agg(store, 'end_search_s', e):.1f} |"
            )
    lines += [
        "",
        "How to read it:",
        "",
        ("- *search waits*: time the search thread spends in the tracker callback (it queues the "
         "record; nothing else happens on the search's critical path)."),
        ("- *write*: wall time to write one trial's child run (create_run, log_batch, end "
         "update); *write CPU*: CPU that took, in the writer process (or thread)."),
        ("- *per-trial tracking CPU*: write CPU, plus for the server its CPU from the start of "
         "the search to the model's logging, divided by the trials. *per-trial CPU / training "
         "CPU* compares it with the CPU one trial of training takes (the same seeded trials "
         "run in every configuration, so the training work is identical)."),
        ("- The searches of small networks use one core (GIL-bound Python). With the `process` "
         "writer MLflow's work runs in another process, on another core when one is free; "
         "the `thread` writer (the fallback) shares the search's core and GIL."),
        ("- *sum of trial times vs none*: the wall-clock effect on training as measured here. The "
         "VM is shared with other jobs (see the load averages), so this column is noisy; "
         "CPU time is not."),
        ("- *all added CPU per fit*: everything tracking cost in CPU, one-offs included: the "
         "writer process start (importing mlflow 2-2.7 s CPU, opening a SQLite store 1-1.5 s; "
         "it runs beside the first trials), opening the run (a new SQLite database is migrated: "
         "several s), logging + registering the model, plots. It is noisy too: it subtracts "
         "this process's CPU in an untracked run."),
        "",
        f"Raw rows: `{out.with_suffix('.csv').name}`.",
    ]
    print(write_text(out.with_suffix(".md"), lines), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
