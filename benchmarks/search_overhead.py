"""Search overhead of the demo search: how much of ``fit``'s wall time is not training.

    python benchmarks/search_overhead.py      # 3 x 60 s searches + a 20 s cProfile pass, ~4.5 min
    python benchmarks/search_overhead.py --budget 20 --cprofile 0 --runs untracked   # quicker

Runs the search of ``pipelines/digits_search.py`` (AutoNASClassifier on sklearn digits, 75/25
stratified split, ``random_state=0``, ``verbose=1``, defaults otherwise) without tracking, then
tracked to MLflow with model registration as the demo does, into a new SQLite database and
again into that existing database. Each search runs in a fresh process.

Timers: every function that ``categories()`` lists is wrapped (on its class or module, for the
search thread only) with a ``perf_counter`` span. Time is *exclusive*: a timed call inside
another is charged to its own category and subtracted from its caller's, so the categories
add up to the wall time of ``fit`` exactly; ``estimator fit, other`` is what ``fit`` did
outside every listed function.

- **Training compute** is the trainer's own loop (``automl_nas.training.train``
  minus its timed callees: index the shuffled batch, forward, loss, backward, optimizer step,
  the summed training loss, LR schedule, validation loss) plus the validation forward pass
  (``forward_all``), in the search and in the refit of the ensemble members after it. A bare
  PyTorch loop does the same work.
- **Overhead** is everything else in ``fit``'s wall time: sampling, storage, pruner, the
  per-epoch metric and report, best-weights copies, model build, Optuna's loop, tracking,
  preprocessing, data movement, the model store, ensemble selection, ... It includes
  torch's one-off lazy import of ``torch._dynamo`` at the first optimizer (any PyTorch program
  pays it once; listed on its own line).

The timers cost about a microsecond per call (measured below and reported); that cost lands in
the overhead. The optional cProfile pass (untracked, shorter budget) is a cross-check: its
compute is ``train``'s cumulative time minus the cumulative time of its overhead callees, and
it lists the costliest functions outside training; cProfile slows Python-heavy code (module
calls, the optimizer's Python) more than the kernels, so its shares are less exact.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import math
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from harness import children_cpu_s, command, machine, result_path, write_csv, write_text

COMPUTE = ("training loop (fwd/bwd/step)", "validation forward")
DYNAMO = "torch._dynamo lazy import (1st optimizer)"


class Spans:
    """Exclusive wall time per category of the wrapped functions, on one thread."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.first: dict[str, float] = {}
        self._stack: list[list[float]] = []
        self._thread = threading.get_ident()
        self._undo: list[tuple[Any, str, Any, bool]] = []

    def timed(self, fn: Any, category: str) -> Any:
        """``fn`` wrapped in a span of ``category`` (other threads call it untimed)."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != self._thread:
                return fn(*args, **kwargs)
            children = [0.0]
            self._stack.append(children)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                self._stack.pop()
                self.seconds[category] += elapsed - children[0]
                self.first.setdefault(category, elapsed - children[0])
                self.calls[category] += 1
                if self._stack:
                    self._stack[-1][0] += elapsed

        return wrapper

    def wrap(self, owner: Any, name: str, category: str) -> None:
        """Replace ``owner.name`` by its timed version until :meth:`restore`.

        A name the code no longer has is reported and skipped: its time then shows up in its
        caller's category.
        """
        if not hasattr(owner, name):
            print(f"note: {getattr(owner, '__name__', owner)}.{name} not found, not timed")
            return
        own = name in vars(owner)
        original = vars(owner)[name] if own else None
        # Plain functions are wrapped as they are, static and class methods inside their
        # decorator, other descriptors (sklearn's available_if) as what the class hands out.
        if isinstance(original, (staticmethod, classmethod)):
            timed = type(original)(self.timed(original.__func__, category))
        elif isinstance(original, types.FunctionType):
            timed = self.timed(original, category)
        else:
            timed = self.timed(getattr(owner, name), category)
        setattr(owner, name, timed)
        self._undo.append((owner, name, original, own))

    def wrap_function(self, fn: Any, category: str) -> None:
        """Time module-level function ``fn`` in every automl_nas module that holds it by name."""
        holders = [
            module for mod_name, module in list(sys.modules.items())
            if mod_name.startswith("automl_nas") and getattr(module, fn.__name__, None) is fn
        ]
        timed = self.timed(fn, category)
        for module in holders:
            setattr(module, fn.__name__, timed)
            self._undo.append((module, fn.__name__, fn, True))

    def restore(self) -> None:
        for owner, name, original, own in reversed(self._undo):
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        self._undo.clear()


def categories() -> tuple[list[tuple[Any, str]], list[tuple[Any, str, str]]]:
    """Timed module-level functions (function, category) and attributes (owner, name, category).

    Only public objects: automl_nas's, Optuna's, scikit-learn's and torch's. A module-level
    function is timed wherever automl_nas holds it by name, so the list holds however the
    package's modules are arranged. Work outside every listed object (the estimator's own
    steps between them) is charged to ``estimator fit, other``.
    """
    import optuna
    import sklearn.compose
    import sklearn.pipeline
    import sklearn.utils.validation
    import torch

    from automl_nas import data, ensemble, search, training
    from automl_nas.estimator import BaseAutoNAS
    from automl_nas.space import MLPSpace, SearchSpace
    from automl_nas.tracking import MlflowTracker

    functions: list[tuple[Any, str]] = [
        (training.train, COMPUTE[0]),
        (training.forward_all, COMPUTE[1]),
        (training.to_device, "split + data movement"),
        (data.train_validation_split, "split + data movement"),
        (data.cross_validation_folds, "split + data movement"),
        (ensemble.greedy_ensemble, "ensemble selection"),
        (sklearn.utils.validation.validate_data, "input validation"),
        (search.open_search, "search set-up (coordinator, spec, budget plan)"),
        (search.end_progress_line, "progress lines"),
    ]
    storage = optuna.storages.InMemoryStorage
    attributes: list[tuple[Any, str, str]] = [
        (torch.nn.Module, "state_dict", "best-weights copy"),
        (torch.nn.Module, "load_state_dict", "best-weights copy"),
        (search.TrialObjective, "score", "validation metric (per epoch)"),
        (search.TrialObjective, "__call__", "trial bookkeeping"),
        (search.MemoryTrialStore, "offer", "model store"),
        (search.TrialModel, "load_model", "finish (load members, to float64)"),
        (torch.nn.Module, "double", "finish (load members, to float64)"),
        (search.BudgetPlan, "make", "search set-up (coordinator, spec, budget plan)"),
        (search.SearchSpec, "context", "search set-up (coordinator, spec, budget plan)"),
        (search.SearchSpec, "objective", "search set-up (coordinator, spec, budget plan)"),
        (MLPSpace, "build", "model build"),
        (SearchSpace, "sample", "sampling"),
        (optuna.trial.Trial, "report", "pruning (report, should_prune)"),
        (optuna.trial.Trial, "should_prune", "pruning (report, should_prune)"),
        (optuna.pruners.PercentilePruner, "prune", "pruning (report, should_prune)"),
        (optuna.study.Study, "optimize", "optuna loop (ask, tell, other)"),
        (optuna.study.Study, "enqueue_trial", "optuna loop (ask, tell, other)"),
        (optuna, "create_study", "storage"),
        (sklearn.pipeline.Pipeline, "fit", "preprocessing"),
        (sklearn.pipeline.Pipeline, "transform", "preprocessing"),
        (sklearn.compose.ColumnTransformer, "fit", "preprocessing"),
        (sklearn.compose.ColumnTransformer, "transform", "preprocessing"),
        (BaseAutoNAS, "fit", "estimator fit, other"),
        (MlflowTracker, "__call__", "tracking: per-trial callback"),
        (MlflowTracker, "start_search", "tracking: open parent run"),
        (MlflowTracker, "trials_done", "tracking: flush, summary, plots"),
        (MlflowTracker, "log_model", "tracking: log + register model"),
        (MlflowTracker, "end_search", "tracking: flush, summary, plots"),
        (search.ProgressPrinter, "__call__", "progress lines"),
    ]
    # The optimizers the trainer builds; the first one built imports torch._dynamo (see DYNAMO).
    for optimizer in (torch.optim.AdamW, torch.optim.Adam, torch.optim.SGD):
        attributes.append((optimizer, "__init__", "optimizer construction"))
    for name in ("suggest_float", "suggest_int", "suggest_categorical"):
        attributes.append((optuna.trial.Trial, name, "sampling"))
    for name in ("infer_relative_search_space", "sample_relative", "sample_independent",
                 "before_trial", "after_trial"):
        attributes.append((optuna.samplers.TPESampler, name, "sampling"))
    for name in vars(storage):
        if not name.startswith("__") and callable(getattr(storage, name)):
            attributes.append((storage, name, "storage"))
    return functions, attributes


def timer_cost_us(n: int = 200_000) -> float:
    """Microseconds one span adds to a call (nested in an outer span, as in a search)."""
    spans = Spans()

    def noop() -> None:
        return None

    def loop(fn: Any) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return time.perf_counter() - t0

    timed, outer = spans.timed(noop, "x"), spans.timed(loop, "outer")
    bare = min(loop(noop) for _ in range(3))
    wrapped = min(outer(timed) for _ in range(3))
    return max(0.0, (wrapped - bare) / n * 1e6)


def digits_split() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def demo_estimator(budget: float, uri: str | None) -> Any:
    """The estimator of pipelines/digits_search.py (tracking off when ``uri`` is None)."""
    from automl_nas import AutoNASClassifier

    tracking = {
        "mlflow_tracking_uri": uri,
        "mlflow_experiment": "digits-demo",
        "register_model": "digits-automl-nas",
    }
    return AutoNASClassifier(
        time_budget=budget, random_state=0, verbose=1, **(tracking if uri else {})
    )


def keep_trackers() -> list[Any]:
    """The MlflowTrackers that start a search from now on, then an undo function (last item)."""
    from automl_nas.tracking import MlflowTracker

    found: list[Any] = []
    original = MlflowTracker.start_search

    def start_search(self: Any, info: dict[str, Any]) -> None:
        found.insert(0, self)
        original(self, info)

    MlflowTracker.start_search = start_search
    found.append(lambda: setattr(MlflowTracker, "start_search", original))
    return found


def writer_timings(trackers: list[Any]) -> dict[str, float]:
    """The tracker's own timings (writer per message, prewarm), seconds, median per kind."""
    if not trackers:
        return {}
    out = {}
    for key, values in trackers[0].timings.items():
        if values:
            scale = 1.0 if key.endswith("_s") else 1e-3
            out[key.removesuffix("_ms").removesuffix("_s")] = statistics.median(values) * scale
    return out


def run_timed(budget: float, tracked: bool, workdir: Path) -> dict[str, Any]:
    """One demo fit under the span timers; its wall, spans and counts."""
    X_train, _, y_train, _ = digits_split()
    uri = f"sqlite:///{workdir}/mlflow.db" if tracked else None
    est = demo_estimator(budget, uri)
    spans = Spans()
    functions, attributes = categories()
    for fn, category in functions:
        spans.wrap_function(fn, category)
    for owner, name, category in attributes:
        spans.wrap(owner, name, category)
    trackers = keep_trackers()
    cwd = os.getcwd()
    os.chdir(workdir)  # MLflow's artifacts go next to the database, not into the repository
    load_before = os.getloadavg()
    try:
        kids0, cpu0 = children_cpu_s(), time.thread_time()
        t0 = time.perf_counter()
        est.fit(X_train, y_train)
        wall = time.perf_counter() - t0
        cpu = time.thread_time() - cpu0
        kids = children_cpu_s() - kids0
    finally:
        spans.restore()
        trackers.pop()()
        os.chdir(cwd)
    seconds = dict(spans.seconds)
    # The first optimizer built in a process imports torch._dynamo: torch's one-off, shown apart.
    first_opt = spans.first.get("optimizer construction", 0.0)
    later = spans.seconds["optimizer construction"] - first_opt
    typical = later / max(1, spans.calls["optimizer construction"] - 1)
    seconds[DYNAMO] = max(0.0, first_opt - typical)
    seconds["optimizer construction"] -= seconds[DYNAMO]
    trials = est.study_.trials
    states = Counter(t.state.name for t in trials)
    return {
        "tracked": tracked,
        "budget": budget,
        "wall": wall,
        "seconds": seconds,
        "calls": dict(spans.calls),
        "trials": len(trials),
        "complete": states.get("COMPLETE", 0),
        "pruned": states.get("PRUNED", 0),
        "epochs": spans.calls[COMPUTE[1]],  # one validation pass per epoch trained
        "n_train": len(X_train) - math.ceil(0.2 * len(X_train)),  # validation_fraction=0.2
        "thread_cpu": cpu,
        "children_cpu": kids,
        "writer": writer_timings(trackers),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def run_cprofile(budget: float) -> dict[str, Any]:
    """One untracked demo fit under cProfile: compute vs overhead from cumulative times."""
    from automl_nas.training import train

    X_train, _, y_train, _ = digits_split()
    est = demo_estimator(budget, None)
    profile = cProfile.Profile()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    profile.enable()
    est.fit(X_train, y_train)
    profile.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(profile).stats

    def key_of(fn: Any) -> tuple:
        code = fn.__code__
        return (code.co_filename, code.co_firstlineno, code.co_name)

    train_key = key_of(train)
    # Time charged to train's direct callees that are not training: the per-epoch callbacks
    # (metric, report/prune, named by the objective), best-weights copies, the optimizer's setup.
    overhead_names = {"score", "report", "deepcopy", "state_dict", "load_state_dict",
                      "make_optimizer"}
    train_cum = stats[train_key][3]
    inside = sum(
        edge[3]
        for func, (_, _, _, _, callers) in stats.items()
        if func[2] in overhead_names
        for caller, edge in callers.items()
        if caller == train_key
    )
    compute = train_cum - inside
    rows = []
    # torch, the trainer's module (wherever train lives) and the networks are training
    training = ("/torch/", train.__code__.co_filename, "automl_nas/nn/")
    for func, (_, calls, tottime, cumtime, _) in stats.items():
        path = func[0]
        torch_builtin = path == "~" and "torch" in func[2]
        if torch_builtin or any(part in path for part in training):
            continue
        rows.append((tottime, cumtime, calls, f"{Path(path).name}:{func[1]}({func[2]})"))
    rows.sort(reverse=True)
    return {
        "wall": wall,
        "compute": compute,
        "train_cum": train_cum,
        "train_overhead_callees": inside,
        "top": rows[:15],
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "trials": len(est.study_.trials),
    }


def share_table(runs: list[dict[str, Any]]) -> list[str]:
    """Markdown table: seconds and share of wall per category, one column pair per run."""
    names = sorted(
        {c for r in runs for c in r["seconds"]},
        key=lambda c: (c not in COMPUTE, -max(r["seconds"].get(c, 0.0) for r in runs)),
    )
    head = "| category | " + " | ".join(f"{r['label']}: s | %" for r in runs) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(runs)]
    for name in names:
        kind = "compute" if name in COMPUTE else "overhead"
        cells = []
        for r in runs:
            s = r["seconds"].get(name, 0.0)
            cells.append(f"{s:.3f} | {100 * s / r['wall']:.2f}")
        lines.append(f"| {name} ({kind}) | " + " | ".join(cells) + " |")
    return lines


RUNS = {
    "untracked": ("untracked", "untracked", "result.json"),
    "tracked, new db": ("tracked", "tracked", "new.json"),
    "tracked, existing db": ("tracked", "tracked", "existing.json"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="time_budget of each search")
    parser.add_argument("--cprofile", type=float, default=20.0,
                        help="time_budget of the cProfile pass (0: skip it)")
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS),
                        help="which timed searches to run, in this order")
    parser.add_argument("--out", default=str(result_path("search_overhead")),
                        help="prefix of the .csv and .md outputs")
    parser.add_argument("--child", choices=("untracked", "tracked", "cprofile"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    os.environ.pop("MLFLOW_TRACKING_URI", None)  # untracked must mean untracked
    if args.child:
        workdir = Path(args.result).parent
        result = (
            run_cprofile(args.budget)
            if args.child == "cprofile"
            else run_timed(args.budget, args.child == "tracked", workdir)
        )
        Path(args.result).write_text(json.dumps(result))
        return 0

    cost_us = timer_cost_us()
    passes = [(label, *RUNS[label], args.budget) for label in args.runs]
    if args.cprofile > 0:
        passes.append(("cprofile", "cprofile", "cprofile", "result.json", args.cprofile))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, child, folder, name, budget in passes:
            # A fresh process per search: each pays its own cold start, as `make demo` does.
            result = Path(tmp, folder, name)
            result.parent.mkdir(exist_ok=True)
            subprocess.run(
                [sys.executable, __file__, "--child", child, "--budget", str(budget),
                 "--result", str(result)],
                check=True,
            )
            results[label] = {**json.loads(result.read_text()), "label": label}
    runs = [results[label] for label in args.runs]
    prof = results.get("cprofile")

    rows = []
    for r in runs:
        compute = sum(r["seconds"].get(c, 0.0) for c in COMPUTE)
        r["compute"], r["overhead"] = compute, r["wall"] - compute
        r["timer_s"] = sum(r["calls"].values()) * cost_us / 1e6
        base = {
            "run": r["label"], "budget_s": r["budget"], "fit_wall_s": round(r["wall"], 3),
            "load1_before": round(r["load_before"][0], 2),
            "load1_after": round(r["load_after"][0], 2),
        }
        for name, s in sorted(r["seconds"].items(), key=lambda kv: -kv[1]):
            rows.append({
                **base, "category": name, "kind": "compute" if name in COMPUTE else "overhead",
                "seconds": round(s, 4), "pct_of_wall": round(100 * s / r["wall"], 3),
                "calls": 1 if name == DYNAMO else r["calls"].get(name, 0),
            })
        for name, s in (("TOTAL fit wall", r["wall"]), ("TOTAL training compute", compute),
                        ("TOTAL overhead", r["overhead"]),
                        ("TOTAL overhead without torch._dynamo import",
                         r["overhead"] - r["seconds"].get(DYNAMO, 0.0))):
            rows.append({**base, "category": name, "kind": "total", "seconds": round(s, 4),
                         "pct_of_wall": round(100 * s / r["wall"], 3), "calls": ""})
    out = Path(args.out)
    write_csv(out.with_suffix(".csv"), rows)

    where = machine(["automl_nas", "torch", "optuna", "mlflow"])
    n_train = runs[0]["n_train"]
    lines = [
        "# Search overhead of the demo search",
        "",
        (f"{where.summary()}; load averages per run below. Each search runs in a fresh "
         f"process. Command: `{command(__file__, argv)}`."),
        "",
        (f"Search: `pipelines/digits_search.py`'s estimator, time_budget={args.budget:g} s "
         f"(digits, 1347 training rows -> {n_train} train / {1347 - n_train} validation; "
         "defaults otherwise: TPE, median pruner, n_jobs=1, one torch thread, verbose=1). "
         "Tracked: MLflow to a SQLite database in a temporary folder, experiment `digits-demo`, "
         "model registered as `digits-automl-nas` (the demo's settings); *new db* creates the "
         "database (a first `make demo`), *existing db* runs again on it (every later one)."),
        "",
        ("| run | fit wall s | training compute s | **overhead, % of wall** | overhead without "
         "torch's `_dynamo` import | trials (complete/pruned) | epochs | compute samples/s | "
         "search thread CPU / wall | writer process CPU s | load 1 min before / after |"),
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        rest = r["overhead"] - r["seconds"].get(DYNAMO, 0.0)
        lines.append(
            f"| {r['label']} | {r['wall']:.2f} | {r['compute']:.2f} | "
            f"**{100 * r['overhead'] / r['wall']:.1f} %** ({r['overhead']:.2f} s) | "
            f"**{100 * rest / r['wall']:.1f} %** ({rest:.2f} s) | "
            f"{r['trials']} ({r['complete']}/{r['pruned']}) | {r['epochs']} | "
            f"{r['epochs'] * r['n_train'] / r['compute']:.0f} | "
            f"{r['thread_cpu'] / r['wall']:.2f} | {r['children_cpu']:.1f} | "
            f"{r['load_before'][0]:.2f} / {r['load_after'][0]:.2f} |"
        )
    lines += [
        "",
        ("Overhead = fit wall - training compute (definitions in the script's docstring). "
         "torch imports `torch._dynamo` the first time a process builds an optimizer: any PyTorch "
         "training pays it once, so the search's own overhead is the column without it. Compute "
         "samples/s = epochs x training rows / compute seconds (an epoch cut by the deadline "
         "counts whole, so it is a slight overestimate); epochs include the refit of the "
         "ensemble members after the search. The writer process (tracked runs) does all MLflow "
         "work beside the search; its CPU competes with training only when no core is free."),
        "",
        "Where the wall time went (exclusive seconds in the search thread):",
        "",
        *share_table(runs),
        "",
        f"Timer cost: {cost_us:.2f} us per timed call; "
        + ", ".join(
            f"{r['label']} {sum(r['calls'].values())} calls = {r['timer_s']:.3f} s "
            f"({100 * r['timer_s'] / r['wall']:.2f} % of wall)"
            for r in runs
        )
        + ", inside the overhead figures above.",
    ]
    for r in runs:
        w = r.get("writer") or {}
        if w:
            lines += [
                "",
                f"Writer process, {r['label']} (its own clock, median per message): "
                + ", ".join(f"{k} {v:.3f} s" for k, v in sorted(w.items()))
                + ".",
            ]
    if any(r.get("writer") for r in runs):
        lines += [
            "",
            ("`open`: start-up, parent run (mlflow import, store, a new database's migrations); "
             "`trial`: one trial's run; `trials`: trials.csv and plots, drawn once the deadline "
             "stopped a trial; `model`: model logged and registered; `finish`: summary and run "
             "end; `prewarm`: its imports for the model and plots, during the search; "
             "`callback`: the search thread's time per trial."),
        ]
    if prof is not None:
        share = 100 * (prof["wall"] - prof["compute"]) / prof["wall"]
        lines += [
            "",
            f"## cProfile cross-check (untracked, time_budget={args.cprofile:g} s)",
            "",
            (f"fit wall {prof['wall']:.2f} s under cProfile, {prof['trials']} trials; `train` "
             f"cumulative {prof['train_cum']:.2f} s of which "
             f"{prof['train_overhead_callees']:.2f} s in its overhead callees (metric, "
             "report/prune, best-weights copies, optimizer setup with the `torch._dynamo` "
             f"import) -> compute {prof['compute']:.2f} s, "
             f"overhead **{share:.1f} %** of wall (cProfile's own cost included). Load 1 min "
             f"{prof['load_before'][0]:.2f} / {prof['load_after'][0]:.2f}."),
            "",
            "Costliest functions outside torch, the network and the trainer loop, by own time:",
            "",
            "| function | own s | cumulative s | calls |",
            "|---|---:|---:|---:|",
            *(f"| `{name}` | {tt:.3f} | {ct:.3f} | {n} |" for tt, ct, n, name in prof["top"]),
        ]
    lines += ["", f"Raw rows: `{out.with_suffix('.csv').name}`."]
    print(write_text(out.with_suffix(".md"), lines), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
