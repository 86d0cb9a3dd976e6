"""One trial: sample params, build the network, train it, report every epoch, keep the best."""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
import torch
from torch import nn

from automl_nas.nn import FoldBag, NotStackableError, stack_networks
from automl_nas.search._budget import TRIAL_HARD_STOP
from automl_nas.search._context import SearchContext
from automl_nas.search._keys import TrialAttr
from automl_nas.search._model import TrialModel
from automl_nas.search._store import TrialStore
from automl_nas.training import (
    EpochCallback,
    Metric,
    TensorData,
    TooSlowForLimit,
    TrainResult,
    amp_dtype,
    release_freed_memory,
    train,
    train_stacked,
)

#: A batch of trials trained side by side may take this many times one trial's seconds: its
#: members train slower per epoch than one network alone (more rows per step), and the batch
#: replaces several trials.
BATCH_TIME_FACTOR = 2.0
#: A promoted trial trains on all rows (not the search's low-fidelity subsample) only if its
#: family's fastest epoch, scaled to all rows, takes at most this share of its time.
FULL_ROWS_EPOCH_SHARE = 0.5


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
        #: Set on every trial this objective runs (a worker's ``host:pid``).
        self.user_attrs: dict[str, Any] = {}
        #: Whether a trial of this process has completed: from then on a network too slow for
        #: its trial's time is pruned within its first epoch (``train``'s ``probe``), so a
        #: search where every network is too slow still ends with the first of them.
        self.has_model = False
        #: The fewest seconds a trial of each family (``params["family"]``) on as many training
        #: rows (a low-fidelity subsample or all) trained in this process, among trials that
        #: ran to an end of their own (complete, or pruned on their scores). Once the search
        #: has a model, a trial whose family's fewest seconds exceed its time left is not
        #: started: boosting's first fit is not sized to the time left (on 50,000 x 2,000 rows
        #: it takes 15 s; one begun 13 s before the end of a 30 s search ran 2.5 s past it).
        self._least_seconds: dict[tuple[Any, int], float] = {}
        #: The fewest seconds per epoch of each (family, training rows), the same trials.
        self._epoch_seconds: dict[tuple[Any, int], float] = {}
        self._least_lock = threading.Lock()

    def score(self, output: torch.Tensor, fold: int = 0) -> float:
        """The metric on ``fold``'s validation outputs (decoded: probabilities / original units)."""
        return self.metric(self.y_folds[fold], self.decode(output.cpu().numpy()))

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        ctx = self.context
        params = self.begin(trial)
        seed = self.trial_seed(trial.number)
        history: list[dict[str, float]] = []
        started = time.perf_counter()
        deadline, time_limit = self._limits(trial)
        results = []
        family = params.get("family")
        folds = self._folds(trial, params, time_limit)
        fidelity = (family, len(folds[0].X_train))
        try:
            least, left = self._least_seconds.get(fidelity), deadline - time.monotonic()
            if self.has_model and least is not None and least > left:
                raise TooSlowForLimit(least, max(left, 0.0), f"its family's trials here took "
                                      f"{least:.1f} s or more, {max(left, 0.0):.1f} s are left")
            # the same initialisation on every fold
            networks = [self.build(params, seed) for _ in folds]
            n_params = self._count_params(trial, networks)
            for fold, (network, data) in enumerate(zip(networks, folds)):
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
                        on_epoch=self._reporter(trial, history) if fold == 0 else None,
                        probe=self.has_model,
                    )
                )
        except optuna.TrialPruned:
            self._note_seconds(fidelity, time.perf_counter() - started, len(history))
            raise
        except TooSlowForLimit as exc:
            trial.set_user_attr(TrialAttr.STOPPED_BY, "too_slow")
            raise optuna.TrialPruned(f"too slow for its time: {exc}") from exc
        except Exception as exc:
            _record_error(trial, exc)
            raise
        finally:
            trial.set_user_attr(TrialAttr.TRAIN_SECONDS, time.perf_counter() - started)
            release_freed_memory()  # the training's temporaries, before the next trial
        self._note_seconds(fidelity, time.perf_counter() - started, len(history))
        value = self.conclude(trial, params, results, n_params, history)
        self.has_model = True
        return value

    def _note_seconds(self, fidelity: tuple[Any, int], seconds: float, epochs: int) -> None:
        """Keep ``seconds`` as the fewest of trials of ``fidelity`` (family, training rows) if
        they are (``_least_seconds``), and the seconds per epoch (``_epoch_seconds``)."""
        with self._least_lock:
            least = self._least_seconds
            least[fidelity] = min(seconds, least.get(fidelity, math.inf))
            if epochs:
                per_epoch = self._epoch_seconds
                per_epoch[fidelity] = min(seconds / epochs, per_epoch.get(fidelity, math.inf))

    def _folds(
        self, trial: optuna.Trial, params: Mapping[str, Any], time_limit: float | None
    ) -> Sequence[TensorData]:
        """The splits ``trial`` trains on, and record its training rows (``train_rows``).

        With a low-fidelity split (many rows, :meth:`BudgetPlan.trial_rows`) the search's
        trials train on its subsample, if their space says they do
        (:meth:`~automl_nas.space.SearchSpace.subsamples`); a trial a stage gives seconds of
        its own (promotion) trains on all rows if its family's fastest epoch on the
        subsample, scaled to all rows, takes at most ``FULL_ROWS_EPOCH_SHARE`` of its time
        (boosting's first fit is not sized to the time left); otherwise, or with no epoch of
        its family measured, it trains on the subsample for longer.
        """
        ctx = self.context
        folds: Sequence[TensorData] = ctx.folds
        low = ctx.low_fidelity
        if low is not None and ctx.space.subsamples(params):
            low_rows, all_rows = len(low.X_train), len(ctx.data.X_train)
            per_epoch = self._epoch_seconds.get((params.get("family"), low_rows))
            full = (
                TrialAttr.TRIAL_SECONDS in trial.user_attrs
                and per_epoch is not None
                and (time_limit is None
                     or per_epoch * all_rows / low_rows <= FULL_ROWS_EPOCH_SHARE * time_limit)
            )
            if not full:
                folds = [low]
        trial.set_user_attr(TrialAttr.TRAIN_ROWS, len(folds[0].X_train))
        return folds

    def build(self, params: Mapping[str, Any], seed: int) -> Any:
        """The model of ``params``, its initial weights drawn from ``seed``.

        Initialisers draw from torch's global generator, which trials training in other
        threads seed too: the seeding and the build hold a lock, so a trial's initial weights
        depend on its seed alone, and the global generator is restored afterwards (the
        training that follows draws its dropout masks and batch order from generators of its
        own, :func:`~automl_nas.training.train`).
        """
        ctx = self.context
        with _SEEDING, _own_rng(ctx.data.device):
            torch.manual_seed(seed)
            return ctx.space.build(params, ctx.input_shape, ctx.n_outputs)

    def begin(self, trial: optuna.Trial) -> dict[str, Any]:
        """Label ``trial`` with the running stage (unless its proposer did) and sample its params."""
        if TrialAttr.STAGE not in trial.user_attrs:  # enqueued trials arrive labelled by their proposer
            trial.set_user_attr(TrialAttr.STAGE, self.context.stage)
        for key, value in self.user_attrs.items():
            if trial.user_attrs.get(key) != value:  # a stage may begin a trial before training it
                trial.set_user_attr(key, value)
        return self.context.space.sample(trial)

    def batchable(self, params: Mapping[str, Any]) -> bool:
        """Whether a trial of ``params`` can train in a batch (:meth:`run_batch`).

        It must be a network trained by gradient steps (not a family that scikit-learn fits,
        which registers its own ``train``) that stacks (:func:`~automl_nas.nn.stack_networks`),
        the search must have one objective and the device must not need float16 loss scaling.
        """
        ctx = self.context
        if self.cost_objective is not None or amp_dtype(ctx.data.device) == torch.float16:
            return False
        network = self.build(params, 0)
        if not isinstance(network, nn.Module) or train.dispatch(type(network)) is not train.dispatch(nn.Module):
            return False
        try:
            stack_networks([network])
        except NotStackableError:
            return False
        return True

    def run_batch(self, trials: Sequence[optuna.Trial]) -> list[float | BaseException]:
        """Train ``trials`` side by side as one stacked batch; each trial's value or its error.

        The trials share an architecture, optimizer and batch size, and each has its own
        :data:`~automl_nas.training.MEMBER_PARAMS` (:func:`~automl_nas.training.train_stacked`).
        Each is still one trial: its own initialisation (its trial seed), its own reports to
        the pruner (a pruned member leaves the batch; its error is ``optuna.TrialPruned``), its
        own user attributes and model in the store. They share the batches' order: that of
        the first trial's seed (user attribute ``batch``: ``{"leader", "size"}``). A batch is
        one unit of training time: it may take ``BATCH_TIME_FACTOR`` times a trial's seconds
        (its members' epochs are fit to that), and stops at the search's deadline or
        ``TRIAL_HARD_STOP`` times that.
        """
        ctx = self.context
        params = [self.begin(trial) for trial in trials]
        for trial in trials:
            trial.set_user_attr(TrialAttr.BATCH, {"leader": trials[0].number, "size": len(trials)})
        histories: list[list[dict[str, float]]] = [[] for _ in trials]
        outcomes: dict[int, BaseException] = {}
        results: list[list[TrainResult]] = [[] for _ in trials]
        started = time.perf_counter()
        deadline, time_limit = self._limits(trials[0], factor=BATCH_TIME_FACTOR)
        counts: list[int] = []
        folds = self._folds(trials[0], params[0], time_limit)
        for trial in trials[1:]:
            trial.set_user_attr(TrialAttr.TRAIN_ROWS, len(folds[0].X_train))
        try:
            # the stacked members' dropout draws from torch's global generator: restored after
            with _own_rng(ctx.data.device):
                networks = []
                for trial, recipe in zip(trials, params):
                    first = self.build(recipe, self.trial_seed(trial.number))
                    # the same initialisation on every fold
                    networks.append([first, *(copy.deepcopy(first) for _ in folds[1:])])
                counts = [self._count_params(t, nets) for t, nets in zip(trials, networks)]
                for fold, data in enumerate(folds):
                    active = [i for i in range(len(trials)) if i not in outcomes]
                    if not active or (fold and time.monotonic() >= deadline):
                        break  # the members end with the folds they finished
                    ended = train_stacked(
                        [networks[i][fold] for i in active],
                        [params[i] for i in active],
                        data,
                        loss_fn=ctx.loss_fn,
                        score_fns=[functools.partial(self.score, fold=fold)] * len(active),
                        max_epochs=ctx.max_epochs,
                        patience=self.patience,
                        seed=self.trial_seed(trials[0].number),
                        deadline=deadline,
                        time_limits=[time_limit] * len(active),
                        on_epochs=[
                            self._reporter(trials[i], histories[i]) if fold == 0 else None
                            for i in active
                        ],
                    )
                    for i, result in zip(active, ended):
                        if isinstance(result, BaseException):
                            outcomes[i] = result
                        else:
                            results[i].append(result)
        finally:
            seconds = (time.perf_counter() - started) / len(trials)
            for trial in trials:
                trial.set_user_attr(TrialAttr.TRAIN_SECONDS, seconds)
            release_freed_memory()
        values: list[float | BaseException] = []
        for i, trial in enumerate(trials):
            try:
                if i in outcomes:
                    raise outcomes[i]
                value = self.conclude(trial, params[i], results[i], counts[i], histories[i])
            except optuna.TrialPruned as exc:
                values.append(exc)
            except Exception as exc:  # noqa: BLE001 - one member failing ends that member only
                _record_error(trial, exc)
                values.append(exc)
            else:
                values.append(value)  # one objective: batchable() refuses a cost objective
        return values

    def _limits(self, trial: optuna.Trial, *, factor: float = 1.0) -> tuple[float, float | None]:
        """(deadline, time limit per fold) of a trial, or of a batch (``factor`` trials' time)."""
        ctx = self.context
        deadline, time_limit = ctx.deadline, None
        seconds = trial.user_attrs.get(TrialAttr.TRIAL_SECONDS, ctx.trial_seconds)
        if seconds is not None:
            time_limit = factor * seconds / len(ctx.folds)
            deadline = min(deadline, time.monotonic() + TRIAL_HARD_STOP * factor * seconds)
        return deadline, time_limit

    def _reporter(self, trial: optuna.Trial, history: list[dict[str, float]]) -> EpochCallback:
        """The epoch callback of ``trial``: record the epoch, report it, prune if told to.

        A promoted trial (its own trial seconds) and a two-objective search do not report.
        """
        promoted = TrialAttr.TRIAL_SECONDS in trial.user_attrs

        def report(epoch: int, record: dict[str, float]) -> None:
            history.append(record)
            if self.cost_objective is not None or promoted:
                return
            trial.report(record["val_score"], epoch)
            if trial.should_prune():
                trial.set_user_attr(TrialAttr.HISTORY, history)
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        return report

    def _count_params(self, trial: optuna.Trial, networks: Sequence[nn.Module]) -> int:
        """Record the parameters of all of a trial's networks (and the size constraint)."""
        n_params = sum(p.numel() for net in networks for p in net.parameters())
        trial.set_user_attr(TrialAttr.N_PARAMS, n_params)
        if self.max_params is not None:
            trial.set_constraint("max_params", float(n_params - self.max_params))
        return n_params

    def conclude(
        self,
        trial: optuna.Trial,
        params: dict[str, Any],
        results: Sequence[TrainResult],
        n_params: int,
        history: list[dict[str, float]],
    ) -> float | tuple[float, float]:
        """Record a trained trial's attributes, offer its model to the store, return its value."""
        ctx = self.context
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
        short, so the caller keeps the network the search trained; a cut epoch is never
        validated past the deadline (the caller has a model: ``probe``), as that pass over
        the validation rows would be thrown away with the refit.
        """
        seed = self.trial_seed(entry.number)
        epochs = max(1, entry.best_epoch)
        model = self.build(entry.params, seed)
        try:
            result = train(
                model,
                entry.params,
                data,
                loss_fn=self.context.loss_fn,
                score_fn=self.score,
                max_epochs=epochs,
                patience=epochs,
                seed=seed,
                deadline=deadline,
                probe=True,
            )
        except TooSlowForLimit:  # the deadline cut its first epoch
            return None
        finally:
            release_freed_memory()
        return None if result.stopped_by == "time_budget" else result.model


#: Held while a model is built from a seed (:meth:`TrialObjective.build`).
_SEEDING = threading.Lock()


def _own_rng(device: torch.device) -> contextlib.AbstractContextManager:
    """Torch's global random state (and the device's) restored on exit: a trial seeds its own."""
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


def _record_error(trial: optuna.Trial, exc: BaseException) -> None:
    trial.set_user_attr(TrialAttr.ERROR, "".join(traceback.format_exception_only(exc)).strip())
    trial.set_user_attr(
        TrialAttr.TRACEBACK, "".join(traceback.format_exception(exc, limit=5)).strip()
    )


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
