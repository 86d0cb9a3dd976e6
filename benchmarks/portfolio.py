"""Build the start portfolio: configurations across model families that a new search trains first.

Greedy portfolio construction, as auto-sklearn 2.0 and TabRepo do it: a pool of candidate
configurations (each family's default, plus configurations drawn at random from each family's
space with a fixed seed) is trained on every *portfolio table*; then configurations are added
one at a time, each time the one that lowers most, per second of training, the mean normalised
test error of "the portfolio's configuration with the best validation score" over the tables.

Tables: every ``pmlb-meta`` table except the head-to-head's 25 ``META_TABLES`` and the six
visible tables (not in pmlb-meta): those are where the portfolio is measured, never where it is
built. Score files evaluated before all 25 were held out (when only ``META_TABLES[1::2]`` was)
still hold rows of the other 13; ``build`` and ``leave-out`` drop them. ``leave-out`` also reports a
leave-tables-out check inside the portfolio tables (build on 3/4, measure on 1/4, 4 folds).

Each candidate trains as one trial of a 30 s search would: the estimators' preprocessing and
validation split, the search's trainer, a network cut to ``--trial-seconds`` (the 10% trial
share of a 30 s budget), boosting stopped early on the validation rows.

    python benchmarks/portfolio.py evaluate --data ../shared/data --shard 0/2 --out benchmarks/results/portfolio_scores_0.csv
    python benchmarks/portfolio.py evaluate --data ../shared/data --shard 1/2 --out benchmarks/results/portfolio_scores_1.csv
    python benchmarks/portfolio.py build benchmarks/results/portfolio_scores_*.csv --out automl_nas/space/portfolio.json
    python benchmarks/portfolio.py leave-out benchmarks/results/portfolio_scores_*.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from harness import META_TABLES, add_data_option, data_dir, holdout_split, pmlb_task

#: Candidates drawn at random per family, besides its default (seeded: the pool is fixed).
DRAWS = {"gbdt": 14, "nn": 10, "linear": 3}
POOL_SEED = 2026
#: Entries kept in the shipped portfolio.
PORTFOLIO_SIZE = 8
#: A configuration's seconds are counted as at least this much (a trial's fixed costs), so a
#: near-free one is not chosen for a near-zero gain.
MIN_SECONDS = 1.0
#: Data-dependent parameters left out of the portfolio: the space sizes them to the data.
DATA_DEPENDENT = ("batch_size",)
HELD_OUT = set(META_TABLES)


def portfolio_tables(data: Path) -> list[str]:
    metadata = pd.read_csv(data / "pmlb-meta" / "metadata.csv")
    return sorted(name for name in metadata["name"] if name not in HELD_OUT)


def candidate_pool() -> list[dict]:
    """Each family's default and ``DRAWS`` random configurations of it, in a fixed order."""
    import optuna

    from automl_nas.space import FAMILIES, family_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pool = []
    for family in FAMILIES:
        space = family_space(family)
        pool.append({"family": family, **space.default_params()})
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=POOL_SEED))
        for _ in range(DRAWS[family]):
            trial = study.ask()
            pool.append({"family": family, **space.sample(trial)})
            study.tell(trial, 0.0)
    for entry in pool:
        for name in DATA_DEPENDENT:
            entry.pop(name, None)
    return pool


def load(data: Path, name: str) -> tuple[pd.DataFrame, pd.Series, str]:
    frame = pd.read_csv(data / "pmlb-meta" / f"{name}.tsv.gz", sep="\t")
    return frame.drop(columns="target"), frame["target"], pmlb_task(name)


def evaluate_table(name: str, data: Path, pool: list[dict], trial_seconds: float) -> list[dict]:
    """Train every candidate on one table; its validation and test scores and seconds."""
    import torch
    from sklearn.metrics import balanced_accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from torch import nn

    from automl_nas.data import continuous_columns, make_preprocessor
    from automl_nas.space import DataFacts, family_space
    from automl_nas.training import TensorData, forward_all, train

    X, y, task = load(data, name)
    classification = task == "classification"
    if classification:
        y = pd.Series(np.unique(y.astype(str), return_inverse=True)[1])
    X_train, X_test, y_train, y_test = holdout_split(
        X, y.to_numpy(), classification=classification, seed=0
    )
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train,
        y_train,
        test_size=0.2,
        random_state=0,
        stratify=y_train if classification else None,
    )
    pre = make_preprocessor(X_fit)
    arrays = [
        np.asarray(a, dtype=np.float32)
        for a in (pre.fit_transform(X_fit), pre.transform(X_val), pre.transform(X_test))
    ]
    if classification:
        n_outputs = int(y.max()) + 1
        targets = [torch.as_tensor(v, dtype=torch.long) for v in (y_fit, y_val)]
        loss_fn: nn.Module = nn.CrossEntropyLoss()

        def metric(y_true, out):
            return balanced_accuracy_score(y_true, out.argmax(1))
    else:
        n_outputs = 1
        mean, scale = float(np.mean(y_fit)), float(np.std(y_fit)) or 1.0
        targets = [
            torch.as_tensor((v - mean) / scale, dtype=torch.float32).reshape(-1, 1)
            for v in (y_fit, y_val)
        ]
        loss_fn = nn.MSELoss()

        def metric(y_true, out):
            return r2_score(y_true, out.ravel() * scale + mean)

    tensors = TensorData(
        torch.as_tensor(arrays[0]), targets[0], torch.as_tensor(arrays[1]), targets[1]
    )
    facts = DataFacts(
        n_rows=len(X_fit),
        n_features=arrays[0].shape[1],
        continuous=continuous_columns(arrays[0]),
        task=task,
        n_outputs=n_outputs,
    )
    rows = []
    for index, entry in enumerate(pool):
        space = family_space(entry["family"]).for_data(facts)
        # what the space fixed for this data (label smoothing off for regression) wins
        params = {
            **space.default_params(),
            **{k: v for k, v in entry.items() if k != "family"},
            **space.fixed,
        }
        torch.manual_seed(0)
        started = time.monotonic()
        row = {
            "table": name,
            "task": task,
            "n_rows": len(X),
            "candidate": index,
            "family": entry["family"],
        }
        try:
            model = space.build(params, (arrays[0].shape[1],), n_outputs)
            result = train(
                model,
                params,
                tensors,
                loss_fn=loss_fn,
                score_fn=lambda out: metric(y_val, out.numpy()),
                max_epochs=100,
                patience=10,
                seed=0,
                deadline=started + 2 * trial_seconds,
                time_limit=trial_seconds,
            )
            test_out = forward_all(result.model, torch.as_tensor(arrays[2])).numpy()
            row.update(val=result.score, test=metric(y_test, test_out), error="")
        except Exception as exc:  # noqa: BLE001 - a failed candidate scores as the worst
            row.update(val=np.nan, test=np.nan, error=f"{type(exc).__name__}: {exc}"[:200])
        row["seconds"] = time.monotonic() - started
        rows.append(row)
    return rows


def evaluate(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)  # one trial per core, as the default search on a CPU
    data = data_dir(args.data)
    index, count = (int(p) for p in args.shard.split("/"))
    tables = portfolio_tables(data)[index::count]
    pool = candidate_pool()
    out = Path(args.out)
    done = set(pd.read_csv(out)["table"]) if out.exists() else set()
    for number, name in enumerate(tables):
        if name in done:
            continue
        started = time.monotonic()
        rows = evaluate_table(name, data, pool, args.trial_seconds)
        frame = pd.DataFrame(rows)
        frame.to_csv(out, mode="a", header=not out.exists(), index=False)
        print(
            f"[{number + 1}/{len(tables)}] {name}: {time.monotonic() - started:.0f} s, best test "
            f"{frame['test'].max():.3f} ({frame.loc[frame['test'].idxmax(), 'family']})",
            flush=True,
        )
    (out.with_suffix(".pool.json")).write_text(json.dumps(pool, indent=1))


def normalised_errors(scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """(val score, normalised test error, seconds): tables x candidates. The error is 0 for the
    best candidate on a table and 1 for the worst (a failure counts as the worst)."""
    val = scores.pivot(index="table", columns="candidate", values="val")
    test = scores.pivot(index="table", columns="candidate", values="test")
    error = 1.0 - test
    low, high = error.min(axis=1), error.max(axis=1)
    normalised = error.sub(low, axis=0).div((high - low).replace(0, 1.0), axis=0).fillna(1.0)
    seconds = scores.groupby("candidate")["seconds"].mean()
    return val.fillna(-np.inf), normalised, seconds


def portfolio_error(chosen: list[int], val: pd.DataFrame, error: pd.DataFrame) -> float:
    """Mean over tables of the error of the chosen candidate with the best validation score."""
    if not chosen:
        return 1.0
    picked = val[chosen].to_numpy().argmax(axis=1)
    return float(error[chosen].to_numpy()[np.arange(len(error)), picked].mean())


def greedy(
    val: pd.DataFrame, error: pd.DataFrame, seconds: pd.Series, size: int
) -> list[tuple[int, float]]:
    """Candidates in the order greedy construction adds them, with the portfolio's error after each."""
    chosen: list[int] = []
    trace = []
    current = portfolio_error(chosen, val, error)
    for _ in range(size):
        best, best_rate, best_error = None, 0.0, current
        for candidate in error.columns:
            if candidate in chosen:
                continue
            new = portfolio_error([*chosen, candidate], val, error)
            rate = (current - new) / max(seconds[candidate], MIN_SECONDS)
            if rate > best_rate:
                best, best_rate, best_error = candidate, rate, new
        if best is None:
            break
        chosen.append(best)
        current = best_error
        trace.append((int(best), current))
    return trace


def read_scores(paths: list[str]) -> tuple[pd.DataFrame, list[dict]]:
    scores = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    scores = scores[~scores["table"].isin(HELD_OUT)]
    pool = json.loads(Path(paths[0]).with_suffix(".pool.json").read_text())
    return scores, pool


def rounded(entry: dict) -> dict:
    """``entry`` with floats to 3 significant digits, kept inside their family's ranges."""
    from automl_nas.space import family_space

    space = family_space(entry["family"]).distributions
    out = {}
    for name, value in entry.items():
        if isinstance(value, float) and hasattr(space.get(name), "low"):  # not categorical
            value = min(max(float(f"{value:.3g}"), space[name].low), space[name].high)
        out[name] = value
    return out


def build(args: argparse.Namespace) -> None:
    scores, pool = read_scores(args.scores)
    val, error, seconds = normalised_errors(scores)
    trace = greedy(val, error, seconds, PORTFOLIO_SIZE)
    entries = [
        {
            **rounded(pool[c]),
            "mean_seconds": round(float(seconds[c]), 3),
            "portfolio_error": round(e, 4),
        }
        for c, e in trace
    ]
    document = {
        "built_by": "benchmarks/portfolio.py build " + " ".join(args.scores),
        "tables": sorted(val.index),
        "candidates": len(pool),
        "entries": entries,
    }
    Path(args.out).write_text(json.dumps(document, indent=1) + "\n")
    defaults = [
        i for i, entry in enumerate(pool) if i == 0 or entry["family"] != pool[i - 1]["family"]
    ]
    print(
        f"{len(val)} tables, {len(pool)} candidates; family defaults alone: error "
        f"{portfolio_error(defaults, val, error):.4f}"
    )
    for c, e in trace:
        print(f"  + candidate {c:2d} ({pool[c]['family']}, {seconds[c]:.2f} s): error {e:.4f}")


def leave_out(args: argparse.Namespace) -> None:
    """Build on 3/4 of the portfolio tables, measure on the other 1/4, four times."""
    scores, pool = read_scores(args.scores)
    val, error, seconds = normalised_errors(scores)
    tables = np.array(sorted(val.index))
    rng = np.random.default_rng(0)
    folds = np.array_split(rng.permutation(tables), 4)
    defaults = [
        i for i, entry in enumerate(pool) if i == 0 or entry["family"] != pool[i - 1]["family"]
    ]
    rows = []
    for k, held in enumerate(folds):
        train_tables = [t for t in tables if t not in set(held)]
        trace = greedy(val.loc[train_tables], error.loc[train_tables], seconds, PORTFOLIO_SIZE)
        chosen = [c for c, _ in trace]
        rows.append(
            {
                "fold": k,
                "held_out_tables": len(held),
                "portfolio": portfolio_error(chosen, val.loc[held], error.loc[held]),
                "family_defaults": portfolio_error(defaults, val.loc[held], error.loc[held]),
                "best_single": min(
                    portfolio_error([c], val.loc[held], error.loc[held]) for c in error.columns
                ),
            }
        )
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False))
    print("mean", frame.drop(columns=["fold", "held_out_tables"]).mean().round(4).to_dict())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("evaluate", help="train the candidate pool on the portfolio tables")
    add_data_option(run)
    run.add_argument("--shard", default="0/1", help="i/n: every n-th table from the i-th")
    run.add_argument("--trial-seconds", type=float, default=2.5)
    run.add_argument("--out", required=True)
    for name, help_ in (("build", "write the portfolio"), ("leave-out", "leave-tables-out check")):
        sub = commands.add_parser(name, help=help_)
        sub.add_argument("scores", nargs="+")
        if name == "build":
            sub.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    {"evaluate": evaluate, "build": build, "leave-out": leave_out}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
