"""Search strategies on NAS-Bench-201 and the YAHPO LCBench surrogate, through plain Optuna.

Compares random search, TPE (Optuna's default, multivariate) and automl_nas's
``RegularizedEvolutionSampler`` and ``ReinforceSampler`` (the classes the estimator uses) at
equal numbers of evaluations, over many seeds. Nothing is trained: both benchmarks are a table
and a surrogate read from the data folder (``--data``), so a run takes minutes on a 2-core CPU.

* NAS-Bench-201: the 15,625 cells of ``nas/nats_tss_nb201_15625_test_acc.csv`` (6 edges x 5
  ops). The objective is the CIFAR-10 test accuracy after 200 epochs, the only accuracy in the
  table. A repeated cell counts as a new evaluation, as it would cost a new training.
* LCBench (YAHPO Gym surrogate): funnel MLPs on OpenML tasks, 7 hyperparameters, 52 epochs.
  Every epoch's validation accuracy is reported to Optuna and a successive-halving pruner stops
  trials, so cost is counted in epochs as well as evaluations; the same searches without pruning
  tell what the samplers do on their own. yahpo-gym 1.0.2 pins numpy < 2
  (through ConfigSpace 0.6.1), so it runs in its own virtual environment, in a subprocess that
  this script creates on first use (``--yahpo-venv``).

Usage (from the repository root; ``nice`` leaves the CPU to others first; ``--data DIR`` or
$AUTOML_NAS_DATA names the data folder)::

    nice -n 10 python benchmarks/nas_samplers.py fidelity   # where may successive halving start
    nice -n 10 python benchmarks/nas_samplers.py tune       # pick hyperparameters (own seeds)
    nice -n 10 python benchmarks/nas_samplers.py run        # the comparison, tables and plots
    python benchmarks/nas_samplers.py report                # tables and plots again from the CSV

Results go to ``benchmarks/results/nas_samplers*``; ``run`` records the machine beside the CSV
(``nas_samplers.json``), which ``report`` prints with the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import venv
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from harness import add_data_option, data_dir, machine, result_path, write_json, write_text
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from automl_nas.samplers import RegularizedEvolutionSampler, ReinforceSampler

#: Where and when the recorded CSV was made: it predates the machine file that ``run`` writes.
RECORDED = "2-core CPU VM (no GPU), shared with other work, run under nice, 2026-11-23"

# ----------------------------------------------------------------------------- NAS-Bench-201
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NB201_EDGES = ("1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2")
NB201_SPACE: dict[str, BaseDistribution] = {
    edge: CategoricalDistribution(NB201_OPS) for edge in NB201_EDGES
}
NB201_PUBLISHED = {  # Dong & Yang 2020, CIFAR-10 test accuracy, their own search budget
    "random": "93.70 ± 0.36",
    "evolution": "93.92 ± 0.30",
    "reinforce": "93.85 ± 0.37",
}
NB201_OPTIMUM = 94.37


def parse_arch(arch: str) -> tuple[str, ...]:
    """``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` -> the ops of edges 1<-0, 2<-0, ..., 3<-2."""
    return tuple(
        token.split("~")[0] for node in arch.split("+") for token in node.strip("|").split("|")
    )


def load_nb201(data: Path) -> dict[tuple[str, ...], float]:
    """Cell (6 ops) -> CIFAR-10 test accuracy after 200 epochs."""
    table = pd.read_csv(data / "nas" / "nats_tss_nb201_15625_test_acc.csv")
    accuracy = dict(
        zip(map(parse_arch, table["ArchitectureString"]), table["CIFAR10TestAccuracy200Epochs"])
    )
    if len(accuracy) != 15_625:
        raise ValueError(f"expected 15,625 distinct NAS-Bench-201 cells, found {len(accuracy)}")
    return accuracy


# ----------------------------------------------------------------------------- LCBench
LCBENCH_SPACE: dict[str, BaseDistribution] = {
    "batch_size": IntDistribution(16, 512, log=True),
    "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
    "momentum": FloatDistribution(0.1, 0.99),
    "weight_decay": FloatDistribution(1e-5, 0.1),
    "num_layers": IntDistribution(1, 5),
    "max_units": IntDistribution(64, 1024, log=True),
    "max_dropout": FloatDistribution(0.0, 1.0),
}
LCBENCH_TASKS = ("167184", "168330", "189909")  # OpenML task ids far from 100% accuracy
LCBENCH_EPOCHS = 52
# Successive halving decides at epochs 5, 15 and 45 (min_resource=5, reduction_factor=3): in
# the surrogate, epoch-1 accuracy does not rank configurations by their epoch-52 accuracy at
# all, epoch 5 does fairly well (the `fidelity` command). Asking the surrogate only for the
# epochs up to the next decision keeps its cost in step with the epochs consumed.
SHA_MIN_RESOURCE, SHA_REDUCTION = 5, 3
LCBENCH_CHUNKS = (5, 15, 45, LCBENCH_EPOCHS)

YAHPO_WORKER = """
import contextlib, json, sys
from yahpo_gym import BenchmarkSet, local_config
with contextlib.redirect_stdout(sys.stderr):  # yahpo prints a citation notice
    local_config.init_config()
    local_config.set_data_path(sys.argv[1])
    bench = BenchmarkSet("lcbench", multithread=False, check=False)
for line in sys.stdin:
    request = json.loads(line)
    bench.set_instance(request["task"])
    rows = [dict(request["config"], OpenML_task_id=request["task"], epoch=e)
            for e in request["epochs"]]
    results = bench.objective_function(rows, multithread=False)
    print(json.dumps([float(r["val_accuracy"]) for r in results]), flush=True)
"""


def yahpo_python(env_dir: Path) -> Path:
    """The interpreter of a virtual environment with yahpo-gym 1.0.2, created on first use."""
    python = env_dir / "bin" / "python"
    if not python.exists():
        print(f"creating {env_dir} with yahpo-gym 1.0.2 (once)", file=sys.stderr)
        venv.create(env_dir, with_pip=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "yahpo-gym==1.0.2"], check=True)
    return python


class LCBenchSurrogate:
    """YAHPO Gym's LCBench surrogate in a subprocess: ``curve(task, config, epochs)``."""

    def __init__(self, python: Path, data: Path) -> None:
        self._process = subprocess.Popen(
            [python, "-c", YAHPO_WORKER, str(data / "yahpo")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )

    def curve(self, task: str, config: dict, epochs: Sequence[int]) -> list[float]:
        """Validation accuracy (%) after each of ``epochs``."""
        request = {"task": task, "config": config, "epochs": list(epochs)}
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the yahpo-gym worker died; run it by hand to see why")
        return json.loads(line)


# ----------------------------------------------------------------------------- samplers
SAMPLERS = ("random", "tpe", "evolution", "reinforce")
#: On LCBench, also evolution with a population of complete trials only (see the README).
LCBENCH_SAMPLERS = (*SAMPLERS, "evolution-complete-only")
#: What ``run`` gives each sampler on top of its class defaults: the choices of ``tune``.
RUN_SETTINGS: dict[str, dict] = {
    "evolution": {"population_size": 20, "sample_size": 5},
    "evolution-complete-only": {
        "population_size": 20,
        "sample_size": 5,
        "consider_pruned_trials": False,
    },
    "reinforce": {"n_bins": 5},
}
RESULTS = result_path("nas_samplers.csv.gz")
MACHINE_FILE = result_path("nas_samplers.json")


def make_sampler(
    name: str, space: dict[str, BaseDistribution], seed: int, settings: dict
) -> optuna.samplers.BaseSampler:
    """A fresh sampler for one search, with ``settings`` on top of the class defaults."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed, **settings)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, **settings)
    if name.startswith("evolution"):
        return RegularizedEvolutionSampler(space, seed=seed, **settings)
    if name == "reinforce":
        return ReinforceSampler(space, seed=seed, **settings)
    raise ValueError(f"unknown sampler {name!r}")


def suggest(trial: optuna.Trial, space: dict[str, BaseDistribution]) -> dict:
    """Every parameter of ``space`` through the public ``suggest_*`` API."""
    params = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(name, dist.low, dist.high, log=dist.log)
        else:
            params[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    return params


# ----------------------------------------------------------------------------- one search
_NB201: dict[tuple[str, ...], float] | None = None
_SURROGATE: LCBenchSurrogate | None = None


def _init_worker(data: Path, yahpo: Path | None) -> None:
    """Per process: load the table, start a surrogate, keep torch to one thread."""
    global _NB201, _SURROGATE
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _NB201 = load_nb201(data)
    _SURROGATE = LCBenchSurrogate(yahpo, data) if yahpo is not None else None


def search_nb201(sampler: str, seed: int, n_trials: int, settings: dict) -> list[dict]:
    """One search on NAS-Bench-201: one row per trial."""
    study = optuna.create_study(
        direction="maximize", sampler=make_sampler(sampler, NB201_SPACE, seed, settings)
    )
    study.optimize(
        lambda trial: _NB201[tuple(suggest(trial, NB201_SPACE).values())], n_trials=n_trials
    )
    return [
        {
            "trial": t.number,
            "value": t.value,
            "state": t.state.name,
            "epochs": np.nan,
            "cell": "|".join(t.params[edge] for edge in NB201_EDGES),
        }
        for t in study.trials
    ]


def search_lcbench(
    sampler: str, seed: int, n_trials: int, task: str, settings: dict, prune: bool
) -> list[dict]:
    """One search on an LCBench task, with successive halving if ``prune``: a row per trial."""

    def objective(trial: optuna.Trial) -> float:
        config = suggest(trial, LCBENCH_SPACE)
        done = 0
        for end in LCBENCH_CHUNKS:
            curve = _SURROGATE.curve(task, config, range(done + 1, end + 1))
            for epoch, accuracy in enumerate(curve, start=done + 1):
                trial.report(accuracy, epoch)
                trial.set_user_attr("epochs", epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            done = end
        return accuracy

    study = optuna.create_study(
        direction="maximize",
        sampler=make_sampler(sampler, LCBENCH_SPACE, seed, settings),
        pruner=optuna.pruners.SuccessiveHalvingPruner(
            min_resource=SHA_MIN_RESOURCE, reduction_factor=SHA_REDUCTION
        )
        if prune
        else optuna.pruners.NopPruner(),
    )
    study.optimize(objective, n_trials=n_trials)
    return [
        {
            "trial": t.number,
            "value": t.value
            if t.value is not None
            else t.intermediate_values[max(t.intermediate_values)],
            "state": t.state.name,
            "epochs": t.user_attrs["epochs"],
        }
        for t in study.trials
    ]


def _job(job: dict) -> list[dict]:
    """One search described by ``job``; its rows carry the job's description."""
    started = time.perf_counter()
    settings = job["settings"]
    if job["benchmark"] == "nb201":
        pruner = "none"
        rows = search_nb201(job["sampler"], job["seed"], job["n_trials"], settings)
    else:
        pruner = job.get("pruner", "sha")
        rows = search_lcbench(
            job["sampler"], job["seed"], job["n_trials"], job["task"], settings, pruner == "sha"
        )
    seconds = time.perf_counter() - started
    meta = {k: v for k, v in job.items() if k not in ("n_trials", "settings")}
    meta["config"] = json.dumps(settings, sort_keys=True)
    meta["pruner"] = pruner
    return [{**meta, **row, "run_seconds": seconds} for row in rows]


def run_jobs(jobs: list[dict], data: Path, yahpo: Path | None, n_jobs: int) -> pd.DataFrame:
    """All searches, ``n_jobs`` processes at a time; rows in a stable order."""
    rows: list[dict] = []
    with ProcessPoolExecutor(n_jobs, initializer=_init_worker, initargs=(data, yahpo)) as pool:
        for i, result in enumerate(pool.map(_job, jobs, chunksize=1), start=1):
            rows.extend(result)
            if i % 20 == 0 or i == len(jobs):
                print(f"  {i}/{len(jobs)} searches", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- summaries
def best_so_far(runs: pd.DataFrame) -> pd.DataFrame:
    """Per search, the best complete value after each evaluation and the epochs consumed."""
    keys = ["benchmark", "task", "sampler", "config", "pruner", "seed"]
    runs = runs.sort_values([*keys, "trial"]).copy()
    complete = runs["value"].where(runs["state"] == "COMPLETE")
    groups = [runs[k] for k in keys]
    runs["best"] = complete.groupby(groups).cummax().groupby(groups).ffill()
    runs["epochs_used"] = runs.groupby(keys)["epochs"].cumsum()
    runs["evaluations"] = runs["trial"] + 1
    return runs


def table_at(curves: pd.DataFrame, checkpoints: Iterable[int]) -> pd.DataFrame:
    """Mean ± std over seeds of the best value after each checkpoint (in evaluations)."""
    at = curves[curves["evaluations"].isin(list(checkpoints))]
    keys = ["task", "sampler", "config", "pruner", "evaluations"]
    stats = at.groupby(keys)["best"].agg(["mean", "std"])
    return stats.reset_index()


def fmt(mean: float, std: float) -> str:
    return f"{mean:.2f} ± {std:.2f}"


def provenance() -> str:
    """Machine and date of the CSV's run, from the file :func:`run` writes beside it."""
    if not MACHINE_FILE.exists():
        return RECORDED
    m = json.loads(MACHINE_FILE.read_text())
    gpu = f"GPU {m['gpu']}" if m["gpu"] else "no GPU"
    return (f"{m['cpu']}, nproc {m['nproc']}, {gpu}, 1-min load {m['load1']:.2f} at the start, "
            f"nice {m['nice']}, {m['date']}")


def markdown_nb201(curves: pd.DataFrame, seeds: int, order: Sequence[str], where: str) -> str:
    stats = table_at(curves, (50, 100, 300))
    distinct = (
        curves[curves["evaluations"] <= 300]
        .groupby(["sampler", "seed"])["cell"]
        .nunique()
        .groupby("sampler")
        .mean()
    )
    lines = [
        (
            f"NAS-Bench-201, CIFAR-10 test accuracy (%) of the best cell found, mean ± std over "
            f"{seeds} seeds ({where}). Optimum {NB201_OPTIMUM}."
        ),
        "",
        (
            "| sampler | 50 evaluations | 100 evaluations | 300 evaluations "
            "| distinct cells in 300 | published |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for sampler in order:
        row = stats[stats["sampler"] == sampler].set_index("evaluations")
        cells = [fmt(row.loc[n, "mean"], row.loc[n, "std"]) for n in (50, 100, 300)]
        lines.append(
            f"| {sampler} | {' | '.join(cells)} | {distinct[sampler]:.0f} "
            f"| {NB201_PUBLISHED.get(sampler, '')} |"
        )
    return "\n".join(lines)


def markdown_lcbench(
    curves: pd.DataFrame, seeds: int, order: Sequence[str], n: int, pruned: bool, where: str
) -> str:
    checkpoints = (n // 3, 2 * n // 3, n)
    stats = table_at(curves, checkpoints)
    setting = (
        f"successive halving (min_resource={SHA_MIN_RESOURCE}, reduction_factor={SHA_REDUCTION})"
        if pruned
        else "no pruning: every trial trains 52 epochs"
    )
    lines = [
        (
            f"LCBench (YAHPO surrogate), validation accuracy (%) after 52 epochs of the best "
            f"complete trial, mean ± std over {seeds} seeds, {setting} ({where})."
        ),
        "",
        "| task | sampler | "
        + " | ".join(f"{c} evaluations" for c in checkpoints)
        + (
            f" | epochs for {n} evaluations | complete trials | best at equal epochs |"
            if pruned
            else " |"
        ),
        "|---|---|" + "---|" * len(checkpoints) + ("---|---|---|" if pruned else ""),
    ]
    if pruned:
        last = curves[curves["evaluations"] == n]
        epochs = last.groupby(["task", "sampler"])["epochs_used"].mean()
        # Equal cost: the most epochs every search of the task spent, rounded down to 100.
        budget = (last.groupby("task")["epochs_used"].min() // 100 * 100).astype(int)
        within = curves[curves["epochs_used"] <= curves["task"].map(budget)]
        at_budget = within.groupby(["task", "sampler", "seed"])["best"].last()
        at_budget = at_budget.groupby(["task", "sampler"]).agg(["mean", "std"])
        complete = (
            curves[curves["state"] == "COMPLETE"]
            .groupby(["task", "sampler", "seed"])
            .size()
            .groupby(["task", "sampler"])
            .mean()
        )
    for task in sorted(curves["task"].unique()):
        for sampler in order:
            row = stats[(stats["task"] == task) & (stats["sampler"] == sampler)]
            if row.empty:
                continue
            row = row.set_index("evaluations")
            cells = [fmt(row.loc[c, "mean"], row.loc[c, "std"]) for c in checkpoints]
            line = f"| {task} | {sampler} | {' | '.join(cells)} |"
            if pruned:
                line += (
                    f" {epochs[(task, sampler)]:.0f} | {complete[(task, sampler)]:.1f} | "
                    f"{fmt(*at_budget.loc[(task, sampler)])} ({budget[task]} epochs) |"
                )
            lines.append(line)
    return "\n".join(lines)


def plot(
    curves: pd.DataFrame,
    order: Sequence[str],
    path: Path,
    title: str,
    optimum: float | None = None,
    epochs_panel: bool = True,
) -> None:
    """Best-so-far vs evaluations (and vs epochs where counted), mean with a ±std band.

    The epochs axis stops where the cheapest seed of a sampler ran out of evaluations, so
    every point averages all seeds.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted(curves["task"].unique())
    with_epochs = epochs_panel and curves["epochs"].notna().any()
    rows = 2 if with_epochs else 1
    fig, axes = plt.subplots(rows, len(tasks), figsize=(5 * len(tasks), 4 * rows), squeeze=False)
    for col, task in enumerate(tasks):
        for sampler in order:
            runs = curves[(curves["task"] == task) & (curves["sampler"] == sampler)]
            if runs.empty:
                continue
            best = runs.pivot(index="evaluations", columns="seed", values="best")
            style = "--" if sampler.endswith("complete-only") else "-"
            _band(axes[0, col], best.index, best, sampler, style)
            if with_epochs:
                grid = np.linspace(0, runs.groupby("seed")["epochs_used"].max().min(), 200)
                per_seed = [
                    _step_at(seed_runs["epochs_used"], seed_runs["best"], grid)
                    for _, seed_runs in runs.groupby("seed")
                ]
                _band(axes[1, col], grid, pd.DataFrame(np.array(per_seed).T), sampler, style)
        axes[0, col].set(title=f"{title} {task}".strip(), xlabel="evaluations", ylabel="best")
        if optimum is not None:
            axes[0, col].axhline(optimum, color="black", linestyle=":", label="optimum")
            axes[0, col].set_ylim(optimum - 2.0, optimum + 0.2)
        if with_epochs:
            axes[1, col].set(xlabel="epochs consumed", ylabel="best")
    axes[0, 0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _band(ax, x, values: pd.DataFrame, label: str, style: str) -> None:
    mean, std = values.mean(axis=1), values.std(axis=1)
    ax.plot(x, mean, style, label=label)
    ax.fill_between(x, mean - std, mean + std, alpha=0.2)


def _step_at(x: pd.Series, y: pd.Series, grid: np.ndarray) -> np.ndarray:
    """The last ``y`` at or before each grid point (``nan`` before the first)."""
    index = np.searchsorted(x.to_numpy(), grid, side="right") - 1
    return np.where(index >= 0, y.to_numpy()[np.clip(index, 0, None)], np.nan)


# ----------------------------------------------------------------------------- commands
def tune(args: argparse.Namespace) -> None:
    """Hyperparameters of evolution and REINFORCE, on seeds kept for tuning (1000 and up).

    NAS-Bench-201: a grid over population/sample size and learning rate. LCBench: REINFORCE
    varied one setting at a time around its defaults, with random search as the reference.
    """
    seeds = range(1000, 1000 + args.seeds)  # never the seeds of `run`
    started = time.perf_counter()
    if "nb201" in args.benchmarks:
        grid: list[tuple[str, dict]] = [
            ("evolution", {"population_size": p, "sample_size": s})
            for p in (10, 20, 50)
            for s in (3, 5, 10)
            if s <= p
        ] + [("reinforce", {"lr": lr}) for lr in (0.01, 0.02, 0.05, 0.1, 0.2)]
        jobs = [
            {
                "benchmark": "nb201",
                "task": "cifar10",
                "sampler": s,
                "seed": seed,
                "n_trials": 300,
                "settings": kw,
            }
            for s, kw in grid
            for seed in seeds
        ]
        curves = best_so_far(run_jobs(jobs, args.data, None, args.jobs))
        _write_tuning(curves, ["sampler", "config"], (100, 300), "nb201")
    if "lcbench" in args.benchmarks:
        # REINFORCE one setting at a time, then pairs, under successive halving; and every
        # sampler without pruning, which tells the sampler's fault from the pruner's.
        grid = [("sha", "random", {}), ("sha", "reinforce", {})] + [
            ("sha", "reinforce", kw)
            for kw in (
                {"lr": 0.05},
                {"lr": 0.2},
                {"n_bins": 5},
                {"entropy_weight": 1e-2},
                {"consider_pruned_trials": False},
                {"consider_pruned_trials": False, "n_bins": 5},
                {"consider_pruned_trials": False, "lr": 0.2},
            )
        ]
        grid += [("none", s, {}) for s in SAMPLERS] + [("none", "reinforce", {"n_bins": 5})]
        jobs = [
            {
                "benchmark": "lcbench",
                "task": task,
                "sampler": s,
                "seed": seed,
                "n_trials": args.lcbench_trials,
                "settings": kw,
                "pruner": pruner,
            }
            for task in args.tasks
            for pruner, s, kw in grid
            for seed in seeds
        ]
        yahpo = yahpo_python(args.yahpo_venv)
        curves = best_so_far(run_jobs(jobs, args.data, yahpo, args.jobs))
        n = args.lcbench_trials
        keys = ["task", "pruner", "sampler", "config"]
        _write_tuning(curves, keys, (n // 3, n), "lcbench")
    print(f"tuning took {time.perf_counter() - started:.0f} s", file=sys.stderr)


def _write_tuning(
    curves: pd.DataFrame, keys: list[str], checkpoints: tuple[int, ...], name: str
) -> None:
    stats = table_at(curves, checkpoints)
    summary = stats.pivot_table(index=keys, columns="evaluations", values=["mean", "std"])
    summary.columns = [f"{stat}_at_{n}" for stat, n in summary.columns]
    summary = summary.reset_index()
    path = result_path(f"nas_samplers_tuning_{name}.csv")
    summary.to_csv(path, index=False, float_format="%.3f")
    print(summary.to_string(index=False))


def run(args: argparse.Namespace) -> None:
    """The comparison: every search, the raw CSV, then :func:`report`."""
    seeds = range(args.seeds)
    jobs = [
        {
            "benchmark": "nb201",
            "task": "cifar10",
            "sampler": s,
            "seed": seed,
            "n_trials": 300,
            "settings": RUN_SETTINGS.get(s, {}),
        }
        for s in SAMPLERS
        for seed in seeds
    ]
    # LCBench with successive halving, and without pruning as the sampler-only reference.
    lcbench = [("sha", s) for s in LCBENCH_SAMPLERS] + [("none", s) for s in SAMPLERS]
    jobs += [
        {
            "benchmark": "lcbench",
            "task": task,
            "sampler": s,
            "seed": seed,
            "n_trials": args.lcbench_trials,
            "settings": RUN_SETTINGS.get(s, {}),
            "pruner": pruner,
        }
        for task in args.tasks
        for pruner, s in lcbench
        for seed in seeds
    ]
    # Longest searches first keeps both processes busy to the end.
    jobs.sort(key=lambda job: job["benchmark"] != "lcbench")
    started = time.perf_counter()
    yahpo = yahpo_python(args.yahpo_venv) if args.tasks else None
    where = {**machine().as_dict(), "nice": os.nice(0)}
    raw = run_jobs(jobs, args.data, yahpo, args.jobs)
    elapsed = time.perf_counter() - started
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    raw.to_csv(RESULTS, index=False, float_format="%.4f")
    write_json(MACHINE_FILE, where)
    print(f"wall time {elapsed / 60:.1f} min with {args.jobs} processes", file=sys.stderr)
    report(args)


def report(args: argparse.Namespace) -> None:
    """Plots and markdown tables from the raw CSV that :func:`run` wrote."""
    curves = best_so_far(pd.read_csv(RESULTS, dtype={"task": str, "cell": str}))
    nb201 = curves[curves["benchmark"] == "nb201"]
    lc = curves[curves["benchmark"] == "lcbench"]
    where = provenance()
    plot(nb201, SAMPLERS, result_path("nas_samplers_nb201.png"), "NAS-Bench-201", NB201_OPTIMUM)
    sections = [markdown_nb201(nb201, nb201["seed"].nunique(), SAMPLERS, where)]
    for pruner, runs in lc.groupby("pruner"):
        pruned = pruner == "sha"
        n = int(runs["evaluations"].max())
        name = "lcbench" if pruned else "lcbench_no_pruning"
        title = "LCBench task" if pruned else "LCBench (no pruning) task"
        plot(
            runs,
            LCBENCH_SAMPLERS,
            result_path(f"nas_samplers_{name}.png"),
            title,
            epochs_panel=pruned,
        )
        seeds = runs["seed"].nunique()
        sections.append(markdown_lcbench(runs, seeds, LCBENCH_SAMPLERS, n, pruned, where))
    searches = curves.groupby(["benchmark", "task", "sampler", "config", "pruner", "seed"])
    cpu = searches["run_seconds"].first().groupby(level="benchmark").sum() / 60
    sections.append(
        "Search time, summed over searches: "
        + ", ".join(f"{bench} {minutes:.1f} min" for bench, minutes in cpu.items())
        + "."
    )
    text = "\n\n".join(sections) + "\n"
    write_text(result_path("nas_samplers.md"), text)
    print(text)


def fidelity(args: argparse.Namespace) -> None:
    """How well epoch-k accuracy ranks epoch-52 accuracy: where successive halving may start."""
    surrogate = LCBenchSurrogate(yahpo_python(args.yahpo_venv), args.data)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    configs = [study.ask(LCBENCH_SPACE).params for _ in range(300)]
    epochs = (1, 3, 5, 9, 15, 27, 45)
    rows = []
    for task in args.tasks:
        curves = pd.DataFrame(
            [surrogate.curve(task, config, range(1, LCBENCH_EPOCHS + 1)) for config in configs],
            columns=range(1, LCBENCH_EPOCHS + 1),
        )
        final = curves[LCBENCH_EPOCHS]
        rows.append({"task": task, **{e: curves[e].corr(final, method="spearman") for e in epochs}})
    table = pd.DataFrame(rows).set_index("task")
    table.columns = [f"spearman_epoch_{e}" for e in epochs]
    table.to_csv(result_path("nas_samplers_fidelity.csv"), float_format="%.3f")
    print(table.round(2).to_string())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("run", "report", "tune", "fidelity"))
    add_data_option(parser)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2, help="processes")
    parser.add_argument(
        "--tasks",
        nargs="*",
        default=list(LCBENCH_TASKS),
        help="LCBench OpenML task ids; none to skip LCBench",
    )
    parser.add_argument("--lcbench-trials", type=int, default=150)
    parser.add_argument(
        "--yahpo-venv",
        type=Path,
        default=Path.home() / ".cache" / "automl_nas" / "yahpo-venv",
        help="virtual environment for yahpo-gym (created if missing)",
    )
    parser.add_argument(
        "--benchmarks",
        nargs="+",
        default=["nb201", "lcbench"],
        choices=("nb201", "lcbench"),
        help="what `tune` tunes on",
    )
    args = parser.parse_args(argv)
    if args.command != "report":  # report reads only the CSV
        args.data = data_dir(args.data)
    commands = {"run": run, "report": report, "tune": tune, "fidelity": fidelity}
    commands[args.command](args)


if __name__ == "__main__":
    main()
