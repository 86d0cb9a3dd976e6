"""One trial: sample params, build the network, train it, report every epoch, keep the best."""

from __future__ import annotations

import functools
import math
import os
import shutil
import tempfile
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import torch
from torch import nn

from automl_nas.nn import FoldBag
from automl_nas.stages import SearchContext
from automl_nas.training import Metric, TensorData, forward_all, train

#: Bytes of kept networks a :class:`ModelStore` holds in memory before it spills to disk.
MODEL_MEMORY_LIMIT = 512 * 2**20


@dataclass
class TrialModel:
    """A trained trial: its network (CPU, eval mode), params and held-out outputs.

    ``model`` is None once the store has spilled the network to the file ``path``: read it with
    :meth:`load_model`.
    """

    number: int
    value: float
    params: dict[str, Any]
    model: nn.Module | None
    val_output: np.ndarray
    n_params: int
    best_epoch: int = 0
    path: str | None = None
    #: Cross-validated on some folds only (the deadline came): ranked after every full trial.
    partial: bool = False

    def load_model(self) -> nn.Module:
        """The network, read back from disk if it was spilled."""
        if self.model is not None:
            return self.model
        # weights_only=False: a whole module object, written by this process's own store.
        return torch.load(self.path, weights_only=False)


def model_bytes(model: nn.Module) -> int:
    """Memory held by a network's parameters and buffers."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


class ModelStore:
    """The ``keep`` best trained trials of a search, safe to fill from several threads.

    Held-out outputs always stay in memory (ensemble selection reads them all). Networks stay
    in memory up to ``memory_limit`` bytes in total; beyond that the worst-ranked kept networks
    are written (``torch.save``) to a temporary directory (under ``TMPDIR``) that is deleted
    with the store. In memory at once: at most ``memory_limit`` plus the network being offered.

    Args:
        keep: How many of the best trials to keep.
        maximize: Whether a higher validation score is better.
        memory_limit: Bytes of networks kept in memory (None: ``MODEL_MEMORY_LIMIT``, 512 MiB).
    """

    def __init__(self, keep: int, maximize: bool, *, memory_limit: int | None = None) -> None:
        self.keep = keep
        self.maximize = maximize
        self.memory_limit = MODEL_MEMORY_LIMIT if memory_limit is None else memory_limit
        self._models: dict[int, TrialModel] = {}
        self._lock = threading.Lock()
        self._dir: str | None = None

    def offer(self, entry: TrialModel) -> None:
        """Keep ``entry`` if it ranks among the best ``keep`` trials so far."""
        with self._lock:
            self._models[entry.number] = entry
            ranked = self.ranked()
            for dropped in ranked[self.keep :]:
                del self._models[dropped.number]
                if dropped.path is not None:
                    os.remove(dropped.path)
            self._spill(ranked[: self.keep])

    def _spill(self, ranked: list[TrialModel]) -> None:
        """Write the worst in-memory networks to disk until the rest fit in ``memory_limit``."""
        in_memory = [entry for entry in ranked if entry.model is not None]
        used = sum(model_bytes(entry.model) for entry in in_memory)
        for entry in reversed(in_memory):
            if used <= self.memory_limit:
                return
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix="automl_nas_models_")
                weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
            used -= model_bytes(entry.model)
            entry.path = os.path.join(self._dir, f"trial_{entry.number}.pt")
            torch.save(entry.model, entry.path)
            entry.model = None

    def ranked(self) -> list[TrialModel]:
        """Kept trials, best first (ties: earlier trial first; partial trials last)."""
        sign = -1.0 if self.maximize else 1.0
        return sorted(self._models.values(), key=lambda m: (m.partial, sign * m.value, m.number))


class TrialObjective:
    """The Optuna objective every stage runs: the same training whatever proposed the trial.

    The space, data, loss, output shape, epoch cap and deadline are read from ``context`` at
    each trial (a worker moves its deadline when the coordinator resumes a search).

    A trial trains one network per split in ``context.folds``: the one holdout split, or the
    k folds of cross-validation. Only the first split's epochs are reported to the pruner, so
    a pruned trial costs one network. The trial's value is ``metric`` on the concatenated
    out-of-fold outputs (every row once with k folds), and its model is the network, or a
    :class:`~automl_nas.nn.FoldBag` of the k networks. A trial the deadline reaches after its
    first fold ends with the folds it finished (``partial_folds``, e.g. "2/5"), scored on their
    rows: not comparable with full trials, so the model store ranks it after them.

    The trial records ``stage``, ``n_params`` (all networks of its model), ``history``
    (per-epoch losses and score of the first split), ``epochs`` (trained on all splits; a
    pruned trial has only its history), ``fold_scores`` (with k folds),
    ``train_seconds``, ``best_epoch``, ``stopped_by``, ``latency_ms`` (with a latency
    objective) and, on failure, ``error`` in its user attributes, so trackers and leaderboards
    need nothing but the study.

    With ``cost_objective`` ("n_params" or "latency") a trial returns (score, cost) for a
    two-objective study; Optuna cannot prune those, so epochs are not reported to the pruner.
    With ``max_params`` the trial records the constraint ``n_params - max_params <= 0``
    (``trial.set_constraint``) before training; constraint-aware samplers (TPE, NSGA-II) steer
    away from infeasible networks, and only feasible ones are kept for the final model.
    """

    def __init__(
        self,
        context: SearchContext,
        *,
        y_folds: list[np.ndarray],
        metric: Metric,
        decode: Callable[[np.ndarray], np.ndarray],
        patience: int,
        seed: int,
        store: ModelStore,
        cost_objective: str | None = None,
        max_params: int | None = None,
    ) -> None:
        self.context = context
        self.y_folds = y_folds
        #: The metric's target for the concatenated validation outputs of all folds.
        self.y_val = np.concatenate(y_folds)
        self.metric = metric
        self.decode = decode
        self.patience = patience
        self.seed = seed
        self.store = store
        self.cost_objective = cost_objective
        self.max_params = max_params

    def score(self, output: torch.Tensor, fold: int = 0) -> float:
        """The metric on ``fold``'s validation outputs (decoded: probabilities / original units)."""
        return self.metric(self.y_folds[fold], self.decode(output.cpu().numpy()))

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        ctx = self.context
        if "stage" not in trial.user_attrs:  # enqueued trials arrive labelled by their proposer
            trial.set_user_attr("stage", ctx.stage)
        params = ctx.space.sample(trial)
        seed = self.trial_seed(trial.number)
        history: list[dict[str, float]] = []

        def report(epoch: int, record: dict[str, float]) -> None:
            history.append(record)
            if self.cost_objective is not None:
                return
            trial.report(record["val_score"], epoch)
            if trial.should_prune():
                trial.set_user_attr("history", history)
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        started = time.perf_counter()
        devices = [ctx.data.device] if ctx.data.device.type == "cuda" else []
        results = []
        try:
            with torch.random.fork_rng(devices=devices):
                networks = []
                for _ in ctx.folds:  # the same initialisation on every fold
                    torch.manual_seed(seed)
                    networks.append(ctx.space.build(params, ctx.input_shape, ctx.n_outputs))
                n_params = sum(p.numel() for net in networks for p in net.parameters())
                trial.set_user_attr("n_params", n_params)
                if self.max_params is not None:
                    trial.set_constraint("max_params", float(n_params - self.max_params))
                for fold, (network, data) in enumerate(zip(networks, ctx.folds)):
                    if fold and time.monotonic() >= ctx.deadline:
                        break  # the trial ends with the folds it finished
                    results.append(
                        train(
                            network,
                            params,
                            data,
                            loss_fn=ctx.loss_fn,
                            score_fn=functools.partial(self.score, fold=fold),
                            max_epochs=ctx.max_epochs,
                            patience=self.patience,
                            seed=seed,
                            deadline=ctx.deadline,
                            on_epoch=report if fold == 0 else None,
                        )
                    )
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            trial.set_user_attr("error", "".join(traceback.format_exception_only(exc)).strip())
            trial.set_user_attr("traceback", traceback.format_exc(limit=5))
            raise
        finally:
            trial.set_user_attr("train_seconds", time.perf_counter() - started)
        first = results[0]
        trial.set_user_attr("history", history)
        trial.set_user_attr("epochs", sum(len(r.history) for r in results))
        trial.set_user_attr("best_epoch", first.best_epoch)
        stops = [r.stopped_by for r in results]
        stopped_by = "time_budget" if "time_budget" in stops else first.stopped_by
        trial.set_user_attr("stopped_by", stopped_by)
        val_output = self.decode(np.concatenate([r.val_output for r in results]))
        partial = len(results) < len(ctx.folds)
        if len(ctx.folds) > 1:
            trial.set_user_attr("fold_scores", [r.score for r in results])
            if partial:
                trial.set_user_attr("partial_folds", f"{len(results)}/{len(ctx.folds)}")
            score = self.metric(np.concatenate(self.y_folds[: len(results)]), val_output)
            model = FoldBag([r.model for r in results])
        else:
            score, model = first.score, first.model
        if not math.isfinite(score):
            raise FloatingPointError(f"validation {self.metric.name} is {score}")
        if self.max_params is None or n_params <= self.max_params:
            self.store.offer(
                TrialModel(
                    trial.number, score, params, model, val_output, n_params, first.best_epoch,
                    partial=partial,
                )
            )
        if self.cost_objective == "n_params":
            return score, float(n_params)
        if self.cost_objective == "latency":
            latency = measure_latency(model, ctx.data.X_val)
            trial.set_user_attr("latency_ms", latency)
            return score, latency
        return score

    def trial_seed(self, number: int) -> int:
        """The seed of trial ``number``'s initialisation and batch order."""
        return (self.seed + number) % (2**31)

    def refit(self, entry: TrialModel, data: TensorData, deadline: float) -> nn.Module | None:
        """``entry``'s network trained afresh on ``data`` for as many epochs as its best epoch.

        Same params, seed and trainer as its trial (the cosine learning-rate schedule now spans
        those epochs), no pruning and no early stopping. The
        trainer still keeps the epoch of lowest loss on ``data``'s validation rows; when those
        rows are also training rows (refitting on train + validation) that is the last epoch
        or close to it. Returns None if ``deadline`` (``time.monotonic()``) cuts training
        short, so the caller keeps the network the search trained.
        """
        seed = self.trial_seed(entry.number)
        epochs = max(1, entry.best_epoch)
        devices = [data.device] if data.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            ctx = self.context
            model = ctx.space.build(entry.params, ctx.input_shape, ctx.n_outputs)
            result = train(
                model,
                entry.params,
                data,
                loss_fn=ctx.loss_fn,
                score_fn=self.score,
                max_epochs=epochs,
                patience=epochs,
                seed=seed,
                deadline=deadline,
            )
        return None if result.stopped_by == "time_budget" else result.model


#: Rows per forward pass when measuring latency, and timed passes (the median is kept).
LATENCY_BATCH = 256
LATENCY_REPEATS = 7


def measure_latency(model: nn.Module, X: torch.Tensor) -> float:
    """Median milliseconds of one forward pass of ``model`` (CPU, eval) over a batch of ``X``.

    A batch of up to ``LATENCY_BATCH`` validation rows, after one warm-up pass; CPU with the
    search's thread setting, so latencies compare across the trials of one search.
    """
    batch = X[:LATENCY_BATCH].detach().cpu().float()
    model.eval()
    times = []
    with torch.no_grad():
        model(batch)
        for _ in range(LATENCY_REPEATS):
            started = time.perf_counter()
            model(batch)
            times.append(time.perf_counter() - started)
    return 1000.0 * float(np.median(times))


def predict_output(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Raw network outputs for ``X`` on CPU, in the dtype of the model's weights."""
    dtype = next(model.parameters()).dtype
    tensor = torch.as_tensor(np.ascontiguousarray(X), dtype=dtype)
    return forward_all(model, tensor).numpy()
