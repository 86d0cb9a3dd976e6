"""Issue 14's ablation table: each ingredient of the network search switched off in turn.

Usage:
    python benchmarks/ablation.py --ablation benchmarks/results/h2h_ablation.csv \\
        --reference benchmarks/results/h2h_heldout.csv [--base automl_nas_nn] [--out PATH.md]

``--ablation`` is a ``head_to_head.py`` run of the base (the networks-only search,
``automl_nas_nn``) and its variants (``automl_nas_nn_noembed``, ``_notabm``, ``_standard``,
``_unsized``: see ``harness.PEERS``) on the same tables and seeds; ``--variant-of-base
LABEL=CSV`` adds the base's runs of another head-to-head (all cores: ``--threads default``) as
one more row. ``--reference`` is a full head-to-head on those tables (the peers), of which the
ablation's seeds are used. For the base and each variant the table gives: its average rank
among the ablation's systems (same run, same load); its average rank when it takes the base's
place among the reference's systems (the same splits, run at another hour); the tables where it
scores above / below the base and the mean difference (balanced accuracy or R^2); trials that
ran per fit (complete + pruned, from the ``detail`` column) and the median seconds of ``fit()``
itself where the CSV has them.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd
from harness import PEERS
from head_to_head import PRIMARY, _ranks


def scores(runs: pd.DataFrame, seeds: list[int]) -> pd.DataFrame:
    """Mean primary score per (dataset, system) over ``seeds`` of a head-to-head CSV's rows."""
    ok = runs[(runs.status == "ok") & runs.seed.isin(seeds)].copy()
    ok["primary"] = [getattr(r, PRIMARY[r.task]) for r in ok.itertuples()]
    return ok.pivot_table(index="dataset", columns="system", values="primary")


def trials_ran(detail: str) -> float:
    """Complete + pruned trials from automl_nas's ``detail`` text (NaN if absent)."""
    found = re.search(r"complete (\d+), pruned (\d+)", str(detail))
    return float(int(found[1]) + int(found[2])) if found else np.nan


def fit_alone(detail: str) -> float:
    """Seconds of the estimator's ``fit`` alone from automl_nas's ``detail`` (NaN if absent)."""
    found = re.search(r"fit\(\) alone ([\d.]+) s", str(detail))
    return float(found[1]) if found else np.nan


def table(
    ablation: Path, reference: Path, base: str, variants_of_base: list[str] = ()
) -> list[str]:
    runs = pd.read_csv(ablation)
    for given in variants_of_base:  # LABEL=CSV: the base's runs there, as a variant
        label, _, path = given.partition("=")
        other = pd.read_csv(path)
        runs = pd.concat([runs, other[other.system == base].assign(system=label)])
    labels = [given.partition("=")[0] for given in variants_of_base]
    seeds = sorted(runs.seed.unique().tolist())
    abl, ref = scores(runs, seeds), scores(pd.read_csv(reference), seeds)
    systems = [s for s in [*PEERS, *labels] if s in abl.columns]
    if base not in systems:
        raise SystemExit(f"{ablation} has no runs of the base system {base!r}")
    variants = [base, *(s for s in systems if s != base)]
    shared = abl.index.intersection(ref.index)
    peers = [s for s in ref.columns if s != base]
    within = _ranks(abl[variants], True).mean()
    lines = [
        (f"Ablation `{ablation.name}` ({len(abl)} tables, seeds {seeds}); reference "
        f"`{reference.name}` at the same seeds "
        f"({len(shared)} shared tables; peers: {', '.join(peers)})."), "",
        ("| system | rank among the ablation's systems | rank in its place among the reference's "
        f"{len(peers) + 1} systems | tables better / worse than {base} | mean difference | "
        "trials per fit (median) | fit() alone, s (median) |"),
        "|---|---|---|---|---|---|---|",
    ]
    for s in variants:
        # a reference peer also run here (hgb) takes its own place
        others = [p for p in peers if p != s]
        placed = ref.loc[shared, others].join(abl.loc[shared, s].rename(s))
        rank_there = _ranks(placed, True)[s].mean()
        diff = (abl[s] - abl[base]).dropna()
        mine = runs[(runs.system == s) & (runs.status == "ok")]
        vs = "-" if s == base else f"{(diff > 0).sum()} / {(diff < 0).sum()}"
        mean_diff = "-" if s == base else f"{diff.mean():+.4f}"
        alone = mine.detail.map(fit_alone).median()
        seconds = "-" if np.isnan(alone) else f"{alone:.1f}"
        lines.append(
            f"| {PEERS[s]().label if s in PEERS else s} | {within[s]:.2f} | {rank_there:.2f} | {vs} | {mean_diff} | "
            f"{mine.detail.map(trials_ran).median():.0f} | {seconds} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ablation", type=Path, required=True)
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--base", default="automl_nas_nn")
    parser.add_argument(
        "--variant-of-base", action="append", default=[], metavar="LABEL=CSV",
        help="the base system's runs in another head-to-head CSV (the same tables and seeds, "
        "run otherwise: at default threads) as one more variant named LABEL",
    )
    parser.add_argument("--out", type=Path, help="also write the table here (markdown)")
    args = parser.parse_args()
    lines = table(args.ablation, args.reference, args.base, args.variant_of_base)
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
