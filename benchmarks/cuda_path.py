"""The CUDA path of the tabular networks: AMP epochs and a budgeted search on a GPU.

Usage (on a machine with a CUDA GPU; the project's own tests never need one):
    python benchmarks/cuda_path.py [--rows 50000] [--features 20] [--budget 60] [--out DIR]

Two measurements on a synthetic classification table (``rows`` x ``features``, 10 of them
informative, ``make_classification`` with seed 0):
1. Seconds per epoch of four TabularNet configurations (the space's default, a TabM-style
   ensemble of 16, a wide residual network, and the default at batch 4,096), trained by the
   project's trainer on the GPU with its AMP setting (bf16 autocast where supported) and, for
   comparison, in float32 without autocast: a 5-epoch run (validation every epoch included)
   after a 1-epoch warm-up run.
2. ``AutoNASClassifier(device="cuda", time_budget=budget)``: trials completed, epochs, best
   validation score, test balanced accuracy, fit seconds.

Writes ``cuda_path.md`` (and prints it) into ``--out`` (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from automl_nas import AutoNASClassifier
from automl_nas.data import continuous_columns, make_preprocessor
from automl_nas.space import DataFacts, TabularSpace
from automl_nas.training import TensorData, amp_dtype, train
from automl_nas.training import _trainer as trainer

CONFIGS = {
    "default (the portfolio's first network)": {},
    "TabM-style k=16": {"ensemble_k": 16},
    "residual 4 x 512, k=8": {"block": "resnet", "n_blocks": 4, "width": 512, "ensemble_k": 8},
    "default at batch 4096": {"batch_size": 4096},
}


def epoch_seconds(space, params, data, n_classes, amp: bool) -> float:
    """Seconds per epoch of a 5-epoch run (after a 1-epoch warm-up run of the same network,
    which pays CUDA's one-off costs); ``amp=False``: float32 throughout (the trainer's AMP
    choice replaced for the comparison)."""
    chosen = trainer.amp_dtype
    trainer.amp_dtype = chosen if amp else (lambda device: None)
    try:
        for epochs in (1, 5):
            torch.manual_seed(0)
            net = space.build({**params, "epochs": epochs}, (data.X_train.shape[1],), n_classes)
            torch.cuda.synchronize()
            started = time.perf_counter()
            train(net, {**params, "epochs": epochs}, data, loss_fn=torch.nn.CrossEntropyLoss(),
                  score_fn=lambda out: 0.0, max_epochs=epochs, patience=epochs, seed=0)
            torch.cuda.synchronize()
        return (time.perf_counter() - started) / 5
    finally:
        trainer.amp_dtype = chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("cuda_path.py needs a CUDA GPU; none is visible (torch.cuda.is_available() is False)")
    device = torch.device("cuda")
    X, y = make_classification(args.rows, args.features, n_informative=10, random_state=0)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    Xp = np.asarray(make_preprocessor(X_tr).fit_transform(X_tr), dtype=np.float32)
    n = int(0.8 * len(Xp))
    data = TensorData(*(torch.as_tensor(a).to(device) for a in (Xp[:n], y_tr[:n], Xp[n:], y_tr[n:])))
    space = TabularSpace().for_data(DataFacts(n, Xp.shape[1], continuous_columns(Xp), "classification"))
    base = space.default_params()
    lines = [
        "# CUDA path: tabular networks with AMP, and a budgeted search on the GPU",
        "",
        (f"Machine: {torch.cuda.get_device_name(0)}, {platform.processor() or platform.machine()}; "
        f"torch {torch.__version__}, AMP dtype {amp_dtype(device)}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Table: make_classification "
        f"{args.rows} x {args.features}; {n} training rows."),
        "",
        "| network | batch | s/epoch AMP | s/epoch float32 | rows/s AMP |",
        "|---|---|---|---|---|",
    ]
    for name, changes in CONFIGS.items():
        params = {**base, **changes}
        amp = epoch_seconds(space, params, data, 2, amp=True)
        fp32 = epoch_seconds(space, params, data, 2, amp=False)
        lines.append(f"| {name} | {params['batch_size']} | {amp:.3f} | {fp32:.3f} | {n / amp:,.0f} |")
        print(lines[-1], flush=True)
    started = time.perf_counter()
    clf = AutoNASClassifier(device="cuda", time_budget=args.budget, random_state=0, verbose=0)
    clf.fit(X_tr, y_tr)
    fit_s = time.perf_counter() - started
    states = [t.state.name for t in clf.study_.trials]
    epochs = sum(len(t.user_attrs.get("history") or []) for t in clf.study_.trials)
    bacc = balanced_accuracy_score(y_te, clf.predict(X_te))
    lines += [
        "",
        (f"`AutoNASClassifier(device='cuda', time_budget={args.budget:g})`: fit {fit_s:.1f} s; "
        f"{len(states)} trials ({states.count('COMPLETE')} complete, {states.count('PRUNED')} "
        f"pruned, {states.count('FAIL')} failed), {epochs} epochs; best validation "
        f"accuracy {clf.best_score_:.4f}; test balanced accuracy {bacc:.4f}; ensemble of "
        f"{len(clf.ensemble_weights_)}."),
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cuda_path.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
