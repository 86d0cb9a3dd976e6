"""Gradient-boosting trials: LightGBM on rows binned once per search, trees copied to torch.

:func:`~automl_nas.training.train` dispatches a :class:`~automl_nas.nn.TreeEnsemble` here.
LightGBM (``lightgbm``, its maintained Python package) bins the training rows once per
:class:`~automl_nas.training.TensorData` into a ``Dataset`` that every boosting trial on those
rows shares, read from the float32 rows as they are: no float64 copy, no binning per trial.
scikit-learn's ``HistGradientBoosting*``, used before, copies its rows to float64 and bins
them again at every fit (per trial, and per warm start): on 150,000 x 50 rows 105 MiB per fit
against 1.5 MiB per LightGBM booster beside the binned rows, built once (73 MiB with their bin
sample), and 100 rounds in 60 % of the seconds (``benchmarks/README.md``). A round at a time,
so the deadline and the time limit are checked between rounds.

The fitted trees are copied into the :class:`~automl_nas.nn.TreeEnsemble` (parsed from
LightGBM's text model format), which then is a model like any network.

Boosting rounds are counted in epochs of :data:`ROUNDS_PER_EPOCH` rounds, so ``max_epochs``,
``best_epoch`` and the refit mean the same for every family.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import lightgbm
import numpy as np
import torch
from torch import nn

from automl_nas.nn import NODE_FIELDS, TreeEnsemble
from automl_nas.training._fitted import _history_record, _numpy, is_classification
from automl_nas.training._trainer import (
    EpochCallback,
    TensorData,
    TooSlowForLimit,
    TrainResult,
    train,
)

#: Boosting rounds per epoch: a boosting trial reports to the pruner (and counts ``max_epochs``
#: and ``best_epoch``) in units of this many rounds.
ROUNDS_PER_EPOCH = 10
#: A boosting run that may give up (``probe``: the search has a model) does not start with less
#: than this share of its time limit before its deadline: binning the rows (once per set of
#: rows) is not sized to the time left, and on 200,000 x 100 rows the first fit took 5.5 s,
#: begun 0.5 s before a 30 s search's end.
LEAST_START_SHARE = 0.5
#: Rounds without a lower validation loss before boosting stops; the trees after the round of
#: lowest validation loss are then dropped.
EARLY_STOPPING_ROUNDS = 20
#: A validation loss lower by at most this much than the best so far is no improvement.
EARLY_STOPPING_TOLERANCE = 1e-7
#: How LightGBM bins the rows (fixed for a search: the binned set is shared by its trials).
#: 255 bins per column as scikit-learn's boosting; ``feature_pre_filter`` off so each trial
#: may set its own ``min_data_in_leaf``. The bin edges come from a sample of rows
#: (:func:`sample_rows`).
DATASET_PARAMS: dict[str, Any] = {
    "max_bin": 255,
    "feature_pre_filter": False,
    "use_missing": True,
    "zero_as_missing": False,
    "verbosity": -1,
}
#: Cells (rows x columns) of the sample LightGBM finds bin edges in, at most: it holds the
#: sample as float64 values with row indices while binning, and keeps what it allocated. Its
#: default sample, 200,000 rows, left RSS 130 MiB higher after binning 150,000 x 50 rows; a
#: sample of 2**22 cells 73 MiB there and 156 MiB on 37,500 x 2,000 (1.3 GiB with 50,000
#: rows), the binned rows included.
SAMPLE_CELLS = 2**22
#: Rows of that sample: at least these, at most LightGBM's 200,000.
SAMPLE_ROWS = (1_000, 200_000)
#: Seconds to copy one leaf of the boosted trees into the TreeEnsemble (text model, parse,
#: tensors): 0.65 s for 1,500 trees of 127 leaves on a 2-core VM (3.4 us a leaf). Boosting
#: stops that long before its end, so the copy ends by it: two 3-class trials of a 30 s
#: search copying ~1,000 rounds each at its deadline (their parsing shares the GIL) had
#: ``fit`` return 1.8 s late.
COPY_SECONDS_PER_LEAF = 4e-6
#: MB of histograms a booster keeps (LightGBM's ``histogram_pool_size``; its default keeps
#: one per leaf: 127 leaves x 2,000 columns x 255 bins x 16 bytes, a GiB). Beyond it the
#: least recently used are built again; on 37,500 x 2,000 rows 64 MB made rounds no slower.
HISTOGRAM_POOL_MB = 64

# LightGBM's decision_type bits (its text model format): categorical, default left, and two
# bits of missing type (0 none: NaN is read as 0.0; 1 zero; 2 NaN).
_CATEGORICAL, _DEFAULT_LEFT = 1, 2
_MISSING_NONE, _MISSING_NAN = 0, 2

# Binned training rows by id() of their X_train and X_val tensors, dropped with X_train; the
# validation rows binned once per X_val, with the bins of the first training rows binned
# against them (``_bins``), dropped with X_val. Tensors compare by value, so they cannot key a
# WeakKeyDictionary.
_binned: dict[tuple[int, int], tuple[lightgbm.Dataset, lightgbm.Dataset]] = {}
_bins: dict[int, tuple[lightgbm.Dataset, lightgbm.Dataset]] = {}
_build_lock = threading.Lock()  # one binning at a time; trials that need it wait for it
_booster_lock = threading.Lock()  # Booster() updates the shared Dataset's Python side


def binned_rows(data: TensorData) -> tuple[lightgbm.Dataset, lightgbm.Dataset]:
    """The training and validation rows of ``data`` binned by LightGBM, built once and shared.

    The validation rows take the training rows' bins (LightGBM's ``reference``): boosters keep
    their outputs on them up to date, so a round's validation loss costs no prediction. Kept as
    long as ``data.X_train`` lives (a search's tensors: for the whole search), so the trials of
    a search bin their rows once; trials that start together wait for one binning.

    Other training rows validated on the same ``X_val`` (a low-fidelity subsample and all the
    rows, a refit's training + validation rows) take the bins of the first training rows
    binned against it, so the validation rows are binned once per search, not once per set of
    training rows: on 50,000 x 2,000 rows a promoted or refitted boosting trial binned 12,500
    validation rows again, about as long as its own 37,500. The bin edges come from a sample of
    at most :data:`SAMPLE_CELLS` cells whichever rows are binned first (a low-fidelity
    subsample holds that many from a budget of about 17 s: the search's
    ``CELLS_PER_TRIAL_SECOND`` x its trial's seconds). Labels: class indices, or the one
    regression target.
    """
    key = (id(data.X_train), id(data.X_val))
    found = _binned.get(key)
    if found is not None:
        return found
    with _build_lock:
        found = _binned.get(key)
        if found is None:
            X, y, X_val, y_val = _numpy(data)
            if not is_classification(data):
                y, y_val = y.reshape(len(y), -1)[:, 0], y_val.reshape(len(y_val), -1)[:, 0]
            params = {
                **DATASET_PARAMS,
                "bin_construct_sample_cnt": sample_rows(X.shape[1]),
                "num_threads": torch.get_num_threads(),
            }
            bins = _bins.get(id(data.X_val))
            train_set = lightgbm.Dataset(
                np.ascontiguousarray(X), label=y, params=params, free_raw_data=True,
                reference=None if bins is None else bins[0],
            ).construct()
            if bins is None:
                val_set = lightgbm.Dataset(
                    np.ascontiguousarray(X_val), label=y_val, reference=train_set,
                    params=params, free_raw_data=True,
                ).construct()
                bins = _bins[id(data.X_val)] = (train_set, val_set)
                weakref.finalize(data.X_val, _bins.pop, id(data.X_val), None)
            found = _binned[key] = (train_set, bins[1])
            weakref.finalize(data.X_train, _binned.pop, key, None)
    return found


def sample_rows(n_columns: int) -> int:
    """Rows of the sample LightGBM takes bin edges from: :data:`SAMPLE_CELLS` cells."""
    return int(np.clip(SAMPLE_CELLS // max(1, n_columns), *SAMPLE_ROWS))


def _objective(data: TensorData, n_outputs: int) -> tuple[dict[str, Any], list[int]]:
    """LightGBM's objective for the task, and the output column each tree of a round adds to.

    Binary classification: one score for class 1 (class 0 stays at 0, as a logit pair).
    Otherwise one tree per class and round; a class missing from the training rows starts
    from LightGBM's log(1e-15) prior and stays there.
    """
    if not is_classification(data):
        if n_outputs != 1:
            raise ValueError(f"gradient boosting fits one target column; this task has {n_outputs}")
        return {"objective": "regression", "metric": "l2"}, [0]
    if n_outputs == 2:
        return {"objective": "binary", "metric": "binary_logloss"}, [1]
    objective = {"objective": "multiclass", "num_class": n_outputs, "metric": "multi_logloss"}
    return objective, list(range(n_outputs))


def _floor_float32(values: np.ndarray) -> np.ndarray:
    """The largest float32 <= each float64 value: ``x <= t`` then holds for a float32 ``x``
    exactly when it holds against the float64 threshold LightGBM compares with."""
    low = values.astype(np.float32)
    above = low.astype(np.float64) > values
    low[above] = np.nextafter(low[above], np.float32(-np.inf))
    return low


#: The arrays of a tree in LightGBM's text model that the copy reads.
_TREE_ARRAYS = ("num_leaves", "split_feature", "threshold", "decision_type", "left_child",
                "right_child", "leaf_value")


def _parse_trees(text: str) -> list[dict[str, np.ndarray]]:
    """The trees of a LightGBM text model: per tree its arrays (:data:`_TREE_ARRAYS`).

    Numbers are parsed by ``np.fromstring`` in C: 1,500 trees of 127 leaves (20 MB of text)
    took 0.31 s with a Python ``split`` per line. Copying the trees runs after the deadline
    has stopped the rounds, so its seconds are past the budget.
    """
    trees: list[dict[str, np.ndarray]] = []
    for line in text[: text.find("end of trees")].splitlines():
        if line.startswith("Tree="):
            trees.append({})
            continue
        name, sep, values = line.partition("=")
        if sep and name in _TREE_ARRAYS and trees:
            trees[-1][name] = np.fromstring(values, dtype=np.float64, sep=" ")
    return trees


def load_lightgbm_trees(
    model: TreeEnsemble, booster: lightgbm.Booster, rounds: int, columns: list[int]
) -> None:
    """Copy the first ``rounds`` rounds of a LightGBM ``booster`` into ``model``.

    LightGBM's node layout: internal nodes 0..L-2 (root 0, a child after its parent), leaf j
    written ``~j`` in the child arrays; here leaf j is node L-1+j. A row goes left when its
    value is ``<= threshold``; NaN goes the default way when the column had NaN in training,
    else it is read as 0.0 (so it goes where 0.0 goes). ``tests/training/test_boosting.py``
    checks the copy predicts as LightGBM does.
    """
    baseline = torch.zeros(model.n_outputs)
    trees = _parse_trees(booster.model_to_string(num_iteration=rounds)) if rounds else []
    if not trees:
        empty = {name: torch.zeros(0, 1) for name in NODE_FIELDS}
        model.set_trees(empty, torch.zeros(0, dtype=torch.long), baseline, depth=0)
        return
    n_nodes = max(2 * int(tree["num_leaves"][0]) - 1 for tree in trees)
    shape = (len(trees), n_nodes)
    fields = {
        "feature": np.zeros(shape, np.int64),
        "threshold": np.zeros(shape, np.float32),
        "left": np.zeros(shape, np.int64),
        "right": np.zeros(shape, np.int64),
        "missing_left": np.zeros(shape, bool),
        "is_leaf": np.ones(shape, bool),
        "value": np.zeros(shape, np.float32),
    }
    for i, tree in enumerate(trees):
        leaves = int(tree["num_leaves"][0])
        inner = leaves - 1
        fields["value"][i, inner : inner + leaves] = tree["leaf_value"]
        if not inner:
            continue
        kind = tree["decision_type"].astype(np.int64)
        if (kind & _CATEGORICAL).any():
            raise ValueError("categorical splits are not supported: the inputs are one-hot encoded")
        missing = (kind >> 2) & 3
        if not np.isin(missing, (_MISSING_NONE, _MISSING_NAN)).all():
            raise ValueError("LightGBM split with zero as missing: not representable")
        threshold = tree["threshold"]
        children = [tree["left_child"].astype(np.int64), tree["right_child"].astype(np.int64)]
        left, right = (np.where(c >= 0, c, inner + ~c) for c in children)
        fields["feature"][i, :inner] = tree["split_feature"]
        fields["threshold"][i, :inner] = _floor_float32(threshold)
        fields["left"][i, :inner], fields["right"][i, :inner] = left, right
        fields["is_leaf"][i, :inner] = False
        fields["missing_left"][i, :inner] = np.where(
            missing == _MISSING_NAN, (kind & _DEFAULT_LEFT) > 0, threshold >= 0.0
        )
    depth = _max_depth(fields["left"], fields["right"], fields["is_leaf"])
    per_round = len(columns)
    tree_output = torch.as_tensor([columns[i % per_round] for i in range(len(trees))])
    model.set_trees({k: torch.from_numpy(v) for k, v in fields.items()}, tree_output, baseline, depth)


def _max_depth(left: np.ndarray, right: np.ndarray, is_leaf: np.ndarray) -> int:
    """The most splits on a path from a root to a leaf, of trees stored (n_trees, n_nodes):
    all trees walked a level at a time from their roots (node 0)."""
    n_trees = len(left)
    tree = np.arange(n_trees)
    nodes, depth = np.zeros(n_trees, np.int64), 0
    while True:
        inner = ~is_leaf[tree, nodes]
        if not inner.any():
            return depth
        tree, nodes = tree[inner], nodes[inner]
        tree, nodes = np.concatenate([tree, tree]), np.concatenate([left[tree, nodes],
                                                                     right[tree, nodes]])
        depth += 1


def _raw_scores(
    booster: lightgbm.Booster, X: np.ndarray, start: int, rounds: int, columns: list[int],
    n_outputs: int,
) -> torch.Tensor:
    """What rounds ``start`` .. ``start + rounds`` add to the raw outputs of ``X``."""
    scores = booster.predict(X, raw_score=True, start_iteration=start, num_iteration=rounds)
    out = torch.zeros(len(X), n_outputs)
    out[:, columns] = torch.as_tensor(np.asarray(scores, np.float32).reshape(len(X), -1))
    return out


@train.register
def fit_boosted_trees(
    model: TreeEnsemble,
    params: Mapping[str, Any],
    data: TensorData,
    *,
    loss_fn: nn.Module,
    score_fn: Callable[[torch.Tensor], float],
    max_epochs: int,
    patience: int,
    seed: int,
    deadline: float = math.inf,
    time_limit: float | None = None,
    on_epoch: EpochCallback | None = None,
    probe: bool = False,
) -> TrainResult:
    """Boost trees with LightGBM and ``params`` (``gbdt_*``), and copy them into ``model``.

    Up to ``max_epochs`` x :data:`ROUNDS_PER_EPOCH` rounds, one at a time on the shared binned
    rows (:func:`binned_rows`). After each epoch the validation rows' outputs are scored and
    reported to ``on_epoch`` (the pruner). Boosting stops early when the validation loss has
    not improved for :data:`EARLY_STOPPING_ROUNDS` rounds, and stops at the ``deadline`` or
    after ``time_limit`` seconds, checked between rounds and less the seconds the copy of the
    trees will take (:data:`COPY_SECONDS_PER_LEAF`) (a first model of a search, not a
    ``probe``, boosts at least one epoch; a probe that reaches the end before its first round,
    binning the rows, raises :class:`TooSlowForLimit`); the trees after the round of lowest
    validation loss are dropped. With ``probe`` and a ``time_limit``, a run with less than
    :data:`LEAST_START_SHARE` of its limit before ``deadline`` raises :class:`TooSlowForLimit`
    before any round. ``patience`` is for networks. Threads: as many as torch has here (the
    search's thread plan).
    """
    started = time.monotonic()
    if probe and time_limit is not None and deadline - started < LEAST_START_SHARE * time_limit:
        left = max(deadline - started, 0.0)
        raise TooSlowForLimit(
            LEAST_START_SHARE * time_limit, time_limit,
            f"{left:.2f} s left before the deadline, under {LEAST_START_SHARE:.0%} of a "
            f"{time_limit:.2f} s limit (boosting's binning is not sized to the time left)",
        )
    n_outputs = model.n_outputs
    objective, columns = _objective(data, n_outputs)
    X_val = np.ascontiguousarray(_numpy(data)[2])
    threads = torch.get_num_threads()
    booster_params = {
        **DATASET_PARAMS,
        **objective,
        "learning_rate": float(params["gbdt_learning_rate"]),
        "num_leaves": int(params["gbdt_max_leaf_nodes"]),
        "min_data_in_leaf": int(params["gbdt_min_samples_leaf"]),
        "lambda_l2": float(params["gbdt_l2_regularization"]),
        "feature_fraction_bynode": float(params["gbdt_max_features"]),
        # absent from trials stored before it was searched: they boosted without it
        "extra_trees": bool(params.get("gbdt_extra_trees", False)),
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "histogram_pool_size": HISTOGRAM_POOL_MB,
        "num_threads": threads,
    }
    train_set, val_set = binned_rows(data)
    with _booster_lock:  # the shared Datasets' Python side is updated by Booster()
        booster = lightgbm.Booster(booster_params, train_set)
        booster.add_valid(val_set, "validation")
    max_rounds = max(1, max_epochs) * ROUNDS_PER_EPOCH
    end = deadline if time_limit is None else min(deadline, started + time_limit)
    # the first model of a search boosts an epoch whatever the time; a probe none past the end
    least = 0 if probe else ROUNDS_PER_EPOCH
    output = torch.zeros(len(X_val), n_outputs)
    history: list[dict[str, float]] = []
    stopped_by, rounds, reported = "epochs", 0, 0
    best_loss, best_rounds = math.inf, 1
    leaves_per_round = len(columns) * int(params["gbdt_max_leaf_nodes"])  # at most
    while rounds < max_rounds:
        copy = rounds * leaves_per_round * COPY_SECONDS_PER_LEAF
        if rounds >= least and time.monotonic() + copy >= end:
            stopped_by = "time_budget"
            break
        booster.update()
        rounds += 1
        loss = booster.eval_valid()[0][2]  # LightGBM's loss on its running validation outputs
        if loss < best_loss - EARLY_STOPPING_TOLERANCE:
            best_loss, best_rounds = loss, rounds
        if rounds % ROUNDS_PER_EPOCH == 0:
            output += _raw_scores(booster, X_val, reported, rounds - reported, columns, n_outputs)
            reported = rounds
            _report(history, rounds, output, data, loss_fn, score_fn, booster, on_epoch)
        if rounds - best_rounds >= EARLY_STOPPING_ROUNDS:
            stopped_by = "early_stopping"
            break
    if not rounds:  # a probe whose binning (or wait for it) ran past the end
        seconds = time.monotonic() - started
        raise TooSlowForLimit(
            seconds, seconds if time_limit is None else time_limit,
            f"the end came {seconds:.2f} s after the start, before the first round",
        )
    if rounds > reported:
        output += _raw_scores(booster, X_val, reported, rounds - reported, columns, n_outputs)
        _report(history, rounds, output, data, loss_fn, score_fn, booster, on_epoch)
    load_lightgbm_trees(model, booster, best_rounds, columns)
    model.eval()
    # LightGBM's own prediction (in float64): the copied trees give the same to ~1e-6, at a
    # few times the seconds on CPU (tests/training/test_boosting.py)
    output = _raw_scores(booster, X_val, 0, best_rounds, columns, n_outputs)
    return TrainResult(
        model=model,
        score=score_fn(output),
        val_output=output.numpy(),
        best_epoch=max(1, math.ceil(best_rounds / ROUNDS_PER_EPOCH)),
        history=history,
        stopped_by=stopped_by,
    )


def _report(
    history: list[dict[str, float]],
    rounds: int,
    output: torch.Tensor,
    data: TensorData,
    loss_fn: nn.Module,
    score_fn: Callable[[torch.Tensor], float],
    booster: lightgbm.Booster,
    on_epoch: EpochCallback | None,
) -> None:
    """Score the outputs after ``rounds`` rounds as the epoch they end, and report it."""
    epoch = math.ceil(rounds / ROUNDS_PER_EPOCH)
    train_loss = float(booster.eval_train()[0][2])
    record = _history_record(epoch, output, data, loss_fn, score_fn, train_loss)
    history.append(record)
    if on_epoch is not None:
        on_epoch(epoch, record)
