"""``automl-nas fit`` and ``predict`` on CSV files with a stray word in a numeric column."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd

from automl_nas.cli import main

FAST = ["--time-budget", "30", "--n-trials", "1", "--max-epochs", "2", "--random-state", "0"]


def _main(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def test_fit_warns_in_one_line_and_predict_names_the_column(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=50), "x2": rng.integers(0, 9, 50).astype(object)})
    frame["label"] = np.where(frame["x1"] > 0, "yes", "no")
    frame.loc[6, "x2"] = "oops"
    frame.to_csv(tmp_path / "train.csv", index=False)

    status, _, err = _main(
        "fit", tmp_path / "train.csv", "--target", "label", *FAST, "-o", tmp_path / "m.pkl"
    )
    assert status == 0, err
    warning = [line for line in err.splitlines() if "warning" in line]
    assert len(warning) == 1, err
    assert warning[0].startswith("automl-nas: warning: column 'x2' looks numeric (49 of 50")
    assert "'oops'" in warning[0]

    frame = frame.astype({"x1": object})
    frame.loc[3, "x1"] = "1,5"
    frame.to_csv(tmp_path / "test.csv", index=False)
    status, out, err = _main("predict", tmp_path / "m.pkl", tmp_path / "test.csv")
    assert (status, out) == (1, "")
    assert err.strip() == (
        f"automl-nas: error: cannot predict {tmp_path / 'test.csv'}: column 'x1' was numeric in "
        "training but holds 1 value(s) that are not numbers: '1,5' (0-based rows [3]); fix them "
        "or leave them empty (missing values are imputed)"
    )
