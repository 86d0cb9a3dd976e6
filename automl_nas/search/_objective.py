"""One trial: sample params, build the network, train it, report every epoch, keep the best."""

from __future__ import annotations

import functools
import math
import time
import traceback
from collections.abc import Callable

import numpy as np
import optuna
import torch
from torch import nn

from automl_nas.nn import FoldBag
from automl_nas.search._budget import TRIAL_HARD_STOP
from automl_nas.search._context import SearchContext
from automl_nas.search._keys import TrialAttr
from automl_nas.search._model import TrialModel
from automl_nas.search._store import TrialStore
from automl_nas.training import Metric, TensorData, train


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
        store: TrialStore,
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
        if TrialAttr.STAGE not in trial.user_attrs:  # enqueued trials arrive labelled by their proposer
            trial.set_user_attr(TrialAttr.STAGE, ctx.stage)
        params = ctx.space.sample(trial)
        seed = self.trial_seed(trial.number)
        history: list[dict[str, float]] = []

        promoted = TrialAttr.TRIAL_SECONDS in trial.user_attrs

        def report(epoch: int, record: dict[str, float]) -> None:
            history.append(record)
            if self.cost_objective is not None or promoted:
                return
            trial.report(record["val_score"], epoch)
            if trial.should_prune():
                trial.set_user_attr(TrialAttr.HISTORY, history)
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        started = time.perf_counter()
        deadline, time_limit = ctx.deadline, None
        seconds = trial.user_attrs.get(TrialAttr.TRIAL_SECONDS, ctx.trial_seconds)
        if seconds is not None:
            time_limit = seconds / len(ctx.folds)
            deadline = min(deadline, time.monotonic() + TRIAL_HARD_STOP * seconds)
        devices = [ctx.data.device] if ctx.data.device.type == "cuda" else []
        results = []
        try:
            with torch.random.fork_rng(devices=devices):
                networks = []
                for _ in ctx.folds:  # the same initialisation on every fold
                    torch.manual_seed(seed)
                    networks.append(ctx.space.build(params, ctx.input_shape, ctx.n_outputs))
                n_params = sum(p.numel() for net in networks for p in net.parameters())
                trial.set_user_attr(TrialAttr.N_PARAMS, n_params)
                if self.max_params is not None:
                    trial.set_constraint("max_params", float(n_params - self.max_params))
                for fold, (network, data) in enumerate(zip(networks, ctx.folds)):
                    if fold and time.monotonic() >= deadline:
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
                            deadline=deadline,
                            time_limit=time_limit,
                            on_epoch=report if fold == 0 else None,
                        )
                    )
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            trial.set_user_attr(TrialAttr.ERROR, "".join(traceback.format_exception_only(exc)).strip())
            trial.set_user_attr(TrialAttr.TRACEBACK, traceback.format_exc(limit=5))
            raise
        finally:
            trial.set_user_attr(TrialAttr.TRAIN_SECONDS, time.perf_counter() - started)
        first = results[0]
        trial.set_user_attr(TrialAttr.HISTORY, history)
        trial.set_user_attr(TrialAttr.EPOCHS, sum(len(r.history) for r in results))
        trial.set_user_attr(TrialAttr.BEST_EPOCH, first.best_epoch)
        stops = [r.stopped_by for r in results]
        stopped_by = "time_budget" if "time_budget" in stops else first.stopped_by
        trial.set_user_attr(TrialAttr.STOPPED_BY, stopped_by)
        val_output = self.decode(np.concatenate([r.val_output for r in results]))
        partial = len(results) < len(ctx.folds)
        if len(ctx.folds) > 1:
            trial.set_user_attr(TrialAttr.FOLD_SCORES, [r.score for r in results])
            if partial:
                trial.set_user_attr(TrialAttr.PARTIAL_FOLDS, f"{len(results)}/{len(ctx.folds)}")
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
            trial.set_user_attr(TrialAttr.LATENCY_MS, latency)
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
